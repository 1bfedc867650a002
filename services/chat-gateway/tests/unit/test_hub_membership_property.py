"""The hub's slow-client policy and going live, under any interleaving of joins, frames, hellos
finishing, transports pausing and resuming, and leaves: a client whose transport is paused
while it is live (or when it goes live) is dropped, no other client is, and every client gets
each message after its replay exactly once, in order, with no gap, until it leaves or is
dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from chat_gateway.hub import Client
from chat_gateway.protocol import TOO_SLOW

from .conftest import quiet_hub


@dataclass(eq=False)
class FakeWs:
    sent: list[str] = field(default_factory=list)
    closed: tuple[int, str] | None = None
    paused: bool = False
    on_pause: Callable[[], None] | None = None

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


@dataclass
class Model:
    ws: FakeWs
    client: Client
    joined_at: int  # the room's last seq when it joined (its hello replays at least that far)
    replayed: int = 0
    live: bool = False
    left: bool = False
    must_drop: bool = False
    last_seq: int | None = None  # the room's last seq when it left or its drop was decided
    #: the room's last seq when its drop ran (or it left): frames written up to then may arrive
    written_to: int | None = None


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.just(0), st.just(0)),
        st.tuples(st.just("frames"), st.integers(1, 3), st.just(0)),
        st.tuples(st.just("live"), st.integers(0, 7), st.integers(0, 3)),
        st.tuples(st.just("pause"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("resume"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("leave"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("tick"), st.just(0), st.just(0)),
    ),
    max_size=40,
)


def ran(clients: list[Model], last_seq: int) -> None:
    """The loop runs the callbacks next: the drops decided so far run now."""
    for model in clients:
        if model.must_drop and model.written_to is None:
            model.written_to = last_seq


def fake_broadcast(connections: list[FakeWs], message: str) -> None:
    for ws in connections:
        ws.sent.append(message)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_any_interleaving_drops_exactly_the_paused_live_clients_and_keeps_order(
    ops: list[tuple[str, int, int]],
) -> None:
    async def scenario() -> list[Model]:
        hub = quiet_hub()
        room = await hub.room("s")
        clients: list[Model] = []
        for op, a, b in ops:
            target = clients[a % len(clients)] if clients else None
            if op == "join":
                ws = FakeWs()
                client = Client(ws, f"acct{len(clients)}", f"c{len(clients)}")  # type: ignore[arg-type]
                hub.add(room, client)
                clients.append(Model(ws, client, joined_at=room.last_seq))
            elif op == "frames":
                for _ in range(a):
                    hub.deliver(room, room.last_seq + 1, f"m{room.last_seq + 1}")
            elif target is None or target.left:
                continue
            elif op == "live" and not target.live:
                # the hello replayed what the room had when it joined, and maybe a little more
                target.replayed = min(target.joined_at + b, room.last_seq)
                target.live = True
                if target.ws.paused and not target.must_drop:
                    target.must_drop, target.last_seq = True, room.last_seq
                hub.go_live(room, target.client, target.replayed)
            elif op == "pause" and not target.ws.paused:
                target.ws.paused = True
                if target.live and not target.must_drop:
                    target.must_drop, target.last_seq = True, room.last_seq
                assert target.ws.on_pause is not None
                target.ws.on_pause()  # what the transport's write does past the limit
            elif op == "resume" and target.ws.paused:
                target.ws.paused = False
            elif op == "leave":
                target.left = True
                if target.last_seq is None:
                    target.last_seq = room.last_seq
                if target.written_to is None:
                    target.written_to = room.last_seq
                hub.remove(room, target.client)
            if op == "tick":
                ran(clients, room.last_seq)
                await asyncio.sleep(0)
        ran(clients, room.last_seq)
        await asyncio.sleep(0)
        await asyncio.sleep(0)  # the drops, then their closes
        for model in clients:
            if model.last_seq is None:
                model.last_seq = model.written_to = room.last_seq
        return clients

    with patch("chat_gateway.hub.broadcast", fake_broadcast):
        clients = asyncio.run(scenario())
    for model in clients:
        if model.must_drop and not model.left:
            assert model.ws.closed is not None and model.ws.closed[0] == TOO_SLOW, model
        if not model.must_drop:
            assert model.ws.closed is None, model
        if not model.live:
            assert model.ws.sent == [], model
            continue
        got = [int(text[1:]) for text in model.ws.sent]
        assert model.last_seq is not None and model.written_to is not None
        # everything up to its drop or leave; a dropped client may also get the frames written
        # before the drop ran (never a gap, a repeat or a frame out of order)
        assert got[: model.last_seq - model.replayed] == list(
            range(model.replayed + 1, model.last_seq + 1)
        ), model
        assert got == list(range(model.replayed + 1, model.replayed + 1 + len(got))), model
        assert model.replayed + len(got) <= model.written_to, model
