"""The hub's ordering, gap filling and slow-client policy, with fake connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymongo.errors import AutoReconnect

from chat_gateway.domain.room import RoomState
from chat_gateway.hub import Client, Hub


@dataclass(eq=False)
class FakeWs:
    """Enough of a websockets connection for ``broadcast()`` and the hub; ``pause()`` is what
    asyncio does when its unsent bytes pass the write limit (``FanoutConnection``)."""

    sent: list[str] = field(default_factory=list)
    closed: tuple[int, str] | None = None
    paused: bool = False
    on_pause: Callable[[], None] | None = None
    pause_after: int | None = None  # frames written before the transport pauses

    def pause(self) -> None:
        self.paused = True
        if self.on_pause is not None:
            self.on_pause()

    # broadcast() writes frames through the connection's protocol; the hub only needs these:
    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


def make_hub(
    stored: dict[int, str | None] | None = None,
    gaps: list[int] | None = None,
    fills: list[list[int]] | None = None,
    down_until: list[float] | None = None,
    gap_wait_s: float = 0.01,
    gap_give_up_s: float = 0.05,
    stalled_sync_s: float = 20.0,
) -> Hub:
    """A hub over ``stored`` (seq -> frame text, None: deleted); ``gaps`` collects every filled
    number, ``fills`` every fill call; while ``loop.time() < down_until[0]`` reads fail as a
    stalled database does."""
    stored = stored if stored is not None else {}
    filled = gaps if gaps is not None else []
    calls = fills if fills is not None else []

    async def load(stream_id: str) -> RoomState:
        return RoomState(stream_id, owner_id="owner")

    async def current(_: str) -> int:
        return 0

    async def fetch(_: str, lo: int, hi: int) -> dict[int, str | None]:
        if down_until and asyncio.get_running_loop().time() < down_until[0]:
            raise AutoReconnect("connection closed")
        return {s: t for s, t in stored.items() if lo <= s <= hi}

    async def fill(_: str, seqs: list[int]) -> None:
        calls.append(list(seqs))
        for seq in seqs:
            if seq not in stored:
                filled.append(seq)
                stored[seq] = None

    return Hub(
        load_state=load,
        current_seq=current,
        fetch_range=fetch,
        fill_gaps=fill,
        gap_wait_s=gap_wait_s,
        gap_give_up_s=gap_give_up_s,
        stalled_sync_s=stalled_sync_s,
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[int, list[str]]:
    """Capture broadcast() per fake connection id."""
    out: dict[int, list[str]] = {}

    def fake_broadcast(connections: list[FakeWs], message: str) -> None:
        for ws in connections:
            out.setdefault(id(ws), []).append(message)
            ws.sent.append(message)
            if ws.pause_after is not None and len(ws.sent) >= ws.pause_after and not ws.paused:
                ws.pause()  # inside the iteration, as the transport's write calls it

    monkeypatch.setattr("chat_gateway.hub.broadcast", fake_broadcast)
    return out


async def live_client(hub: Hub, stream: str = "s") -> tuple[FakeWs, Client]:
    room = await hub.room(stream)
    ws = FakeWs()
    client = Client(ws, "acct", "c1")  # type: ignore[arg-type]
    hub.add(room, client)
    hub.go_live(room, client, 0)
    return ws, client


async def test_out_of_order_messages_are_delivered_in_sequence(sent: dict[int, list[str]]) -> None:
    hub = make_hub()
    ws, _ = await live_client(hub)
    room = hub.rooms["s"]
    for seq in (2, 3, 1, 2, 4):
        hub.deliver(room, seq, f"m{seq}")
    assert ws.sent == ["m1", "m2", "m3", "m4"]


async def test_a_missing_number_is_read_from_storage(sent: dict[int, list[str]]) -> None:
    hub = make_hub(stored={1: "m1", 2: None})  # 2 was deleted
    ws, _ = await live_client(hub)
    room = hub.rooms["s"]
    hub.deliver(room, 3, "m3")
    await asyncio.sleep(0.05)
    assert ws.sent == ["m1", "m3"]
    assert room.last_seq == 3


async def test_a_number_nobody_stored_is_filled_with_a_gap(sent: dict[int, list[str]]) -> None:
    gaps: list[int] = []
    hub = make_hub(stored={}, gaps=gaps)
    ws, _ = await live_client(hub)
    room = hub.rooms["s"]
    hub.deliver(room, 2, "m2")
    await asyncio.sleep(0.2)
    assert gaps == [1]
    assert ws.sent == ["m2"]


async def test_every_missing_number_is_filled_in_one_write(sent: dict[int, list[str]]) -> None:
    """After a database stall, counter increments applied after their posters gave up leave
    many numbers with no message: they are all filled at once, not one after another."""
    gaps: list[int] = []
    fills: list[list[int]] = []
    hub = make_hub(stored={10: "m10", 20: None, 30: "m30"}, gaps=gaps, fills=fills)
    ws, _ = await live_client(hub)
    room = hub.rooms["s"]
    hub.deliver(room, 40, "m40")
    await asyncio.sleep(0.3)
    assert fills == [[n for n in range(1, 40) if n not in (10, 20, 30)]]
    assert ws.sent == ["m10", "m30", "m40"]
    assert room.last_seq == 40 and not room.waiting


async def test_a_gap_seen_during_a_stall_is_filled_once_the_database_answers(
    sent: dict[int, list[str]],
) -> None:
    """Reads failing while the database is down do not restart the give-up clock: the gap
    is filled by the first pass after the database is back."""
    fills: list[list[int]] = []
    loop = asyncio.get_running_loop()
    down_until = [loop.time() + 0.3]
    hub = make_hub(stored={}, fills=fills, down_until=down_until, gap_give_up_s=0.1)
    ws, _ = await live_client(hub)
    room = hub.rooms["s"]
    hub.deliver(room, 5, "m5")
    await asyncio.sleep(0.2)
    assert ws.sent == [] and fills == []
    await asyncio.sleep(0.3)
    assert fills == [[1, 2, 3, 4]]
    assert ws.sent == ["m5"]


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(["text", "deleted", "missing"]), min_size=1, max_size=30),
    order=st.randoms(use_true_random=False),
)
def test_any_mix_of_stored_deleted_and_missing_numbers_is_delivered_in_order_once(
    kinds: list[str], order: object
) -> None:
    kinds = [*kinds, "text"]  # the newest number is stored and delivered: the gap is seen
    stored = {n: f"m{n}" for n, k in enumerate(kinds, 1) if k == "text"}
    stored.update({n: None for n, k in enumerate(kinds, 1) if k == "deleted"})
    missing = [n for n, k in enumerate(kinds, 1) if k == "missing"]
    live = [n for n, k in enumerate(kinds, 1) if k == "text"]
    fanned_out = [n for n in live if n == len(kinds) or order.random() < 0.5]  # type: ignore[attr-defined]
    order.shuffle(fanned_out)  # type: ignore[attr-defined]

    async def scenario() -> tuple[list[str], list[list[int]]]:
        fills: list[list[int]] = []
        hub = make_hub(stored=dict(stored), fills=fills, gap_wait_s=0.001, gap_give_up_s=0.005)
        ws, _ = await live_client(hub)
        room = hub.rooms["s"]
        for n in fanned_out:
            hub.deliver(room, n, f"m{n}")
        for _ in range(200):
            if room.last_seq == len(kinds):
                break
            await asyncio.sleep(0.002)
        return ws.sent, fills

    def record(connections: list[FakeWs], message: str) -> None:
        for ws in connections:
            ws.sent.append(message)

    with patch("chat_gateway.hub.broadcast", record):
        delivered, fills = asyncio.run(scenario())
    assert delivered == [f"m{n}" for n in live]
    assert fills == ([missing] if missing else [])


async def test_syncing_clients_hold_frames_and_get_only_what_the_replay_missed(
    sent: dict[int, list[str]],
) -> None:
    hub = make_hub()
    room = await hub.room("s")
    ws = FakeWs()
    client = Client(ws, "acct", "c1")  # type: ignore[arg-type]
    hub.add(room, client)
    hub.deliver(room, 1, "m1")
    hub.deliver(room, 2, "m2")
    hub.send(room, "gift")
    assert ws.sent == []
    hub.go_live(room, client, replayed_up_to=1)
    assert ws.sent == ["m2", "gift"]
    hub.deliver(room, 3, "m3")
    assert ws.sent == ["m2", "gift", "m3"]


async def test_a_slow_client_is_dropped_and_the_others_keep_receiving(
    sent: dict[int, list[str]],
) -> None:
    hub = make_hub()
    fast, _ = await live_client(hub)
    slow, slow_client = await live_client(hub)
    slow.pause()
    await asyncio.sleep(0)
    hub.send(hub.rooms["s"], "frame")
    assert fast.sent == ["frame"]
    assert slow.sent == []
    assert slow_client not in hub.rooms["s"].clients
    await asyncio.sleep(0.01)
    assert slow.closed is not None and slow.closed[0] == 4009
    assert hub.dropped_slow == 1


async def test_a_client_pausing_during_a_broadcast_is_dropped_after_it(
    sent: dict[int, list[str]],
) -> None:
    """The transport pauses inside ``broadcast()``'s loop over the room's sockets: the drop
    waits for the loop (no "set changed size during iteration"), and the client gets nothing
    after the frame that filled its buffer; the others get everything."""
    hub = make_hub()
    room = await hub.room("s")
    clients = [await live_client(hub) for _ in range(20)]
    slow, slow_client = clients[7]
    slow.pause_after = 2
    for n in range(5):
        hub.send(room, f"f{n}")
        await asyncio.sleep(0)
    assert slow.sent == ["f0", "f1"]
    assert slow_client not in room.clients
    for ws, _ in clients[:7] + clients[8:]:
        assert ws.sent == [f"f{n}" for n in range(5)]
    await asyncio.sleep(0.01)
    assert slow.closed is not None and slow.closed[0] == 4009
    assert hub.dropped_slow == 1


async def test_a_syncing_client_is_not_dropped_for_a_pause_but_going_live_paused_is(
    sent: dict[int, list[str]],
) -> None:
    """While syncing, a client is written to by awaited sends (they wait for the buffer), so a
    pause then is no reason to drop it; still paused when it goes live, it is dropped."""
    hub = make_hub()
    room = await hub.room("s")
    calm_ws, paused_ws = FakeWs(), FakeWs()
    calm = Client(calm_ws, "a", "c1")  # type: ignore[arg-type]
    stuck = Client(paused_ws, "b", "c2")  # type: ignore[arg-type]
    for client in (calm, stuck):
        hub.add(room, client)
    calm_ws.pause()
    paused_ws.pause()
    await asyncio.sleep(0)
    assert calm in room.clients and stuck in room.clients
    calm_ws.paused = False  # its hello was sent: the buffer drained
    hub.go_live(room, calm, 0)
    hub.go_live(room, stuck, 0)
    await asyncio.sleep(0)
    hub.send(room, "frame")
    assert calm_ws.sent == ["frame"] and paused_ws.sent == []
    assert stuck not in room.clients and hub.dropped_slow == 1


async def test_a_syncing_client_paused_for_the_stall_limit_is_dropped_and_only_then(
    sent: dict[int, list[str]],
) -> None:
    """A syncing client's hello waits for its buffer; paused that long without a break it is
    dropped (frames would pile up for it), not for pauses that add up to that long, nor once it
    resumed and went live."""
    hub = make_hub(stalled_sync_s=0.2)
    room = await hub.room("s")
    stalled_ws, flaky_ws, resumed_ws = FakeWs(), FakeWs(), FakeWs()
    stalled = Client(stalled_ws, "a", "c1")  # type: ignore[arg-type]
    flaky = Client(flaky_ws, "b", "c2")  # type: ignore[arg-type]
    resumed = Client(resumed_ws, "c", "c3")  # type: ignore[arg-type]
    for client in (stalled, flaky, resumed):
        hub.add(room, client)
        client.ws.pause()
    await asyncio.sleep(0.12)
    flaky_ws.paused = False  # took some of its hello, then paused again
    flaky_ws.pause()
    resumed_ws.paused = False
    hub.go_live(room, resumed, 0)
    hub.deliver(room, 1, "m1")
    await asyncio.sleep(0.15)  # the first pauses' limit has passed
    assert stalled not in room.clients and stalled_ws.closed is not None
    assert stalled_ws.closed[0] == 4009
    assert flaky in room.clients and resumed in room.clients
    assert resumed_ws.sent == ["m1"]
    await asyncio.sleep(0.15)  # the flaky one's second pause lasted the limit
    assert flaky not in room.clients and flaky_ws.closed is not None
    assert resumed in room.clients and resumed_ws.closed is None
    assert hub.dropped_slow == 2


async def test_a_client_that_left_or_was_closed_gets_nothing_more(
    sent: dict[int, list[str]],
) -> None:
    hub = make_hub()
    stays, _ = await live_client(hub)
    leaves, leaving = await live_client(hub)
    room = hub.rooms["s"]
    hub.remove(room, leaving)
    syncing_ws = FakeWs()
    syncing = Client(syncing_ws, "banned", "c9")  # type: ignore[arg-type]
    hub.add(room, syncing)
    await hub.close_account(room, "banned", 4003, "banned")  # closed before its hello finished
    hub.go_live(room, syncing, 0)
    hub.send(room, "frame")
    assert stays.sent == ["frame"]
    assert leaves.sent == [] and syncing_ws.sent == []


async def test_empty_rooms_are_forgotten() -> None:
    hub = make_hub()
    room = await hub.room("s")
    client = Client(FakeWs(), "a", "c")  # type: ignore[arg-type]
    hub.add(room, client)
    hub.remove(room, client)
    assert "s" not in hub.rooms


def test_room_state_merges_converge() -> None:
    from datetime import UTC, datetime, timedelta

    from chat_gateway.domain.room import Ban
    from contracts.common import StreamStatus

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    state = RoomState("s", owner_id="o")
    assert state.advance(StreamStatus.ENDED)
    assert not state.advance(StreamStatus.ACTIVE)
    assert state.read_only
    assert state.set_ban("x", Ban(False, t0 + timedelta(seconds=5)))
    assert not state.set_ban("x", Ban(True, t0))  # older: ignored
    assert state.ban_of("x", t0) is None
    assert state.set_moderator("m", True, t0)
    assert state.role("m") == "moderator"
    assert state.role("o") == "owner"


async def test_closing_an_account_does_not_wait_for_a_connection_that_takes_nothing(
    sent: dict[int, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ban closes every connection of the account after its last frame; one whose peer reads
    nothing (its buffer full) must not hold the ban (and the consumer handling it) for as long
    as its TCP connection lives."""
    monkeypatch.setattr("chat_gateway.hub.CLOSE_TIMEOUT_S", 0.05)

    @dataclass(eq=False)
    class StuckWs(FakeWs):
        async def send(self, message: str) -> None:
            await asyncio.Event().wait()  # waits for a buffer that never drains

        async def close(self, code: int = 1000, reason: str = "") -> None:
            await asyncio.Event().wait()

    hub = make_hub()
    room = await hub.room("s")
    stuck_ws, other_ws = StuckWs(), FakeWs()
    for ws, conn_id in ((stuck_ws, "c1"), (other_ws, "c2")):
        hub.add(room, Client(ws, "bad", conn_id))  # type: ignore[arg-type]
    closed = await asyncio.wait_for(hub.close_account(room, "bad", 4003, "banned", "bye"), 2)
    assert closed == 2 and not room.clients
    assert other_ws.sent == ["bye"] and other_ws.closed == (4003, "banned")
