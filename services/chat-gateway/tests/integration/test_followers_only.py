"""Followers-only chat (issue 19 item 3) on two real instances, the real broker and database:
the mode is set on one instance and enforced on the other, follows come from notifier's
``follow.*`` events into chat-gateway's own projection, in any order and any number of times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts import make_envelope
from contracts.moderation import ModeratorAdded
from contracts.notification import FollowCreated, FollowRemoved
from servicekit.idempotency import COLLECTION as PROCESSED
from testkit.wait import eventually

from .conftest import Cluster

pytestmark = pytest.mark.integration


async def post(cluster: Cluster, stream_id: str, account: str, *, on: int = 0) -> Any:
    async with cluster.http(on=on, account=account) as client:
        return await client.post(f"/live/{stream_id}/chats", json={"message": "hi"})


async def can_post(cluster: Cluster, stream_id: str, account: str, *, on: int = 0) -> bool:
    return (await post(cluster, stream_id, account, on=on)).status_code == 201


def follow(follower: str, owner: str, version: int, since: datetime) -> FollowCreated:
    return FollowCreated(follower_id=follower, followee_id=owner, since=since, version=version)


def unfollow(follower: str, owner: str, version: int) -> FollowRemoved:
    return FollowRemoved(
        follower_id=follower, followee_id=owner, removed_at=datetime.now(UTC), version=version
    )


async def test_a_non_follower_reads_but_cannot_post_until_they_follow(cluster: Cluster) -> None:
    await cluster.live_stream("f1", owner="owner")
    owner = await cluster.peer("f1", "owner", on=0)
    viewer = await cluster.peer("f1", "viewer", on=1)
    assert viewer.of("hello")[0]["followers_only"] is False
    await viewer.send(type="followers_only.set", enabled=True, min_follow_minutes=0)
    await viewer.wait(lambda p: p.of("chat.error"))
    assert viewer.of("chat.error")[0]["reason"] == "forbidden"

    await owner.send(type="followers_only.set", enabled=True, min_follow_minutes=0)
    await viewer.wait(lambda p: p.of("followers_only"))
    assert viewer.of("followers_only")[0] == {
        "type": "followers_only",
        "enabled": True,
        "min_follow_minutes": 0,
    }
    await viewer.send(type="chat.send", client_msg_id="v1", message="let me in")
    await viewer.wait(lambda p: len(p.of("chat.error")) == 2)
    error = viewer.of("chat.error")[1]
    assert error["reason"] == "followers_only"
    assert error["client_msg_id"] == "v1"
    assert (error["min_follow_minutes"], error["may_post_at"]) == (0, None)
    assert "follow owner" in error["message"]
    assert viewer.of("chat.ack") == []
    await owner.send(type="chat.send", client_msg_id="o1", message="owner is exempt")
    await owner.wait(lambda p: p.of("chat.ack"))
    late = await cluster.peer("f1", "late", on=0)  # a new connection learns the mode
    assert (late.of("hello")[0]["followers_only"], late.of("hello")[0]["min_follow_minutes"]) == (
        True,
        0,
    )

    await cluster.publish(follow("viewer", "owner", 1, datetime.now(UTC)))
    await eventually(lambda: can_post(cluster, "f1", "viewer", on=1), within=10)
    await viewer.send(type="chat.send", client_msg_id="v2", message="now I follow")
    await viewer.wait(lambda p: p.of("chat.ack"))
    assert viewer.of("chat.ack")[0]["client_msg_id"] == "v2"


async def test_a_minimum_follow_age_says_when_the_viewer_may_post(cluster: Cluster) -> None:
    await cluster.live_stream("f2", owner="owner")
    now = datetime.now(UTC)
    recent_since = now - timedelta(minutes=5)
    await cluster.publish(follow("recent", "owner", 1, recent_since))
    await cluster.publish(follow("old", "owner", 1, now - timedelta(minutes=11)))
    await cluster.publish(follow("recent", "other-owner", 1, now - timedelta(days=30)))
    async with cluster.http(on=1, account="recent") as client:
        r = await client.put(
            "/live/f2/chat/followers-only", json={"enabled": True, "min_follow_minutes": 10}
        )
        assert r.status_code == 403
    async with cluster.http(on=1, account="owner") as client:
        for bad in (
            {"enabled": True, "min_follow_minutes": 129_601},
            {"enabled": True, "min_follow_minutes": -1},
            {"enabled": 1, "min_follow_minutes": 10},
            {"min_follow_minutes": 10},
        ):
            r = await client.put("/live/f2/chat/followers-only", json=bad)
            assert r.status_code == 422, bad
        r = await client.put(
            "/live/f2/chat/followers-only", json={"enabled": True, "min_follow_minutes": 10}
        )
        assert r.status_code == 204
    await eventually(lambda: can_post(cluster, "f2", "old", on=0), within=10)
    r = await post(cluster, "f2", "recent", on=0)
    body = r.json()
    assert (r.status_code, body["error"], body["min_follow_minutes"]) == (
        403,
        "followers_only",
        10,
    )
    may_post_at = datetime.fromisoformat(body["may_post_at"])
    assert abs(may_post_at - (recent_since + timedelta(minutes=10))) < timedelta(seconds=1)
    assert "10 min" in body["message"]
    r = await post(cluster, "f2", "stranger", on=0)
    assert (r.status_code, r.json()["may_post_at"]) == (403, None)

    async with cluster.http(on=0, account="owner") as client:
        r = await client.put("/live/f2/chat/followers-only", json={"enabled": False})
        assert r.status_code == 204
    await eventually(lambda: can_post(cluster, "f2", "stranger", on=1), within=10)


async def test_moderators_are_exempt_and_may_set_the_mode(cluster: Cluster) -> None:
    await cluster.live_stream("f3", owner="owner")
    await cluster.publish(
        ModeratorAdded(stream_id="f3", account_id="mod", by="owner", at=datetime.now(UTC))
    )
    mod = await cluster.peer("f3", "mod", on=1)
    async with cluster.http(on=0, account="mod") as client:

        async def set_mode() -> bool:
            r = await client.put(
                "/live/f3/chat/followers-only", json={"enabled": True, "min_follow_minutes": 60}
            )
            return r.status_code == 204

        await eventually(set_mode, within=10)
    await mod.wait(lambda p: p.of("followers_only"))
    assert await can_post(cluster, "f3", "mod", on=1)
    assert (await post(cluster, "f3", "fan", on=1)).status_code == 403


async def test_an_unfollow_overtaking_its_follow_leaves_no_follow(cluster: Cluster) -> None:
    """Events in any order and repeated: the newest version wins (a ``follow.removed`` that
    arrives before its ``follow.created`` is not undone by it, nor by its redelivery)."""
    await cluster.live_stream("f4", owner="owner")
    async with cluster.http(on=0, account="owner") as client:
        r = await client.put("/live/f4/chat/followers-only", json={"enabled": True})
        assert r.status_code == 204
    since = datetime.now(UTC) - timedelta(minutes=1)
    sent = [
        make_envelope(unfollow("fickle", "owner", 2), producer="test"),
        make_envelope(follow("fickle", "owner", 1, since), producer="test"),
        make_envelope(follow("fickle", "owner", 1, since), producer="test"),  # another copy
    ]
    for envelope in [*sent, sent[1]]:  # and one redelivery
        await cluster.bus.publish(envelope)
    await eventually(lambda: handled(cluster, [str(e.event_id) for e in sent]), within=10)
    for on in (0, 1):
        r = await post(cluster, "f4", "fickle", on=on)
        assert (r.status_code, r.json()["error"]) == (403, "followers_only")
    await cluster.publish(follow("fickle", "owner", 3, since))
    await eventually(lambda: can_post(cluster, "f4", "fickle", on=1), within=10)


async def handled(cluster: Cluster, event_ids: list[str]) -> bool:
    """Whether the projection consumer has finished each of these events."""
    done = cluster.gateways[0].infra.db[PROCESSED].find({"state": "done"}, {"_id": 1})
    keys = [str(d["_id"]) async for d in done]
    return all(any(k.endswith(event_id) for k in keys) for event_id in event_ids)
