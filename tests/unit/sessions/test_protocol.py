from __future__ import annotations

import json

import pytest

from backend.sessions.parsing import parse_message
from backend.sessions.protocol import Cancel, ErrorCode, Ping, ProtocolError, SendQueue


def test_send_defaults() -> None:
    message = parse_message(json.dumps({"type": "send", "text": "hi"}))
    assert message == SendQueue(
        type="send", mode="queue", text="hi", task="uppercase", args={}, ref=None
    )


def test_cancel_and_ping() -> None:
    assert parse_message('{"type":"cancel","id":"j1","ref":3}') == Cancel(
        type="cancel", id="j1", ref=3
    )
    assert parse_message('{"type":"ping"}') == Ping(type="ping")


@pytest.mark.parametrize(
    ("raw", "code", "ref"),
    [
        ("nope", ErrorCode.INVALID_JSON, None),
        ('"text"', ErrorCode.INVALID_MESSAGE, None),
        ('{"type":"dance","ref":"r"}', ErrorCode.UNKNOWN_TYPE, "r"),
        ('{"type":"send","mode":"x","text":"a","ref":1}', ErrorCode.UNKNOWN_MODE, 1),
        ('{"type":"send","text":["a"],"ref":"r"}', ErrorCode.INVALID_MESSAGE, "r"),
        ('{"type":"send","text":"a","ref":true}', ErrorCode.INVALID_MESSAGE, None),
        ('{"type":"send","text":"a","ref":{"deep":1}}', ErrorCode.INVALID_MESSAGE, None),
        ('{"type":"ping","timeout":5,"ref":"r"}', ErrorCode.INVALID_MESSAGE, "r"),
        ('{"type":"send","mode":"pubsub","text":"a","key":"k"}', ErrorCode.INVALID_MESSAGE, None),
        ('{"type":"send","text":"a","key":"","color":1}', ErrorCode.INVALID_KEY, None),
    ],
)
def test_errors_carry_code_and_safe_ref(raw: str, code: ErrorCode, ref: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(raw)
    assert caught.value.code is code
    assert caught.value.ref == ref


def test_field_errors_name_the_field() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message('{"type":"send","text":1}')
    assert caught.value.detail.startswith("text: ")
