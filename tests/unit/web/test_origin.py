import pytest

from backend.web.origin import is_allowed_origin


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "expected"),
    [
        (None, "localhost:8000", [], True),
        ("http://localhost:8000", "localhost:8000", [], True),
        ("http://evil.example", "localhost:8000", [], False),
        ("http://localhost:8001", "localhost:8000", [], False),
        ("https://app.example", "internal:8000", ["https://app.example"], True),
        ("null", "localhost:8000", [], False),
    ],
)
def test_origin_rules(origin: str | None, host: str, allowed: list[str], expected: bool) -> None:
    assert is_allowed_origin(origin, host, allowed) is expected
