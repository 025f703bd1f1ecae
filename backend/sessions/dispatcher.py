"""The message dispatcher: carries out one parsed client message (queue and pub/sub sends, cancel,
ping, chat rooms).

Every reply goes out as a session event (numbered by Redis), so replies and results share one
ordered stream. A request that cannot be served raises ProtocolError, which becomes an `error`.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from backend.core.events import SessionEvents
from backend.core.outcomes import NotRun, OutcomeUnknown
from backend.core.rejected import Rejected
from backend.core.sends import check_send
from backend.core.turns import Turn
from backend.sessions.protocol import (
    Cancel,
    Chat,
    ErrorCode,
    Join,
    Leave,
    Ping,
    ProtocolError,
    Request,
    SendPubsub,
    SendQueue,
)
from backend.sessions.ratelimit import TokenBucket
from backend.sessions.roomhub import RoomSink
from backend.sessions.services import Services


class Dispatcher:
    def __init__(self, session: str, services: Services, sink: RoomSink) -> None:
        self.session = session
        self.sink = sink  # where this session's room events go
        self.services = services
        self.rooms = services.hub.rooms
        self.settings = services.settings
        self.events: SessionEvents = services.hub.events
        self.chat_bucket = TokenBucket(self.settings.chat_rate_limit, self.settings.chat_burst)

    async def serve(self, message: Request, turn: Turn) -> None:
        """Carries out the message; its reply is sent in `turn`."""
        self.turn = turn
        try:
            await self._dispatch(message)
        except Rejected as exc:
            raise ProtocolError(ErrorCode(exc.code), exc.detail, message.ref) from None
        except NotRun:
            detail = "Redis is unavailable; nothing was done, try again"
            raise ProtocolError(ErrorCode.UNAVAILABLE, detail, message.ref) from None
        except OutcomeUnknown as exc:
            detail = f"{exc}; it may have been done"
            if exc.job_id is not None:
                detail += f": ask for job {exc.job_id}, or send again with the same key"
            code = ErrorCode.OUTCOME_UNKNOWN
            raise ProtocolError(code, detail, message.ref, exc.job_id) from None
        except RedisError as exc:
            # Redis went away after the request was sent: a publish or a room message may have
            # gone out, so this is not `unavailable` (which promises that nothing was done).
            detail = f"Redis went away while this was carried out ({exc}); it may have been done"
            raise ProtocolError(ErrorCode.OUTCOME_UNKNOWN, detail, message.ref) from None

    async def _dispatch(self, message: Request) -> None:
        match message:
            case SendQueue():
                await self._send_job(message)
            case SendPubsub():
                await self._publish(message)
            case Cancel():
                await self._cancel(message)
            case Ping():
                pong = {"type": "pong", "ref": message.ref}
                await self.turn.send(self.events.reply(self.session, self.turn.id, pong))
            case Join():
                since = (message.offset, message.epoch) if message.epoch is not None else None
                name, sink = message.name, self.sink
                await self.rooms.join(message.room, self.session, name, sink, since)
            case Leave():
                await self._leave(message)
            case Chat():
                await self._chat(message)

    async def _send_job(self, message: SendQueue) -> None:
        check_send(self.services.registry, self.settings, message.task, message.text, message.args)
        await self.services.queue.submit(
            message.task,
            message.text,
            message.args,
            self.session,
            message.ref,
            turn=self.turn,
            options=message.options(),
        )

    async def _publish(self, message: SendPubsub) -> None:
        check_send(self.services.registry, self.settings, message.task, message.text, message.args)
        await self.services.publisher.publish(
            message.topic,
            message.text,
            task=message.task,
            args=message.args,
            session=self.session,
            ref=message.ref,
            turn=self.turn,
        )

    async def _cancel(self, message: Cancel) -> None:
        outcome = await self.services.queue.cancel(message.id, self.session, self.turn)
        if outcome.status is None:
            detail = f"no job {message.id!r} in this session"
            raise ProtocolError(ErrorCode.NOT_FOUND, detail, message.ref)
        if not outcome.cancelled:
            detail = f"job {message.id!r} already {outcome.status.value}"
            raise ProtocolError(ErrorCode.ALREADY_FINISHED, detail, message.ref)

    async def _leave(self, message: Leave) -> None:
        if not await self.rooms.leave(message.room, self.session):
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"not in room {message.room!r}", message.ref)

    async def _chat(self, message: Chat) -> None:
        if not self.chat_bucket.allow():
            wait = self.chat_bucket.retry_after()
            limit = self.settings.chat_rate_limit
            detail = f"more than {limit:g} chat messages/s; retry in {wait:.2f}s"
            raise ProtocolError(ErrorCode.RATE_LIMITED, detail, message.ref)
        text = message.text.strip()
        if not text:
            raise ProtocolError(ErrorCode.INVALID_MESSAGE, "text: must not be empty", message.ref)
        if len(text) > self.settings.chat_max_chars:
            detail = (
                f"message is {len(text)} characters; the limit is {self.settings.chat_max_chars}"
            )
            raise ProtocolError(ErrorCode.TEXT_TOO_LONG, detail, message.ref)
        await self.rooms.chat(message.room, self.session, text, message.ref)
