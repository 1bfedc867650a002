"""notifier on the real broker and database (issue 23): account ids that cannot collide,
follow floods, and one notification per ban."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from contracts import make_envelope
from contracts.moderation import UserBanned
from contracts.routing import Names
from notifier.adapters.mongo import MongoFollows
from notifier.handlers import announce_follow, announce_unfollow
from notifier.settings import Settings
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.wait import eventually

from .conftest import auth, notifier

pytestmark = pytest.mark.integration
BURST = 5


@pytest.fixture
def settings(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("NOTIFIER_FOLLOW_BURST", str(BURST))
    monkeypatch.setenv("NOTIFIER_FOLLOW_PER_MINUTE", "60")
    return load_settings(Settings)


async def test_pairs_that_shared_a_key_are_two_follows(db: Any) -> None:
    """The issue's input: follower ``a<0x1F>b`` following ``x`` blocked ``a`` following
    ``b<0x1F>x``. The API now refuses such ids; the repository keeps them apart anyway."""
    follows = MongoFollows(db)
    now = datetime.now(UTC)
    await follows.follow("n1", "n2", now, announce_follow("n1", "n2", now))  # a neighbour
    # such ids cannot be announced (contracts refuse them): the events here are stand-ins
    assert await follows.follow("a\x1fb", "x", now, announce_follow("a", "x", now))
    assert await follows.follow("a", "b\x1fx", now, announce_follow("a", "b", now))
    assert await follows.followers_count("x") == 1
    assert await follows.followers_count("b\x1fx") == 1
    assert await follows.unfollow("a", "b\x1fx", announce_unfollow("a", "b", now))
    assert await follows.followers_count("x") == 1  # the other pair is untouched
    assert [d["followee_id"] for d in await follows.following("n1", limit=5, after=None)] == ["n2"]


async def test_account_ids_with_unsafe_characters_are_refused(
    settings: Settings, jwt_secret: str, db: Any
) -> None:
    async with notifier(settings) as api:
        bad_sub = jwt.encode({"sub": "a\x1fb", "exp": 4_000_000_000}, jwt_secret, "HS256")
        r = await api.put("/users/x/follow", headers={"Authorization": f"Bearer {bad_sub}"})
        assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
        me = auth(jwt_secret, "auth0|alice")
        for path in ("b%1Fx", "a%00", "with%20space", "per%25cent"):
            r = await api.put(f"/users/{path}/follow", headers=me)
            assert (r.status_code, r.json()["error"]) == (422, "validation_error"), path
            r = await api.get(f"/users/{path}/followers/count", headers=me)
            assert r.status_code == 422
        r = await api.put("/users/google-oauth2|1043526/follow", headers=me)
        assert r.json()["changed"] is True
    assert await db["follows"].count_documents({}) == 1


async def test_a_follow_burst_is_limited_with_429_and_retry_after(
    settings: Settings, jwt_secret: str
) -> None:
    """The issue's input: one account followed 120 accounts in a burst with no limit."""
    async with notifier(settings) as api:
        bot = auth(jwt_secret, "bot")
        answers = [await api.put(f"/users/target{i:03d}/follow", headers=bot) for i in range(120)]
        ok = [r for r in answers if r.status_code == 200]
        limited = [r for r in answers if r.status_code == 429]
        assert len(ok) + len(limited) == 120
        assert BURST <= len(ok) < 30  # 1/s refill: the burst is over long before 120
        r = limited[-1]
        assert r.json()["error"] == "rate_limited"
        retry = int(r.headers["Retry-After"])
        assert retry >= 1
        following = (await api.get("/me/following", params={"limit": 100}, headers=bot)).json()
        assert len(following["items"]) == len(ok)  # a refused follow changed nothing
        other = await api.put("/users/target000/follow", headers=auth(jwt_secret, "human"))
        assert other.status_code == 200  # per account
        await asyncio.sleep(retry)
        again = await api.put("/users/target119/follow", headers=bot)
        assert (again.status_code, again.json()["changed"]) == (200, True)


async def test_a_repeated_follow_is_answered_whatever_the_budget_and_costs_nothing(
    settings: Settings, jwt_secret: str
) -> None:
    """Found by atk1: 30 repeats of one follow (a client retrying its ``PUT``) answered 20 x
    200 then 429, and spent the budget for new follows. A repeat changes nothing: 200
    ``changed: false`` whatever the budget says, and it spends none."""
    async with notifier(settings) as api:
        fan = auth(jwt_secret, "fan")
        first = await api.put("/users/star/follow", headers=fan)
        assert (first.status_code, first.json()["changed"]) == (200, True)
        repeats = [await api.put("/users/star/follow", headers=fan) for _ in range(3 * BURST)]
        assert {(r.status_code, r.json()["changed"]) for r in repeats} == {(200, False)}
        fresh = [await api.put(f"/users/new{i}/follow", headers=fan) for i in range(BURST - 1)]
        assert [r.status_code for r in fresh] == [200] * (BURST - 1)
        statuses = [
            (await api.put(f"/users/more{i}/follow", headers=fan)).status_code for i in range(30)
        ]
        assert 429 in statuses  # the budget does run out for new follows
        again = await api.put("/users/star/follow", headers=fan)  # out of budget: still a repeat
        assert (again.status_code, again.json()["changed"]) == (200, False)


async def test_one_notification_per_ban_whatever_its_announcements_say(
    settings: Settings, infra: InfraUrls, namespace: str, db: Any
) -> None:
    """Notifications are idempotent by the fact they announce (the ban), not its timestamp: the
    same ban announced again with another time is one notification; a new ban is another."""
    broker = make_broker(infra.amqp, app_id="test-bus")
    await broker.connect()
    await declare_topology(broker, Names(namespace), [], delivery_limit=5)
    publisher = RabbitEventPublisher(broker, Names(namespace))
    now = datetime.now(UTC)

    def ban(ban_id: str, at: datetime) -> UserBanned:
        return UserBanned(
            stream_id="ls_b", account_id="troll", by="carol", at=at, reason="spam", ban_id=ban_id
        )

    async def inbox() -> int:
        return int(await db["notifications"].count_documents({"account_id": "troll"}))

    async def has(n: int) -> bool:
        return await inbox() == n

    try:
        async with notifier(settings):
            for announced in (ban("ma_1", now), ban("ma_1", now + timedelta(seconds=3))):
                await publisher.publish(make_envelope(announced, producer="test"))
            assert await eventually(lambda: has(1), within=15)
            await publisher.publish(make_envelope(ban("ma_2", now), producer="test"))
            assert await eventually(lambda: has(2), within=15)
            await asyncio.sleep(0.5)
            assert await inbox() == 2
    finally:
        await broker.stop()
