from backend.core.events import encode, event_seq


def test_event_seq_reads_the_prefix_emit_writes() -> None:
    body = encode({"type": "result", "result": "é,}"})
    event = '{"seq":1234,' + body[1:]
    assert event_seq(event) == 1234
    assert event == '{"seq":1234,"type":"result","result":"é,}"}'
