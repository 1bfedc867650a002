"""One chat-gateway instance: the WebSocket server, the HTTP API, both consumers, the presence
loop, wired in one event loop. ``running(settings)`` is used by ``__main__`` and by tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from websockets.asyncio.server import Server, serve

from chat_gateway.adapters.follows import FollowProjection
from chat_gateway.adapters.mongo import (
    GIFTS,
    INDEXES,
    MESSAGES,
    VIEW,
    ChatProjection,
    ChatStore,
    ConnectionRegistry,
    GiftLedger,
)
from chat_gateway.adapters.mongo_gifts import GIFT_INDEXES, GiftStreaks, GiftTotals
from chat_gateway.adapters.mongo_room_extras import INDEXES as EXTRA_INDEXES
from chat_gateway.adapters.mongo_room_extras import PINS
from chat_gateway.domain.limits import RATE_COLLECTION, Limiter
from chat_gateway.domain.room import RoomState
from chat_gateway.entrypoints import http, ws
from chat_gateway.entrypoints.consumers import fanout_dispatcher, projection_dispatcher
from chat_gateway.history import SharedRecent
from chat_gateway.hub import FanoutConnection, Hub
from chat_gateway.metrics import PRESENCE_SESSIONS
from chat_gateway.protocol import encode
from chat_gateway.service import ChatService, message_frame
from chat_gateway.settings import Settings
from contracts import make_envelope
from contracts.viewer import PresenceEntry, PresenceHeartbeat
from contracts.ws import ChatMessageFrame
from servicekit.auth import JwtVerifier
from servicekit.ratelimit import Budget, MongoRateBudgets, budget_indexes
from servicekit.runtime import ConsumerSpec, Infra, open_infra
from servicekit.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Seconds new connections wait to be announced together (``presence.heartbeat``).
CONNECT_BATCH_S = 0.25


@dataclass
class Gateway:
    settings: Settings
    infra: Infra
    hub: Hub
    service: ChatService
    ws_server: Server
    http_server: uvicorn.Server
    ws_port: int
    http_port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Gateway]:
    holder: dict[str, Hub] = {}
    projection_holder: dict[str, ChatProjection] = {}
    infra = await open_infra(
        settings,
        indexes=[*INDEXES, *GIFT_INDEXES, *EXTRA_INDEXES, *budget_indexes(RATE_COLLECTION)],
        outbox_collections=[MESSAGES, VIEW, GIFTS, PINS],
        consumers=[
            ConsumerSpec(projection_dispatcher(lambda: projection_holder["p"], lambda: follows)),
            ConsumerSpec(
                fanout_dispatcher(lambda: holder["hub"], lambda: projection_holder["p"]),
                queue_suffix="fanout",
                exclusive=True,
                idempotent=False,
            ),
        ],
        instance_id=settings.instance_id,
        start_consuming=False,
    )
    store, projection = ChatStore(infra.db), ChatProjection(infra.db)
    follows = FollowProjection(infra.db)
    projection_holder["p"] = projection
    registry, ledger = ConnectionRegistry(infra.db), GiftLedger(infra.db)

    async def fetch_range(stream_id: str, lo: int, hi: int) -> dict[int, str | None]:
        return {
            d["seq"]: None if d.get("deleted") else encode(message_frame(d))
            for d in await store.between(stream_id, lo, hi)
        }

    hub = holder["hub"] = Hub(
        load_state=projection.load,
        current_seq=store.current_seq,
        fetch_range=fetch_range,
        fill_gaps=store.insert_gaps,
        gap_wait_s=settings.gap_wait_s,
        gap_give_up_s=settings.gap_give_up_s,
        # a client that takes nothing of its hello for as long as a pong may take is dropped
        stalled_sync_s=settings.ping_timeout_s,
    )

    async def recent_frames(stream_id: str, limit: int) -> list[ChatMessageFrame]:
        return [message_frame(d) for d in await store.recent(stream_id, limit)]

    async def state_for(stream_id: str) -> RoomState:
        room = hub.rooms.get(stream_id)
        return room.state if room is not None else await projection.load(stream_id)

    limiter = Limiter(
        MongoRateBudgets(
            infra.db[RATE_COLLECTION], Budget(settings.rate_burst, settings.rate_per_s)
        ),
        settings.abuse_limit,
        settings.abuse_window_s,
    )
    service = ChatService(
        store=store,
        projection=projection,
        ledger=ledger,
        publisher=infra.publisher,
        kick=infra.relay.kick,
        limiter=limiter,
        state_for=state_for,
        streaks=GiftStreaks(infra.db, window_s=settings.gift_streak_window_s),
        totals=GiftTotals(infra.db),
        follows=follows,
    )
    presence = Presence(hub, infra, settings, registry)
    verifier = JwtVerifier.from_settings(settings)

    async def ready() -> tuple[bool, dict[str, str]]:
        return await infra.readiness().run()

    ws_deps = ws.WsDeps(
        hub=hub,
        service=service,
        store=store,
        registry=registry,
        history=SharedRecent(recent_frames),
        verifier=verifier,
        limiter=limiter,
        instance_id=settings.instance_id,
        history_on_connect=settings.history_on_connect,
        max_replay=settings.max_replay,
        on_connect=presence.connected,
        on_disconnect=presence.disconnected,
        ready=ready,
    )
    await infra.broker.start()
    ws_server = await serve(
        ws.handler(ws_deps),
        settings.http_host,
        settings.ws_port,
        process_request=ws.process_request(ws_deps),
        max_size=settings.max_frame_bytes,
        ping_interval=settings.ping_interval_s,
        ping_timeout=settings.ping_timeout_s,
        compression=None,
        # a client whose unsent bytes pass its send buffer is dropped (the hub hears of it)
        create_connection=FanoutConnection,
        write_limit=settings.send_buffer_bytes,
        close_timeout=5,
        backlog=settings.ws_backlog,
    )
    app = http.create_app(infra.readiness(), settings.admission)
    app.state.service, app.state.registry, app.state.jwt_verifier = service, registry, verifier
    http_server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    http_task = asyncio.create_task(http_server.serve())
    while not http_server.started:
        if http_task.done():
            http_task.result()
        await asyncio.sleep(0.01)
    presence.start()
    registry.start()
    gateway = Gateway(
        settings,
        infra,
        hub,
        service,
        ws_server,
        http_server,
        ws_server.sockets[0].getsockname()[1],
        http_server.servers[0].sockets[0].getsockname()[1],
    )
    try:
        yield gateway
    finally:
        ws_server.close(close_connections=True)  # clients get 1001 (going away)
        await ws_server.wait_closed()
        http_server.should_exit = True
        await http_task
        await presence.stop()
        await registry.stop()
        await service.flush()
        await infra.close()


class Presence:
    """Publishes ``presence.heartbeat`` (open chat connections count as watching) and keeps the
    connection registry fresh."""

    def __init__(
        self, hub: Hub, infra: Infra, settings: Settings, registry: ConnectionRegistry
    ) -> None:
        self.hub, self.infra, self.settings, self.registry = hub, infra, settings, registry
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._batched: dict[tuple[str, str, str], bool] = {}  # session -> ended
        self._batch_open = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        await cancel_and_wait([self._task, *self._sends])

    def connected(self, stream_id: str, account_id: str, session_id: str) -> None:
        """Announce a new viewer soon: connects within ``CONNECT_BATCH_S`` share one heartbeat
        (a connection storm is a few messages, not one per socket)."""
        self._batch((stream_id, account_id, session_id), ended=False)

    def disconnected(self, stream_id: str, account_id: str, session_id: str) -> None:
        """Announce soon that a connection closed: viewer-svc ends its session at once instead
        of at the presence timeout (batched like connects)."""
        self._batch((stream_id, account_id, session_id), ended=True)

    def _batch(self, session: tuple[str, str, str], *, ended: bool) -> None:
        self._batched[session] = ended  # the newest news of a session wins
        if not self._batch_open:
            self._batch_open = True
            task = asyncio.get_running_loop().create_task(self._publish_batch())
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _publish_batch(self) -> None:
        await asyncio.sleep(CONNECT_BATCH_S)
        batch, self._batched, self._batch_open = self._batched, {}, False
        await self._publish(sorted(s for s, ended in batch.items() if not ended))
        await self._publish(sorted(s for s, ended in batch.items() if ended), ended=True)

    async def _publish(self, sessions: list[tuple[str, str, str]], *, ended: bool = False) -> None:
        """Each open connection is one presence session (its connection id) of its account;
        ``ended``: these connections closed."""
        for start in range(0, len(sessions), 500):
            chunk = sessions[start : start + 500]
            event = PresenceHeartbeat(
                instance_id=self.settings.instance_id,
                seen_at=datetime.now(UTC),
                entries=[
                    PresenceEntry(stream_id=s, account_id=a, session_id=c, ended=ended)
                    for s, a, c in chunk
                ],
            )
            try:
                await self.infra.publisher.publish(make_envelope(event, producer="chat-gateway"))
            except Exception as exc:
                log.warning("presence heartbeat not published: %s", repr(exc)[:200])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.presence_interval_s)
            sessions = sorted(
                {
                    (r.stream_id, c.account_id, c.conn_id)
                    for r in self.hub.rooms.values()
                    for c in r.clients
                }
            )
            PRESENCE_SESSIONS.set(len(sessions))
            await self._publish(sessions)
            try:
                await self.registry.refresh(
                    self.settings.instance_id,
                    datetime.now(UTC),
                    stale_after_s=self.settings.presence_interval_s * 6,
                )
            except Exception as exc:
                log.warning("connection registry refresh failed: %s", repr(exc)[:200])
