"""The one error type for a request the core refuses, whatever carried it (socket or REST)."""

from __future__ import annotations


class Rejected(Exception):
    """A request Courier will not carry out. `code` is the error code both the protocol's
    `error` event and the REST error body carry; `detail` says what a valid request looks like."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
