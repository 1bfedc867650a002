from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import make_envelope
from contracts.stream import StreamStarted
from contracts.viewer import ViewerJoined
from contracts.webhook import MuxWebhookReceived
from servicekit.broker import LIVE, MUX, Binding
from servicekit.consumer import EventDispatcher, _topic_match, retry_delay
from servicekit.idempotency import EventInProgress, MemoryProcessedEvents
from servicekit.outbox import stage_insert, stage_update

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pattern", "key", "match"),
    [
        ("video.live_stream.*", "video.live_stream.active", True),
        ("video.live_stream.*", "video.asset.ready", False),
        ("video.live_stream.*", "video.live_stream.active.extra", False),
        ("video.#", "video.asset.ready", True),
        ("video.asset.ready", "video.asset.ready", True),
    ],
)
def test_topic_matching(pattern: str, key: str, match: bool) -> None:
    assert _topic_match(pattern, key) is match


class TestDispatcher:
    async def test_bindings_follow_the_registrations(self) -> None:
        events = EventDispatcher()

        @events.on(ViewerJoined, StreamStarted)
        async def a(env: Any) -> None: ...

        @events.on_mux("video.live_stream.*")
        async def b(env: Any) -> None: ...

        assert events.bindings == (
            Binding(LIVE, "viewer.joined.*"),
            Binding(LIVE, "stream.started.*"),
            Binding(MUX, "video.live_stream.*"),
        )

    async def test_mux_events_route_by_their_mux_type(self) -> None:
        events = EventDispatcher()
        seen: list[str] = []

        @events.on_mux("video.asset.ready")
        async def ready(env: Any) -> None:
            seen.append(env.payload.type)

        def mux(t: str) -> Any:
            return make_envelope(
                MuxWebhookReceived(mux_event_id="m", type=t, created_at=NOW), producer="x"
            )

        assert await events.dispatch(mux("video.asset.ready")) is True
        assert await events.dispatch(mux("video.asset.created")) is False
        assert seen == ["video.asset.ready"]

    def test_a_type_cannot_have_two_handlers(self) -> None:
        events = EventDispatcher()

        @events.on(ViewerJoined)
        async def a(env: Any) -> None: ...

        with pytest.raises(ValueError, match="two handlers"):
            events.on(ViewerJoined)(a)


def test_retry_delay_grows_and_is_capped() -> None:
    assert retry_delay(0) < retry_delay(1) < retry_delay(3)
    assert retry_delay(50) == 5.0


class TestProcessedEvents:
    async def test_runs_once_then_skips(self) -> None:
        store = MemoryProcessedEvents()
        calls: list[int] = []

        async def fn() -> None:
            calls.append(1)

        eid = uuid.uuid4()
        assert await store.run_once("c", eid, fn) is True
        assert await store.run_once("c", eid, fn) is False
        assert await store.run_once("other-consumer", eid, fn) is True
        assert calls == [1, 1]

    async def test_failure_releases_the_claim_so_a_retry_runs(self) -> None:
        store = MemoryProcessedEvents()
        eid = uuid.uuid4()

        async def boom() -> None:
            raise RuntimeError

        with pytest.raises(RuntimeError):
            await store.run_once("c", eid, boom)
        ran: list[int] = []

        async def ok() -> None:
            ran.append(1)

        assert await store.run_once("c", eid, ok) is True

    async def test_a_copy_arriving_mid_processing_is_told_to_retry(self) -> None:
        store = MemoryProcessedEvents()
        eid = uuid.uuid4()

        async def nested() -> None:
            with pytest.raises(EventInProgress):
                await store.run_once("c", eid, nested)

        assert await store.run_once("c", eid, nested) is True


def test_stage_update_merges_into_existing_operators() -> None:
    env = make_envelope(ViewerJoined(stream_id="s", account_id="a", joined_at=NOW), producer="t")
    update = stage_update({"$set": {"status": "active"}, "$inc": {"v": 1}}, [env])
    assert update["$set"]["status"] == "active"
    assert f"_outbox.{env.event_id}" in update["$set"]
    assert update["$inc"] == {"v": 1, "_outbox_n": 1}
    doc = stage_insert([env])
    assert doc["_outbox_n"] == 1
    assert doc["_outbox"][str(env.event_id)]["routing_key"] == "viewer.joined.v1"
