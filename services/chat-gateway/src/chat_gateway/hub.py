"""Rooms of connected clients on this instance, and ordered fan-out to them.

Every frame of a room goes out through :func:`broadcast` (``websockets``' ``broadcast()`` with
the frame built once: one encoding and one serialized frame, written to every connection's
transport without awaiting it) over the room's set of live sockets, kept up to date on join and
leave so a send does no per-client Python work of its own. Slow clients never
slow the others: a connection's write limit is the send buffer (``send_buffer_bytes``), so the
transport calls its ``pause_writing()`` (asyncio's flow control) the moment its unsent bytes
pass it; :class:`FanoutConnection` tells the hub, which drops that client (close 4009) before
the next frame. Finding slow clients costs nothing per frame and nothing per client: only the
slow ones are touched (a scan of every client every 0.1 s cost 2.5 ms a scan at 5,000 viewers).
A client still syncing is written to by awaited sends (its hello), which wait for the buffer:
it is dropped if its transport stays paused ``stalled_sync_s`` (the room's frames are held for
it meanwhile, and the keepalive's ping cannot time out: it waits for the buffer as well).

Chat messages carry a per-stream sequence number. A room delivers them strictly in order, each
once: a message that arrives ahead of a missing one waits in a buffer; if the missing one does
not arrive within ``gap_wait_s`` it is read from storage. Numbers still missing ``gap_give_up_s``
after the room first saw them missing (a poster that died, or a counter increment the database
applied after its client gave up during a stall) are all filled with gap markers in one write
and the room moves on: after a database stall, delivery resumes in one pass instead of waiting
for each missing number in turn (issue 17). Filling early is safe: a poster still holding such
a number finds it taken when it stores and takes the next number instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import broadcast as framed_broadcast
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from chat_gateway.domain.room import Role, RoomState
from chat_gateway.metrics import FRAMES_SENT, SLOW_DROPPED, SOCKETS
from chat_gateway.protocol import TOO_SLOW
from servicekit.catchup import CatchUp
from servicekit.tracing import traced
from servicekit.unavailable import unavailable_dependency

log = logging.getLogger(__name__)

#: How long a close may take to be written before the connection is aborted (s).
CLOSE_TIMEOUT_S = 5.0


class Connection(Protocol):
    """The part of :class:`FanoutConnection` the hub uses."""

    transport: Any
    #: ``websockets``' protocol state machine (its ``state`` and ``extensions``)
    protocol: Any
    #: set while a fragmented message is being sent (``websockets``)
    send_in_progress: Any
    logger: Any
    #: ``True`` while the transport holds more unsent bytes than the write limit
    paused: bool
    #: called when the transport pauses writing (the hub sets it)
    on_pause: Callable[[], None] | None

    async def send(self, message: str) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class FanoutConnection(ServerConnection):
    """A ``websockets`` server connection that reports asyncio's ``pause_writing()`` (its
    unsent bytes passed the write limit) to ``on_pause``: the hub drops the client then, without
    looking at every client's buffer. Serve with ``create_connection=FanoutConnection`` and
    ``write_limit=send_buffer_bytes``."""

    on_pause: Callable[[], None] | None = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.on_pause is not None:
            self.on_pause()


def broadcast(connections: Iterable[Connection], text: str) -> None:
    """Send ``text`` as one Text frame to every open connection, without awaiting: what
    ``websockets.asyncio.connection.broadcast()`` does, with the frame serialized once instead
    of once per connection (there, each connection builds a ``Frame`` and copies the payload
    into a new frame: building it once cut the gateway's CPU per frame by a quarter at 1,000
    viewers, 5.3 → 4.0 µs, in the fan-out benchmark).

    A server's frames are not masked (RFC 6455 §5.1), so without extensions the bytes of a frame
    are the same on every connection; a connection that negotiated one (permessage-deflate) gets
    a frame of its own from ``websockets``. As ``broadcast()`` does, connections that are not
    OPEN (a closing handshake in progress) are skipped, and so are connections in the middle of
    a fragmented message (the hub never sends one); a failed write is logged and the others go
    on. Writing to the transport directly is safe because ``websockets`` writes every frame of
    its own whole and synchronously (``send_data()`` right after each protocol call)."""
    payload = text.encode()
    frame = Frame(Opcode.TEXT, payload).serialize(mask=False)
    for connection in connections:
        if connection.protocol.state is not State.OPEN:
            continue
        if connection.send_in_progress is not None:  # as websockets' broadcast() says it
            connection.logger.warning("skipped broadcast: sending a fragmented message")
            continue
        try:
            if connection.protocol.extensions:
                framed_broadcast([connection], payload, text=True)  # type: ignore[list-item]
            else:
                connection.transport.write(frame)
        except Exception:  # as broadcast(): one broken connection does not stop the others
            log.warning("broadcast: write failed", exc_info=True)


@dataclass(eq=False)
class Client:
    ws: Connection
    account_id: str
    conn_id: str
    role: Role = "viewer"
    live: bool = False
    pending: list[tuple[int | None, str]] = field(default_factory=list)
    paused_at: float | None = None  # loop time its transport last paused while syncing


@dataclass(eq=False)
class Room:
    state: RoomState
    last_seq: int
    clients: set[Client] = field(default_factory=set)
    syncing: set[Client] = field(default_factory=set)
    sockets: set[Connection] = field(default_factory=set)  # of the live clients
    waiting: dict[int, str | None] = field(default_factory=dict)
    gap_task: asyncio.Task[None] | None = None
    #: ``StreamUpdated.order`` (version, updated_at) of the newest ``stream.updated`` announced
    #: (older ones arriving late are not announced over it)
    described: tuple[int, datetime] | None = None
    gap_since: float | None = None  # loop time the current gap was first seen

    @property
    def stream_id(self) -> str:
        return self.state.stream_id


#: Reads stored messages ``lo..hi`` as ``{seq: frame text | None}`` (None: deleted or a gap).
FetchRange = Callable[[str, int, int], Awaitable[dict[int, str | None]]]
#: Stores gap markers for the given sequence numbers of a stream (numbers already stored stay).
FillGaps = Callable[[str, list[int]], Awaitable[None]]


class Hub:
    def __init__(
        self,
        *,
        load_state: Callable[[str], Awaitable[RoomState]],
        current_seq: Callable[[str], Awaitable[int]],
        fetch_range: FetchRange,
        fill_gaps: FillGaps,
        gap_wait_s: float = 0.2,
        gap_give_up_s: float = 1.0,
        stalled_sync_s: float = 20.0,
    ) -> None:
        self._rooms: CatchUp[str, Room] = CatchUp()
        self.rooms: dict[str, Room] = self._rooms.live  # the live rooms (shared dict)
        self._load_state = load_state
        self._current_seq = current_seq
        self._fetch_range = fetch_range
        self._fill_gaps = fill_gaps
        self._gap_wait = gap_wait_s
        self._gap_give_up = gap_give_up_s
        self._stalled_sync = stalled_sync_s
        self.dropped_slow = 0

    # ---- membership -------------------------------------------------------------------------

    async def room(self, stream_id: str) -> Room:
        """The room, loaded (state and current sequence) on first use. Events for the room that
        arrive while it loads are buffered and replayed onto the snapshot
        (:class:`servicekit.catchup.CatchUp`), so none is lost."""

        async def load() -> Room:
            return Room(await self._load_state(stream_id), await self._current_seq(stream_id))

        return await self._rooms.get(stream_id, load)

    async def apply(self, stream_id: str, change: Callable[[Room], Awaitable[None]]) -> bool:
        """Run ``change`` on the room if this instance holds it (buffered while it loads);
        ``False`` if it holds no such room."""
        return await self._rooms.apply(stream_id, change)

    def add(self, room: Room, client: Client) -> None:
        """Join a room in *syncing* mode: frames are held until :meth:`go_live`."""
        if client not in room.clients:
            SOCKETS.inc()
        room.clients.add(client)
        room.syncing.add(client)
        client.ws.on_pause = lambda: self._paused(room, client)

    def go_live(self, room: Room, client: Client, replayed_up_to: int) -> None:
        """Write the frames held while syncing that the client still needs (messages after what
        the hello replayed), in order, without awaiting (no newer frame can pass them); the
        client then receives frames directly."""
        held = [text for seq, text in client.pending if seq is None or seq > replayed_up_to]
        client.pending.clear()
        client.live = True
        if client not in room.clients:  # dropped meanwhile
            return
        room.syncing.discard(client)
        room.sockets.add(client.ws)
        for text in held:
            broadcast([client.ws], text)
        if client.ws.paused:  # over its send buffer already (held frames, replay)
            self._paused(room, client)

    def _paused(self, room: Room, client: Client) -> None:
        """The client's unsent bytes passed its send buffer: once live, it is dropped, after the
        ``broadcast()`` in progress (which iterates over the room's sockets). A syncing client
        is written to by awaited sends, which wait for the buffer; it is dropped if it is still
        paused ``stalled_sync_s`` later (the keepalive's ping waits for the buffer too, so its
        timeout never starts, and the room's frames pile up in ``pending`` meanwhile)."""
        loop = asyncio.get_running_loop()
        if client.live:
            loop.call_soon(self._drop_slow, room, client)
        else:
            client.paused_at = loop.time()
            loop.call_later(self._stalled_sync, self._drop_stalled, room, client)

    @staticmethod
    def _detach(room: Room, client: Client) -> None:
        if client in room.clients:
            SOCKETS.dec()
        room.clients.discard(client)
        room.syncing.discard(client)
        room.sockets.discard(client.ws)

    def remove(self, room: Room, client: Client) -> None:
        self._detach(room, client)
        if not room.clients and self.rooms.get(room.stream_id) is room:
            if room.gap_task is not None:
                room.gap_task.cancel()
            del self.rooms[room.stream_id]

    # ---- fan-out ----------------------------------------------------------------------------

    @traced("chat room send")
    def send(self, room: Room, text: str, seq: int | None = None) -> None:
        """One frame to everybody in the room (syncing clients hold it)."""
        for client in room.syncing:
            client.pending.append((seq, text))
        if room.sockets:
            broadcast(room.sockets, text)
            FRAMES_SENT.inc(len(room.sockets))

    def _drop_stalled(self, room: Room, client: Client) -> None:
        paused_at = client.paused_at
        if client not in room.syncing or not client.ws.paused or paused_at is None:
            return  # live (then dropped as such if paused), resumed, left or dropped meanwhile
        if asyncio.get_running_loop().time() - paused_at >= self._stalled_sync * 0.99:
            self._drop(room, client)  # else paused again since: that pause checks it

    def _drop_slow(self, room: Room, client: Client) -> None:
        if client.ws not in room.sockets:  # left or dropped meanwhile
            return
        self._drop(room, client)

    def _drop(self, room: Room, client: Client) -> None:
        self.dropped_slow += 1
        SLOW_DROPPED.inc()
        self._detach(room, client)
        asyncio.get_running_loop().create_task(
            _close_quietly(client.ws, TOO_SLOW, "too slow: send buffer full")
        )

    def deliver(self, room: Room, seq: int, text: str | None) -> None:
        """A sequenced chat frame (``None``: a deleted message or gap, only advances)."""
        if seq <= room.last_seq:
            return
        room.waiting[seq] = text
        self._drain(room)
        if room.waiting and room.gap_since is None:
            room.gap_since = asyncio.get_running_loop().time()
        if room.waiting and room.gap_task is None:
            room.gap_task = asyncio.get_running_loop().create_task(self._fill(room))

    def _drain(self, room: Room) -> None:
        while room.last_seq + 1 in room.waiting:
            room.last_seq += 1
            text = room.waiting.pop(room.last_seq)
            if text is not None:
                self.send(room, text, room.last_seq)

    async def _fill(self, room: Room) -> None:
        loop = asyncio.get_running_loop()
        try:
            while room.waiting and room.clients:
                await asyncio.sleep(self._gap_wait)
                if not room.waiting:
                    break
                if room.gap_since is None:
                    room.gap_since = loop.time()
                lo, hi = room.last_seq + 1, max(room.waiting)
                await self._read_range(room, lo, hi)
                missing = [seq for seq in range(lo, hi) if seq not in room.waiting]
                if missing and loop.time() - room.gap_since >= self._gap_give_up:
                    log.warning(
                        "filling %d missing sequence numbers of %s (%d..%d)",
                        len(missing),
                        room.stream_id,
                        missing[0],
                        missing[-1],
                    )
                    await self._fill_gaps(room.stream_id, missing)
                    await self._read_range(room, missing[0], missing[-1])
                self._drain(room)
                if not room.waiting:
                    room.gap_since = None
        except Exception as exc:
            if unavailable_dependency(exc) is None:
                log.exception("filling a sequence gap failed", extra={"stream_id": room.stream_id})
            else:
                log.warning("sequence gap of %s: database unavailable: %r", room.stream_id, exc)
        finally:
            room.gap_task = None
            if room.waiting and room.clients:
                room.gap_task = loop.create_task(self._fill(room))
            else:
                room.gap_since = None

    async def _read_range(self, room: Room, lo: int, hi: int) -> None:
        if hi >= lo:
            for seq, text in (await self._fetch_range(room.stream_id, lo, hi)).items():
                if seq > room.last_seq:
                    room.waiting.setdefault(seq, text)

    # ---- targeted ---------------------------------------------------------------------------

    async def close_account(
        self, room: Room, account_id: str, code: int, reason: str, last_frame: str | None = None
    ) -> int:
        """Close every connection of ``account_id`` in the room (after ``last_frame``)."""
        targets = [c for c in room.clients if c.account_id == account_id]
        for client in targets:
            self._detach(room, client)
            if last_frame is not None:  # not waiting longer than a close for its buffer
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.ws.send(last_frame), CLOSE_TIMEOUT_S)
        await asyncio.gather(*(_close_quietly(c.ws, code, reason) for c in targets))
        return len(targets)

    def refresh_roles(self, room: Room) -> None:
        for client in room.clients:
            client.role = room.state.role(client.account_id)


async def _close_quietly(ws: Connection, code: int, reason: str) -> None:
    try:
        await asyncio.wait_for(ws.close(code, reason), CLOSE_TIMEOUT_S)
    except Exception:  # the close frame could not even be written: the peer takes nothing
        with contextlib.suppress(Exception):
            ws.transport.abort()  # ends the sends waiting for its buffer (and the handler)
