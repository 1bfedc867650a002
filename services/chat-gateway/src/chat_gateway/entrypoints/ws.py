"""``WS /ws/live/{stream_id}``: the chat socket (``websockets`` asyncio server).

Connect with ``Authorization: Bearer <jwt>`` or ``?token=<jwt>``; ``?last_seq=N`` resumes after
message N. See the service README for frames and close codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from chat_gateway.adapters.mongo import ChatStore, ConnectionRegistry
from chat_gateway.domain.limits import Limiter
from chat_gateway.history import SharedRecent
from chat_gateway.hub import Client, FanoutConnection, Hub, Room
from chat_gateway.protocol import (
    BANNED,
    RATE_LIMITED,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
    UNAVAILABLE,
    UNKNOWN_STREAM,
    ProtocolError,
    decode,
    encode,
    error_frame,
)
from chat_gateway.sequencer import SendOrder
from chat_gateway.service import ChatService, Refused, message_frame
from contracts.ws import (
    ChatAck,
    ChatDelete,
    ChatMessageDeletedFrame,
    ChatMessageFrame,
    ChatSend,
    FollowersOnlySet,
    Hello,
    Ping,
    Pong,
    SlowModeSet,
)
from servicekit.auth import AuthError, JwtVerifier
from servicekit.logs import REQUEST_ID_HEADER, accepted_correlation_id, set_correlation_id
from servicekit.parsing import ascii_int
from servicekit.replay import IdempotencyKeyReused
from servicekit.tracing import traced_items
from servicekit.unavailable import RETRY_AFTER_S, unavailable_dependency

log = logging.getLogger(__name__)
PREFIX = "/ws/live/"


@dataclass(frozen=True, slots=True)
class WsDeps:
    hub: Hub
    service: ChatService
    store: ChatStore
    registry: ConnectionRegistry
    history: SharedRecent[ChatMessageFrame]
    verifier: JwtVerifier
    limiter: Limiter
    instance_id: str
    history_on_connect: int
    max_replay: int
    on_connect: Callable[[str, str, str], None]  # (stream, account, connection id)
    on_disconnect: Callable[[str, str, str], None]  # the same, when the connection closes
    ready: Callable[[], Awaitable[tuple[bool, dict[str, str]]]]


def _json(status: HTTPStatus, body: str) -> Response:
    return Response(
        status.value, status.phrase, Headers({"Content-Type": "application/json"}), body.encode()
    )


def process_request(
    deps: WsDeps,
) -> Callable[[ServerConnection, Request], Awaitable[Response | None]]:
    """Health routes on the WebSocket port, and 404 for paths that are not a chat room."""

    async def handle(_: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return _json(HTTPStatus.OK, '{"status": "ok"}')
        if path == "/readyz":
            ok, checks = await deps.ready()
            import json

            return _json(
                HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE,
                json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}),
            )
        if not path.startswith(PREFIX) or len(path) == len(PREFIX) or "/" in path[len(PREFIX) :]:
            return _json(HTTPStatus.NOT_FOUND, '{"error": "not_found", "message": "no such route"}')
        return None

    return handle


def _token(ws: ServerConnection, query: dict[str, list[str]]) -> str:
    auth = ws.request.headers.get("Authorization", "") if ws.request else ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return (query.get("token") or [""])[0]


def handler(deps: WsDeps) -> Callable[[ServerConnection], Awaitable[None]]:
    async def serve(ws: ServerConnection) -> None:
        if not isinstance(ws, FanoutConnection):  # the hub would never hear of a slow client
            raise TypeError("serve chat with create_connection=FanoutConnection")
        # the gateway's X-Request-ID, so the session's logs carry the id of its upgrade request
        # (every value: .get() raises on a repeated header)
        sent = ws.request.headers.get_all(REQUEST_ID_HEADER) if ws.request else []
        set_correlation_id(accepted_correlation_id(*sent))
        url = urlsplit(ws.request.path if ws.request else "")
        stream_id, query = url.path[len(PREFIX) :], parse_qs(url.query)
        try:
            principal = await deps.verifier.verify_async(_token(ws, query))
        except AuthError as exc:
            await ws.close(UNAUTHORIZED, str(exc)[:120])
            return
        try:
            room = await deps.hub.room(stream_id)
        except Exception as exc:
            if unavailable_dependency(exc) is None:
                raise
            log.warning("chat connect refused, database unavailable: %r", exc)
            await ws.close(TRY_AGAIN_LATER, "unavailable; retry shortly")
            return
        account = principal.account_id
        if not room.state.known:
            deps.hub.remove(room, Client(ws, account, ""))  # forget an empty room we just loaded
            await ws.close(UNKNOWN_STREAM, "no such stream")
            return
        from datetime import UTC, datetime

        if room.state.ban_of(account, datetime.now(UTC)) is not None:
            deps.hub.remove(room, Client(ws, account, ""))
            await ws.close(BANNED, "you are banned from this stream")
            return
        client = Client(ws, account, f"c_{secrets.token_hex(8)}", room.state.role(account))
        deps.hub.add(room, client)
        try:
            deps.registry.add(
                client.conn_id, deps.instance_id, stream_id, account, datetime.now(UTC)
            )
            deps.on_connect(stream_id, account, client.conn_id)
            await _hello(ws, room, client, query, deps)
            await _frames(ws, room, client, deps)
        except ConnectionClosed:
            pass
        except Exception as exc:
            if unavailable_dependency(exc) is None:
                raise
            log.warning("chat connect refused, database unavailable: %r", exc)
            await ws.close(TRY_AGAIN_LATER, "unavailable; retry shortly")
        finally:
            deps.hub.remove(room, client)
            deps.registry.remove(client.conn_id)
            deps.on_disconnect(stream_id, account, client.conn_id)

    return serve


async def _hello(
    ws: ServerConnection, room: Room, client: Client, query: dict[str, list[str]], deps: WsDeps
) -> None:
    """Send the room's state and the recent (or missed) messages, then go live without a gap
    or a repeat: frames that arrived meanwhile are held and only those after the replay sent."""
    last_seen = (query.get("last_seq") or [""])[0]
    reset = False
    deleted: list[str] = []
    stale_seqs: dict[str, int] = {}
    after = ascii_int(last_seen)
    # the stored counter is read only for a cursor ahead of the room (a fresh connect does no
    # database read of its own: connection storms, issue 17)
    if last_seen and (
        after is None
        or (after > room.last_seq and after > await deps.store.current_seq(room.stream_id))
    ):
        # a cursor the room never reached (another room's, a reset room's, one too long to be
        # a sequence number) or no cursor at all ("-1", "abc", "١٢"): start afresh with the
        # room's real cursor and say so, so a client never appends the recent messages to what
        # it holds, and later messages never carry lower numbers than the client's
        after, reset = 0, True
        frames = await deps.history.recent(room.stream_id, deps.history_on_connect)
    elif after is not None:
        missed = await deps.store.after(room.stream_id, after, deps.max_replay + 1)
        if len(missed) > deps.max_replay:
            reset = True
            frames = await deps.history.recent(room.stream_id, deps.history_on_connect)
        else:
            frames = [message_frame(d) for d in missed]
            stale = await deps.store.deleted_ids(room.stream_id, max(1, after - 200), after)
            deleted = [d["_id"] for d in stale]
            stale_seqs = {d["_id"]: d["seq"] for d in stale}
    else:
        after, frames = 0, await deps.history.recent(room.stream_id, deps.history_on_connect)
    replayed_up_to = max([after, *(f.seq for f in frames)])
    state = room.state
    hello = Hello(
        stream_id=room.stream_id,
        status=state.status,
        viewer_count=state.viewer_count,
        slow_mode_s=state.slow_mode_s,
        followers_only=state.followers_only,
        min_follow_minutes=state.min_follow_minutes,
        last_seq=max(room.last_seq, replayed_up_to),
        messages=frames,
        role=client.role,
        reset=reset,
        pin=state.pin.shown(datetime.now(UTC)),
    )
    await ws.send(encode(hello))
    for message_id in deleted:
        await ws.send(
            encode(ChatMessageDeletedFrame(message_id=message_id, seq=stale_seqs[message_id]))
        )
    deps.hub.go_live(room, client, replayed_up_to)


#: Frames read and handled at once (each stamped with its arrival time): a sender's posts go
#: to the room's group commit together (issue 18). Beyond it the socket is not read (TCP
#: back-pressure on the sender).
IN_FLIGHT = 256

#: What handling a frame gives: the reply to send (if any), and ``False`` when the client is to
#: be closed for abuse.
Outcome = tuple[str | None, bool]


async def _frames(ws: ServerConnection, room: Room, client: Client, deps: WsDeps) -> None:
    """Handle the client's frames, replies in the order the frames came. Frames are read (and
    stamped with their arrival time, which the rate budget charges) while earlier ones are
    handled, so frames held back by a slow database do not count as a burst. Posts are handled
    concurrently (up to ``IN_FLIGHT``) so one sender's burst shares the room's writes
    (issue 18), yet they are numbered in the order sent (``SendOrder``); any other frame waits
    for the frames before it. One task reads and starts the handling; this one replies (two
    per socket, as before the pipelining: memory per idle socket is what a storm costs)."""
    handling: asyncio.Queue[asyncio.Task[Outcome] | None] = asyncio.Queue(IN_FLIGHT)
    reader = asyncio.create_task(_read_all(ws, handling, room, client, deps))
    try:
        while (task := await handling.get()) is not None:
            reply, keep_open = await task
            if reply is not None:
                await ws.send(reply)
            if not keep_open:
                await _close_abusive(ws, reader)
                return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        while not handling.empty():
            if (task := handling.get_nowait()) is not None:
                task.cancel()


async def _read_all(
    ws: ServerConnection,
    handling: asyncio.Queue[asyncio.Task[Outcome] | None],
    room: Room,
    client: Client,
    deps: WsDeps,
) -> None:
    previous: asyncio.Task[Outcome] | None = None
    order: SendOrder | None = None
    try:
        async for item in traced_items(
            _received(ws), "WS /ws/live receive", attributes=_span_attrs(room)
        ):
            arrived, raw = item
            if _is_send(raw):
                order = SendOrder(order)
                task = asyncio.create_task(_handle(room, client, deps, raw, arrived, order))
            else:
                task = asyncio.create_task(_after(previous, room, client, deps, raw, arrived))
            previous = task
            await handling.put(task)  # full: the socket is not read (TCP back-pressure)
    except BaseException:
        # cancelled (the socket is being closed): never wait for room in the queue here,
        # nobody drains it any more
        with contextlib.suppress(asyncio.QueueFull):
            handling.put_nowait(None)
        raise
    await handling.put(None)  # the client closed: the replier ends after the last reply


async def _received(ws: ServerConnection) -> AsyncIterator[tuple[datetime, Any]]:
    """The client's frames, each with the time it was read."""
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            yield datetime.now(UTC), raw


