"""Gifts that animate (issue 21): the catalog and the ``gift`` frame carry the animation by value
and the combo streak, decided once where the gift is stored, so both instances show the same
streak; a replayed Idempotency-Key counts nothing; the owner reads totals per sender. Over the
real broker and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.adapters.mongo import GIFTS
from chat_gateway.adapters.mongo_gifts import CLAIMS, STREAKS, GiftStreaks, GiftTotals
from chat_gateway.gifts import CATALOG
from testkit.infra import InfraUrls

from .conftest import Cluster, _cluster

pytestmark = pytest.mark.integration

Doc = dict[str, Any]


@pytest_asyncio.fixture
async def roomy_cluster(
    infra: InfraUrls,
    namespace: str,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    jwt_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cluster]:
    """Two instances whose streak window (10 min) no test run can outlast: which gifts share a
    streak does not depend on how fast the machine posts."""
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    monkeypatch.setenv("CHAT_RATE_BURST", "20")
    monkeypatch.setenv("CHAT_RATE_PER_S", "20")
    monkeypatch.setenv("CHAT_GIFT_STREAK_WINDOW_S", "600")
    async with _cluster(infra, namespace, jwt_secret) as running_cluster:
        yield running_cluster


async def _gift(cluster: Cluster, on: int, sender: str, gift_type: str, key: str) -> Any:
    async with cluster.http(on=on, account=sender) as http:
        r = await http.post(
            "/live/g1/gift",
            json={"gift_type": gift_type, "amount": 1},
            headers={"Idempotency-Key": key},
        )
    assert r.status_code in (200, 201), r.text
    return r


class TestCatalog:
    async def test_the_catalog_carries_animation_tier_duration_and_the_window(
        self, roomy_cluster: Cluster
    ) -> None:
        async with roomy_cluster.http(account="fan") as http:
            catalog = (await http.get("/gifts/catalog")).json()
        assert catalog[0] == {
            "gift_type": "rose",
            "name": "Rose",
            "unit_price": 10,
            "currency": "coins",
            "animation": "rose-float",
            "tier": 1,
            "display_ms": 2000,
            "streak_window_s": 600.0,
        }
        assert [c["tier"] for c in catalog] == [1, 2, 3, 4, 5]


class TestStreaksAcrossInstances:
    async def test_three_gifts_on_alternate_instances_are_one_streak_everyone_sees(
        self, roomy_cluster: Cluster
    ) -> None:
        cluster = roomy_cluster
        await cluster.live_stream("g1", owner="streamer")
        a = await cluster.peer("g1", "viewer-a", on=0)
        b = await cluster.peer("g1", "viewer-b", on=1)
        receipts = [(await _gift(cluster, i % 2, "fan", "heart", f"k{i}")).json() for i in range(3)]
        streak_id = receipts[0]["streak_id"]
        assert [r["streak_count"] for r in receipts] == [1, 2, 3]
        assert {r["streak_id"] for r in receipts} == {streak_id}

        # a retry of the second gift replays its receipt and counts nothing
        again = await _gift(cluster, 1, "fan", "heart", "k1")
        assert again.status_code == 200
        assert again.json() == receipts[1]
        # another sender, and another gift type, are streaks of their own
        other_sender = (await _gift(cluster, 0, "pal", "heart", "p0")).json()
        other_type = (await _gift(cluster, 1, "fan", "rose", "r0")).json()
        assert other_sender["streak_count"] == other_type["streak_count"] == 1
        assert len({streak_id, other_sender["streak_id"], other_type["streak_id"]}) == 3
        # the fourth heart continues the streak: the replay did not bump it
        fourth = (await _gift(cluster, 0, "fan", "heart", "k3")).json()
        assert (fourth["streak_id"], fourth["streak_count"]) == (streak_id, 4)

        for peer in (a, b):
            await peer.wait(lambda p: len(p.of("gift")) >= 6)
        await asyncio.sleep(0.5)  # and nothing more (the replay is not shown again)
        shown_a = sorted((f["gift_id"], f["streak_id"], f["streak_count"]) for f in a.of("gift"))
        shown_b = sorted((f["gift_id"], f["streak_id"], f["streak_count"]) for f in b.of("gift"))
        assert shown_a == shown_b
        assert len(shown_a) == 6
        hearts = [f for f in a.of("gift") if f["streak_id"] == streak_id]
        assert sorted(f["streak_count"] for f in hearts) == [1, 2, 3, 4]
        heart = CATALOG["heart"]
        assert {(f["animation"], f["tier"], f["display_ms"]) for f in hearts} == {
            (heart.animation, heart.tier, heart.display_ms)
        }

    async def test_concurrent_retries_of_one_gift_count_once(self, roomy_cluster: Cluster) -> None:
        cluster = roomy_cluster
        await cluster.live_stream("g1", owner="streamer")
        results = await asyncio.gather(
            *(_gift(cluster, i % 2, "fan", "star", "same-key") for i in range(6))
        )
        assert sorted(r.status_code for r in results).count(201) == 1
        assert {(r.json()["streak_id"], r.json()["streak_count"]) for r in results} == {
            (results[0].json()["streak_id"], 1)
        }
        nxt = (await _gift(cluster, 0, "fan", "star", "next-key")).json()
        assert nxt["streak_count"] == 2


class TestSummary:
    async def test_the_owner_reads_totals_per_sender_others_may_not(
        self, roomy_cluster: Cluster
    ) -> None:
        cluster = roomy_cluster
        await cluster.live_stream("g1", owner="streamer")
        await cluster.live_stream("g2", owner="streamer")
        for i in range(3):
            await _gift(cluster, i % 2, "fan", "rose", f"f{i}")
        await _gift(cluster, 1, "fan", "rose", "f0")  # a replay: charged once, counted once
        await _gift(cluster, 0, "whale", "crown", "w0")
        async with cluster.http(on=1, account="neighbour") as http:  # another stream's gift
            r = await http.post("/live/g2/gift", json={"gift_type": "rocket", "amount": 2})
            assert r.status_code == 201
        async with cluster.http(on=1, account="streamer") as http:
            summary = (await http.get("/live/g1/gifts/summary")).json()
            assert summary["stream_id"] == "g1"
            assert (summary["gifts"], summary["coins"]) == (4, 1030)
            rows = [(s["sender_id"], s["gifts"], s["coins"]) for s in summary["senders"]]
            assert rows == [("whale", 1, 1000), ("fan", 3, 30)]
            top = (await http.get("/live/g1/gifts/summary", params={"limit": 1})).json()
            assert [s["sender_id"] for s in top["senders"]] == ["whale"]
            assert top["coins"] == 1030
            assert (await http.get("/live/nope/gifts/summary")).status_code == 404
        async with cluster.http(account="fan") as http:
            r = await http.get("/live/g1/gifts/summary")
            assert (r.status_code, r.json()["error"]) == (403, "forbidden")


class TestStreakRepository:
    """``GiftStreaks`` on its own, with neighbour streaks present: the window, lapses and races."""

    @pytest_asyncio.fixture
    async def streaks(self, mongo_db: AsyncDatabase[Doc]) -> GiftStreaks:
        repo = GiftStreaks(mongo_db, window_s=5)
        for i in range(5):  # neighbours: other senders, other types, other streams
            await repo.join(
                stream_id=f"n{i}", sender_id="fan", gift_type="rose", amount=1, key=f"n{i}", at_ms=0
            )
            await repo.join(
                stream_id="s",
                sender_id=f"other{i}",
                gift_type="rose",
                amount=1,
                key=f"o{i}",
                at_ms=0,
            )
        await repo.join(
            stream_id="s", sender_id="fan", gift_type="crown", amount=1, key="crown", at_ms=0
        )
        return repo

    async def _neighbours(self, db: AsyncDatabase[Doc]) -> list[Doc]:
        return await db[STREAKS].find({"last_key": {"$ne": "x"}}).sort("_id", 1).to_list()

    async def test_within_the_window_continues_after_it_starts_anew(
        self, streaks: GiftStreaks, mongo_db: AsyncDatabase[Doc]
    ) -> None:
        before = await self._neighbours(mongo_db)

        async def join(key: str, at_ms: int, amount: int = 1) -> Any:
            return await streaks.join(
                stream_id="s",
                sender_id="fan",
                gift_type="rose",
                amount=amount,
                key=key,
                at_ms=at_ms,
            )

        first = await join("a", 1_000)
        second = await join("b", 6_000, amount=3)  # exactly the window after: still the streak
        again = await join("b", 6_000, amount=3)  # the same gift again: counted once
        third = await join("c", 10_999)
        lapsed = await join("d", 16_000)  # 5.001 s after the last one: a new streak
        assert (first.count, second.count, again, third.count) == (1, 4, second, 5)
        assert first.streak_id == second.streak_id == third.streak_id
        assert (lapsed.count, lapsed.streak_id != first.streak_id) == (1, True)
        after = [d for d in await self._neighbours(mongo_db) if d["_id"] != "s\x1ffan\x1frose"]
        assert after == before

    async def test_concurrent_gifts_share_one_streak_and_every_count(
        self, streaks: GiftStreaks
    ) -> None:
        joined = await asyncio.gather(
            *(
                streaks.join(
                    stream_id="s",
                    sender_id="fan",
                    gift_type="heart",
                    amount=1,
                    key=f"k{i}",
                    at_ms=50_000,
                )
                for i in range(8)
            )
        )
        assert len({s.streak_id for s in joined}) == 1
        assert sorted(s.count for s in joined) == list(range(1, 9))

    async def test_a_key_counts_once_whatever_comes_between_or_races_it(
        self, streaks: GiftStreaks, mongo_db: AsyncDatabase[Doc]
    ) -> None:
        """K1, K2, K1 again (a retry whose first try joined, with another gift in between):
        the retry gets its first try's streak and counts nothing (it counted 3 before; found by
        the attack on issue 21); five concurrent tries of one key count once."""

        async def join(key: str, gift_type: str = "star") -> Any:
            return await streaks.join(
                stream_id="s", sender_id="fan", gift_type=gift_type, amount=1, key=key, at_ms=70_000
            )

        k1, k2, k1_again = await join("K1"), await join("K2"), await join("K1")
        assert (k1.count, k2.count) == (1, 2)
        assert k1_again == k1
        stored = await mongo_db[STREAKS].find_one({"_id": "s\x1ffan\x1fstar"})
        assert stored is not None and stored["count"] == 2
        raced = await asyncio.gather(*(join("K3", "rocket") for _ in range(5)))
        assert len(set(raced)) == 1 and raced[0].count == 1
        stored = await mongo_db[STREAKS].find_one({"_id": "s\x1ffan\x1frocket"})
        assert stored is not None and stored["count"] == 1


class TestTotalsRepository:
    async def test_totals_group_one_stream_by_sender(self, mongo_db: AsyncDatabase[Doc]) -> None:
        from datetime import UTC, datetime, timedelta

        t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        docs = [
            ("s", "fan", 1, 10, 0),
            ("s", "fan", 2, 20, 1),
            ("s", "whale", 1, 1000, 2),
            ("other", "fan", 5, 5000, 3),
        ]
        await mongo_db[GIFTS].insert_many(
            [
                {
                    "_id": f"g{i}",
                    "stream_id": sid,
                    "sender_id": sender,
                    "amount": amount,
                    "total_price": price,
                    "sent_at": t0 + timedelta(seconds=sec),
                }
                for i, (sid, sender, amount, price, sec) in enumerate(docs)
            ]
        )
        totals = await GiftTotals(mongo_db).per_sender("s")
        assert [(t.sender_id, t.gifts, t.coins) for t in totals] == [
            ("whale", 1, 1000),
            ("fan", 3, 30),
        ]


GIFTS_SENT = st.lists(
    st.tuples(
        st.sampled_from(["fan", "pal"]),
        st.sampled_from(["rose", "heart"]),
        st.integers(min_value=0, max_value=7000),  # ms after the previous gift
        st.integers(min_value=1, max_value=3),  # amount
        st.booleans(),  # sent again with the same key (a retry) right after
        st.booleans(),  # lapsed streaks swept just before
    ),
    max_size=20,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sent=GIFTS_SENT)
async def test_streaks_follow_the_rule_for_any_sequence_of_gifts(
    mongo_db: AsyncDatabase[Doc], sent: list[tuple[str, str, int, int, bool, bool]]
) -> None:
    """Per (sender, gift type): a gift at most the window (5 s) after the previous one continues
    the streak and adds its amount; a longer pause starts a new streak; a retry adds nothing;
    sweeping lapsed streaks changes none of it. Neighbour streaks (another stream) are never
    touched."""
    await mongo_db[STREAKS].delete_many({})
    await mongo_db[CLAIMS].delete_many({})  # keys k0.. are another gift in each example
    streaks = GiftStreaks(mongo_db, window_s=5)
    await streaks.join(  # a streak still going elsewhere (its last gift is in the future)
        stream_id="elsewhere", sender_id="fan", gift_type="rose", amount=9, key="x", at_ms=10**12
    )
    neighbour = await mongo_db[STREAKS].find_one({"stream_id": "elsewhere"})
    model: dict[tuple[str, str], tuple[int, int, str]] = {}  # -> (last_ms, count, streak_id)
    ids_seen: set[str] = set()
    now = 10_000
    for i, (sender, gift_type, pause, amount, retried, swept) in enumerate(sent):
        now += pause * (20 if swept else 1)  # pauses long enough for a sweep to delete
        if swept:
            await streaks.sweep(now)
        got = await streaks.join(
            stream_id="s",
            sender_id=sender,
            gift_type=gift_type,
            amount=amount,
            key=f"k{i}",
            at_ms=now,
        )
        previous = model.get((sender, gift_type))
        if previous is not None and now - previous[0] <= 5000:
            assert (got.streak_id, got.count) == (previous[2], previous[1] + amount)
        else:
            assert got.count == amount
            assert got.streak_id not in ids_seen  # a new streak has a new id
        ids_seen.add(got.streak_id)
        model[(sender, gift_type)] = (now, got.count, got.streak_id)
        if retried:
            again = await streaks.join(
                stream_id="s",
                sender_id=sender,
                gift_type=gift_type,
                amount=amount,
                key=f"k{i}",
                at_ms=now,
            )
            assert again == got
    assert await mongo_db[STREAKS].find_one({"stream_id": "elsewhere"}) == neighbour
