from backend.core.keys import Keys


def test_every_key_starts_with_the_prefix() -> None:
    keys = Keys("team-a:")
    assert keys.consumers("worker") == "team-a:consumers:worker"
    assert keys.consumer("worker:h:1") == "team-a:consumer:worker:h:1"
