from __future__ import annotations

import pytest

from backend.cli import main


def test_wrong_setting_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURIER_PORT", "not-a-port")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("courier: invalid setting COURIER_PORT:")
    assert "\n" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--workers", "-1"], "must be between 0 and 64"),
        (["run", "--port", "0"], "must be between 1 and 65535"),
        (["web", "--port", "x"], "not a whole number"),
        (["fly"], "invalid choice"),
    ],
)
def test_bad_arguments_explain_themselves(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
