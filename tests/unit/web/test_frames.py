"""A room event is framed once per web process, as websockets itself would frame it."""

from websockets.frames import Frame, Opcode

from backend.web.frames import FrameCache


def test_a_frame_is_what_websockets_sends_for_that_text() -> None:
    cache = FrameCache()
    for text in ["", "hi", "é" * 70, "x" * 70_000]:  # each length encoding: 7, 16 and 64 bits
        assert cache.text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def test_the_same_event_to_many_members_is_framed_once() -> None:
    cache = FrameCache()
    event = "".join(['{"type":"chat",', '"offset":7}'])
    first = cache.text_frame(event)
    assert cache.text_frame(event) is first
    other = "".join(['{"type":"chat",', '"offset":8}'])
    assert cache.text_frame(other) is not first
    assert cache.text_frame(other).endswith(other.encode())
