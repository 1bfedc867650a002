"""chat-gateway's projection of notifier's follows (``chat_follows``) on the real database:
whatever order and however often the events of a pair's history arrive, it ends in the state
of the newest version, and other pairs are untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.adapters.follows import FOLLOWS, FollowProjection

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def since_of(version: int) -> datetime:
    return T0 + timedelta(minutes=version)


@st.composite
def deliveries(draw: st.DrawFn) -> list[int]:
    """A pair's history (versions 1..n: odd ones follow, even ones unfollow), each event
    delivered at least once, in any order."""
    n = draw(st.integers(min_value=1, max_value=5))
    repeats = draw(st.lists(st.integers(min_value=1, max_value=n), max_size=4))
    return draw(st.permutations([*range(1, n + 1), *repeats]))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=deliveries())
async def test_the_newest_version_wins_whatever_the_order_and_repeats(
    mongo_db: AsyncDatabase[Any], order: list[int]
) -> None:
    await mongo_db[FOLLOWS].delete_many({})
    follows = FollowProjection(mongo_db)
    await follows.apply("other", "star", following=True, version=1, since=T0)
    for version in order:
        following = version % 2 == 1
        await follows.apply(
            "fan",
            "star",
            following=following,
            version=version,
            since=since_of(version) if following else None,
        )
    newest = max(order)
    expected = since_of(newest) if newest % 2 == 1 else None
    assert await follows.since("fan", "star") == expected
    assert await follows.since("other", "star") == T0
    assert await follows.since("fan", "other") is None
    assert await follows.since("star", "fan") is None


async def test_a_redelivered_or_older_version_changes_nothing(
    mongo_db: AsyncDatabase[Any],
) -> None:
    follows = FollowProjection(mongo_db)
    assert await follows.apply("fan", "star", following=True, version=3, since=T0)
    assert not await follows.apply("fan", "star", following=True, version=3, since=T0)
    assert not await follows.apply("fan", "star", following=False, version=2, since=None)
    assert await follows.since("fan", "star") == T0
