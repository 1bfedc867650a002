"""What one stream's blocked terms can cost every chat-gateway instance: changes are budgeted
per stream, and expiries land on whole minutes (each change or expiry recompiles the room's
matcher on every instance holding it; found by the attack on issue 19)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit.ratelimit import MemoryRateBudgets
from stream_svc.deps import term_change_budget
from stream_svc.domain.errors import RateLimited
from stream_svc.handlers.blocked_terms import _spend_change, expiry_of

T0 = datetime(2026, 12, 5, 12, 0, 7, 250_000, tzinfo=UTC)


@given(
    at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    duration_s=st.integers(min_value=1, max_value=365 * 24 * 3600),
)
def test_an_expiry_is_the_first_whole_minute_at_or_after_the_duration(
    at: datetime, duration_s: int
) -> None:
    end = expiry_of(at, duration_s)
    assert (end.second, end.microsecond) == (0, 0)
    assert at + timedelta(seconds=duration_s) <= end < at + timedelta(seconds=duration_s + 60)


def test_staggered_durations_share_their_minute() -> None:
    ends = {expiry_of(T0, d) for d in range(60, 110)}
    assert ends == {datetime(2026, 12, 5, 12, 2, tzinfo=UTC)}


async def test_changes_past_the_streams_burst_are_refused_until_it_refills() -> None:
    now = [T0]
    deps = SimpleNamespace(
        term_changes=MemoryRateBudgets(term_change_budget(3, 6.0)), clock=lambda: now[0]
    )
    for _ in range(3):
        await _spend_change("s1", deps)  # type: ignore[arg-type]
    with pytest.raises(RateLimited) as refused:
        await _spend_change("s1", deps)  # type: ignore[arg-type]
    assert 0 < refused.value.retry_after_s <= 10
    await _spend_change("s2", deps)  # type: ignore[arg-type]  # another stream's budget
    now[0] = T0 + timedelta(seconds=10)
    await _spend_change("s1", deps)  # type: ignore[arg-type]