async def _after(
    previous: asyncio.Task[Outcome] | None,
    room: Room,
    client: Client,
    deps: WsDeps,
    raw: Any,
    arrived: datetime,
) -> Outcome:
    if previous is not None:  # whatever became of the frame before, this one is handled next
        try:
            await asyncio.shield(previous)
        except asyncio.CancelledError:
            this = asyncio.current_task()
            if this is not None and this.cancelling():
                raise  # this frame itself is cancelled (the socket is closing)
        except Exception:  # noqa: S110 (the frame before replies with its own error)
            pass
    return await _handle(room, client, deps, raw, arrived)


async def _close_abusive(ws: ServerConnection, reader: asyncio.Task[None]) -> None:
    reader.cancel()
    # close without waiting here: the handshake needs this loop to keep reading
    closing = asyncio.create_task(ws.close(RATE_LIMITED, "rate limited too often"))
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass
    await closing


def _is_send(raw: Any) -> bool:
    return isinstance(raw, str) and '"chat.send"' in raw


async def _handle(
    room: Room,
    client: Client,
    deps: WsDeps,
    raw: Any,
    arrived: datetime,
    order: SendOrder | None = None,
) -> Outcome:
    """One frame: ``(reply, keep_open)``."""
    try:
        frame = decode(raw)
        if isinstance(frame, ChatSend):
            posted = await deps.service.post(
                room.stream_id,
                client.account_id,
                frame.message,
                frame.client_msg_id,
                arrived,
                order,
            )
            ack = ChatAck(
                client_msg_id=frame.client_msg_id, message_id=posted.message_id, seq=posted.seq
            )
            return encode(ack), True
        if isinstance(frame, ChatDelete):
            if not await deps.service.delete(room.stream_id, frame.message_id, client.account_id):
                raise Refused("not_found", "no such message (or already deleted)", 404)
        elif isinstance(frame, SlowModeSet):
            await deps.service.set_slow_mode(room.stream_id, frame.interval_s, client.account_id)
        elif isinstance(frame, FollowersOnlySet):
            await deps.service.set_followers_only(
                room.stream_id, frame.enabled, frame.min_follow_minutes, client.account_id
            )
        elif isinstance(frame, Ping):
            return encode(Pong(nonce=frame.nonce)), True
    except ProtocolError as exc:
        return error_frame(exc, _cmid(raw)), True
    except IdempotencyKeyReused as exc:
        return error_frame(ProtocolError(exc.code, exc.message), _cmid(raw)), True
    except Refused as exc:
        reply = error_frame(
            ProtocolError(exc.reason, str(exc)), _cmid(raw), exc.retry_after_s, exc.details
        )
        return reply, not (exc.abusive and deps.limiter.refused(client.account_id))
    except Exception as exc:
        dependency = unavailable_dependency(exc)
        if dependency is None:
            raise
        log.warning("chat frame refused, %s unavailable: %r", dependency, exc)
        return error_frame(_unavailable(dependency), _cmid(raw), float(RETRY_AFTER_S)), True
    finally:
        if order is not None:
            order.done()
    return None, True


def _unavailable(dependency: str) -> ProtocolError:
    return ProtocolError(
        UNAVAILABLE, f"the {dependency} is unavailable; retry in {RETRY_AFTER_S} s"
    )


def _span_attrs(room: Room) -> dict[str, str]:
    return {"livecast.stream_id": room.stream_id}


def _cmid(raw: Any) -> str | None:
    if isinstance(raw, str) and '"client_msg_id"' in raw:
        import json

        with contextlib.suppress(ValueError, AttributeError):
            value = json.loads(raw).get("client_msg_id")
            return value if isinstance(value, str) else None
    return None
