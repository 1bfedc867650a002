"""servicekit.catchup (register, buffer, snapshot, replay) and servicekit.replay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.catchup import CatchUp
from servicekit.replay import (
    FINGERPRINT,
    IdempotencyKeyReused,
    db_time,
    fingerprint,
    replay_allowed,
)


class TestCatchUp:
    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12),
        st.integers(min_value=0, max_value=12),
        st.integers(min_value=1, max_value=4),
        st.integers(min_value=0, max_value=4),
    )
    def test_no_event_is_lost_or_repeated_whatever_the_interleaving(
        self, pauses: list[int], stored_before: int, load_steps: int, snapshot_at: int
    ) -> None:
        """Events 0..n-1 are written to the "database" and then offered, interleaved with a
        load that takes ``load_steps`` scheduler turns; the loaded state must hold every event
        exactly once, in order (the change is idempotent against the snapshot by sequence)."""

        async def scenario() -> None:
            db: list[int] = []
            catchup: CatchUp[str, list[int]] = CatchUp()

            async def load() -> list[int]:
                snapshot: list[int] = []
                for step in range(load_steps + 1):
                    if step == min(snapshot_at, load_steps):
                        snapshot = list(db)  # read here; the load goes on after (more reads)
                    await asyncio.sleep(0)
                return snapshot

            async def publish(n: int) -> None:
                db.append(n)  # written first, then offered

                async def change(state: list[int]) -> None:
                    if n not in state:  # idempotent against a snapshot that holds it
                        state.append(n)

                await catchup.apply("k", change)

            for n in range(min(stored_before, len(pauses))):
                await publish(n)

            async def events() -> None:
                for n in range(min(stored_before, len(pauses)), len(pauses)):
                    for _ in range(pauses[n]):
                        await asyncio.sleep(0)
                    await publish(n)

            state, _ = await asyncio.gather(catchup.get("k", load), events())
            assert state == list(range(len(pauses)))

        asyncio.run(scenario())

    async def test_a_failed_load_is_raised_to_every_waiter_and_not_kept(self) -> None:
        catchup: CatchUp[str, int] = CatchUp()
        gate = asyncio.Event()

        async def failing() -> int:
            await gate.wait()
            raise RuntimeError("db down")

        first = asyncio.create_task(catchup.get("k", failing))
        await asyncio.sleep(0)
        second = asyncio.create_task(catchup.get("k", failing))
        await asyncio.sleep(0)
        gate.set()
        for task in (first, second):
            with pytest.raises(RuntimeError):
                await task
        assert not catchup.loading("k")
        assert await catchup.apply("k", lambda _: asyncio.sleep(0)) is False

        async def ok() -> int:
            return 7

        assert await catchup.get("k", ok) == 7


class TestReplay:
    def test_fingerprints_ignore_key_order_and_see_values(self) -> None:
        assert fingerprint({"a": 1, "b": "x"}) == fingerprint({"b": "x", "a": 1})
        assert fingerprint({"gift_type": "rose", "amount": 1}) != fingerprint(
            {"gift_type": "crown", "amount": 1000}
        )

    def test_the_same_key_with_another_request_is_refused(self) -> None:
        rose = fingerprint({"gift_type": "rose", "amount": 1})
        crown = fingerprint({"gift_type": "crown", "amount": 1000})
        assert replay_allowed(None, rose) is False
        assert replay_allowed({FINGERPRINT: rose}, rose) is True
        assert replay_allowed({}, rose) is True  # stored before fingerprints existed
        with pytest.raises(IdempotencyKeyReused) as err:
            replay_allowed({FINGERPRINT: rose}, crown, "k1")
        assert (err.value.status, err.value.code) == (422, "idempotency_key_reused")

    def test_times_are_cut_to_what_mongodb_stores(self) -> None:
        t = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)
        assert db_time(t) == datetime(2026, 11, 29, 12, 0, 0, 123000, tzinfo=UTC)
        assert db_time().microsecond % 1000 == 0
