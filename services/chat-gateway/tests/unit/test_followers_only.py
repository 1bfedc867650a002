"""The followers-only rule (no I/O): who is exempt, the minimum follow age to the millisecond,
the refusal's wording, and the frames that set it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat_gateway.domain.room import Ban, RoomState
from chat_gateway.followers_only import minutes_text, refusal
from chat_gateway.protocol import ProtocolError, decode
from contracts.followers import MAX_FOLLOW_MINUTES
from contracts.ws import FollowersOnlySet

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Follows:
    """``follower -> since`` for follows of the owner."""

    def __init__(self, **since: datetime) -> None:
        self.since_of = since

    async def since(self, follower_id: str, followee_id: str) -> datetime | None:
        return self.since_of.get(follower_id) if followee_id == "owner" else None


def room(minutes: int | None) -> RoomState:
    state = RoomState("s1", owner_id="owner")
    state.set_moderator("mod", True, NOW - timedelta(days=1))
    if minutes is not None:
        state.set_followers_only(True, minutes, NOW - timedelta(hours=1))
    return state


async def test_off_everyone_posts_on_owner_and_moderators_are_exempt() -> None:
    nobody = Follows()
    assert await refusal(room(None), "stranger", NOW, nobody) is None
    for account in ("owner", "mod"):
        assert await refusal(room(60), account, NOW, nobody) is None


async def test_a_banned_moderator_is_a_viewer_here_too() -> None:
    state = room(0)
    state.set_ban("mod", Ban(True, NOW - timedelta(minutes=1)))
    refused = await refusal(state, "mod", NOW, Follows())
    assert refused is not None


@given(minutes=st.integers(0, MAX_FOLLOW_MINUTES), age_ms=st.integers(-(10**9), 10**10))
async def test_a_follow_counts_from_exactly_its_minimum_age(minutes: int, age_ms: int) -> None:
    since = NOW - timedelta(milliseconds=age_ms)
    refused = await refusal(room(minutes), "fan", NOW, Follows(fan=since))
    may_post_at = since + timedelta(minutes=minutes)
    if may_post_at <= NOW:
        assert refused is None
    else:
        assert refused is not None
        assert refused[1] == may_post_at


async def test_the_refusal_says_what_to_do() -> None:
    refused = await refusal(room(0), "stranger", NOW, Follows())
    assert refused == ("followers-only chat: follow owner to chat", None)
    refused = await refusal(room(90), "stranger", NOW, Follows())
    assert refused == ("followers-only chat: follow owner for 1 h 30 min to chat", None)
    since = NOW - timedelta(minutes=10)
    refused = await refusal(room(30), "fan", NOW, Follows(fan=since))
    assert refused is not None
    assert refused[0] == (
        "followers-only chat: you may chat once you have followed for 30 min, "
        "at 2026-12-05T12:20:00+00:00"
    )


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, ""), (1, "1 min"), (60, "1 h"), (1441, "1 day 1 min"), (129_600, "90 days")],
)
def test_minutes_in_words(minutes: int, text: str) -> None:
    assert minutes_text(minutes) == text


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "followers_only.set"}',
        '{"type": "followers_only.set", "enabled": 1}',
        '{"type": "followers_only.set", "enabled": true, "min_follow_minutes": 129601}',
        '{"type": "followers_only.set", "enabled": true, "min_follow_minutes": -1}',
        '{"type": "followers_only.set", "enabled": true, "min_follow_minutes": "5"}',
    ],
)
def test_bad_followers_only_frames_are_refused(raw: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        decode(raw)
    assert refused.value.reason == "invalid_frame"


def test_a_followers_only_frame_decodes() -> None:
    frame = decode('{"type": "followers_only.set", "enabled": true, "min_follow_minutes": 10}')
    assert frame == FollowersOnlySet(enabled=True, min_follow_minutes=10)
