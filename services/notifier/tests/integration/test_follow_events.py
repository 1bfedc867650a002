"""Follows are announced (issue 19, followers-only chat): every follow and unfollow stages its
``follow.created`` / ``follow.removed`` in the same write (outbox) and reaches the broker, with
a per-pair version that grows by one at every change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
import pytest_asyncio

from contracts.routing import Names
from notifier.backfill import (
    FOLLOW_EVENTS_BACKFILL,
    MIGRATIONS,
    announce_live_follows,
    backfill_once,
)
from notifier.settings import Settings
from servicekit.broker import declare_topology, make_broker
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.wait import eventually

from .conftest import auth, notifier

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    return load_settings(Settings)


@pytest_asyncio.fixture
async def heard(infra: InfraUrls, namespace: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Every ``follow.*`` envelope published under this test's namespace, in arrival order."""
    broker = make_broker(infra.amqp, app_id="test-topology")
    await broker.connect()
    await declare_topology(broker, Names(namespace), [], delivery_limit=5)
    await broker.stop()
    got: list[dict[str, Any]] = []
    conn = await aio_pika.connect(infra.amqp)
    channel = await conn.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(Names(namespace).live_events, "follow.#")

    async def on(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            got.append(json.loads(message.body))

    await queue.consume(on)
    yield got
    await conn.close()


def summary(envelopes: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    return [
        (
            e["event_type"],
            e["payload"]["follower_id"],
            e["payload"]["followee_id"],
            e["payload"]["version"],
        )
        for e in envelopes
    ]


async def test_follow_unfollow_and_follow_again_are_announced_with_growing_versions(
    settings: Settings, jwt_secret: str, db: Any, heard: list[dict[str, Any]]
) -> None:
    fan = auth(jwt_secret, "fan")
    async with notifier(settings) as api:
        assert (await api.put("/users/neighbour/follow", headers=auth(jwt_secret, "n"))).json()[
            "changed"
        ]
        assert (await api.put("/users/star/follow", headers=fan)).json()["changed"] is True
        assert (await api.put("/users/star/follow", headers=fan)).json()["changed"] is False
        assert (await api.delete("/users/star/follow", headers=fan)).status_code == 204
        assert (await api.delete("/users/star/follow", headers=fan)).status_code == 204
        assert (await api.put("/users/star/follow", headers=fan)).json()["changed"] is True
        await eventually(lambda: len(heard) >= 4, within=10)
        await asyncio.sleep(0.5)  # nothing more may come (the repeats staged nothing)
    mine = [e for e in heard if e["payload"]["follower_id"] == "fan"]
    assert summary(mine) == [
        ("follow.created", "fan", "star", 1),
        ("follow.removed", "fan", "star", 2),
        ("follow.created", "fan", "star", 3),
    ]
    assert summary([e for e in heard if e["payload"]["follower_id"] == "n"]) == [
        ("follow.created", "n", "neighbour", 1)
    ]
    assert mine[2]["payload"]["since"] > mine[0]["payload"]["since"]
    assert len({e["event_id"] for e in heard}) == len(heard)
    doc = await db["follows"].find_one({"follower_id": "fan"})
    assert (doc["state"], doc["version"], doc.get("_outbox_n", 0)) == ("following", 3, 0)


async def test_an_unfollowed_account_is_no_longer_listed_counted_or_notified(
    settings: Settings, jwt_secret: str, heard: list[dict[str, Any]]
) -> None:
    async with notifier(settings) as api:
        for fan in ("a", "b"):
            await api.put("/users/star/follow", headers=auth(jwt_secret, fan))
        await api.delete("/users/star/follow", headers=auth(jwt_secret, "a"))
        r = await api.get("/users/star/followers/count", headers=auth(jwt_secret, "a"))
        assert r.json()["followers"] == 1
        r = await api.get("/me/following", headers=auth(jwt_secret, "a"))
        assert r.json()["items"] == []
        r = await api.get("/me/following", headers=auth(jwt_secret, "b"))
        assert [i["account_id"] for i in r.json()["items"]] == ["star"]


async def test_follows_made_before_announcements_are_announced_by_the_backfill(
    settings: Settings, jwt_secret: str, db: Any, heard: list[dict[str, Any]]
) -> None:
    """Follows stored before ``follow.*`` existed (no state, no version) get ``state``/``version``
    at start-up and are announced by the start-up backfill, once per deployment (a restart
    does not run it again); by hand (``python -m notifier.backfill``) it announces the same
    events again (same ids), and a removed follow is not announced."""
    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await db["follows"].insert_many(
        [
            {
                "_id": f"old{i}\x1fstar",
                "follower_id": f"old{i}",
                "followee_id": "star",
                "since": since,
            }
            for i in range(3)
        ]
    )
    async with notifier(settings) as api:  # start-up back-fills state and version, announces
        await eventually(lambda: len(heard) >= 3, within=10)
        await api.delete("/users/star/follow", headers=auth(jwt_secret, "old2"))
        await eventually(lambda: len(heard) >= 4, within=10)  # old2's follow.removed
    marker = await db[MIGRATIONS].find_one({"_id": FOLLOW_EVENTS_BACKFILL})
    assert marker is not None and marker["staged"] == 3
    async with notifier(settings):  # a restart: the backfill ran already
        assert await backfill_once(db) is None
        assert await announce_live_follows(db) == 2  # by hand: the two still followed
        await eventually(lambda: len(heard) >= 6, within=10)
        await asyncio.sleep(0.5)
    assert sorted(summary(heard)) == sorted(
        [
            ("follow.removed", "old2", "star", 2),
            *[("follow.created", f"old{i}", "star", 1) for i in (0, 1, 2, 0, 1)],
        ]
    )
    created = [e for e in heard if e["event_type"] == "follow.created"]
    assert {e["payload"]["since"] for e in created} == {"2026-01-02T03:04:05Z"}
    assert len({e["event_id"] for e in created}) == 3  # a rerun repeats the same events
