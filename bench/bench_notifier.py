"""Go-live for one streamer with many followers: time until every notification is stored, beside
a bare ``insert_many`` of the same documents into the same server in the same run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from bench.harness import BenchContext, BenchResult, Stopwatch
from notifier.adapters.mongo import (
    INDEXES,
    MongoCampaigns,
    MongoFollows,
    MongoGoLiveSent,
    MongoInbox,
)
from notifier.deps import Deps
from notifier.handlers import fan_out_one, went_live
from servicekit.memory import RecordingPublisher
from servicekit.mongo import IndexSpec, ensure_indexes


async def run(ctx: BenchContext) -> list[BenchResult]:
    n = ctx.scale(100_000, 2_000)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ctx.mongo_url, tz_aware=True)
    db = client[f"{ctx.namespace}notifier".replace(".", "_")]
    try:
        await ensure_indexes(db, INDEXES)
        now = datetime.now(UTC)
        followers = [f"fan{i:07d}" for i in range(n)]
        for start in range(0, n, 5000):
            await db["follows"].insert_many(
                [
                    {
                        "_id": f"{f}\x1fstar",
                        "follower_id": f,
                        "followee_id": "star",
                        "state": "following",
                        "version": 1,
                        "since": now,
                    }
                    for f in followers[start : start + 5000]
                ]
            )
        publisher = RecordingPublisher()
        deps = Deps(
            follows=MongoFollows(db),
            inbox=MongoInbox(db),
            campaigns=MongoCampaigns(db),
            sent=MongoGoLiveSent(db),
            publisher=publisher,
            kick=lambda *_: None,
            fanout_batch=1000,
        )
        await deps.campaigns.describe("ls_bench", "star", "Big stream")
        with Stopwatch() as fanout:
            await went_live("ls_bench", now, deps)
            while await fan_out_one(deps) is not None:
                pass
        stored = await db["notifications"].count_documents({"kind": "stream_live"})
        assert stored == n, (stored, n)
        docs = [
            {
                "_id": f"bare:{f}",
                "account_id": f,
                "kind": "stream_live",
                "title": "star is live",
                "body": "x",
                "data": {"stream_id": "ls_bench"},
                "created_at": now,
                "created_ms": 0,
                "read": False,
            }
            for f in followers
        ]
        bare_col = db["bare_notifications"]
        await ensure_indexes(
            db,
            [
                IndexSpec("bare_notifications", [("account_id", 1), ("created_ms", -1)]),
                IndexSpec("bare_notifications", [("account_id", 1), ("read", 1)]),
            ],
        )
        with Stopwatch() as bare:
            for start in range(0, n, 1000):
                await bare_col.insert_many(docs[start : start + 1000], ordered=False)
        return [
            BenchResult(
                benchmark="notifier",
                metric=f"go-live fan-out, {n} followers, notifications stored/s",
                unit="notif/s",
                value=n / fanout.wall,
                baseline_name="bare insert_many (1,000 per call), same documents and indexes",
                baseline_value=n / bare.wall,
                goal=0.5,
                details={
                    "followers": n,
                    "fanout_s": round(fanout.wall, 2),
                    "bare_s": round(bare.wall, 2),
                    "batch_events_published": len(publisher.published),
                    "server": ctx.mongo_server,
                },
            )
        ]
    finally:
        await client.drop_database(db.name)
        await client.close()
