"""Usage measured the way Mux bills it, by overlap with the window; figures add up (issue 23)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_svc.domain.model import UsagePoint
from stream_svc.domain.usage import (
    Prices,
    Span,
    StreamRecord,
    Usage,
    measure,
    month_share,
    usage_report,
)

T0 = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=100)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def point(kind: str, s: float, value: float | None = None, ref: str | None = None) -> UsagePoint:
    return UsagePoint("ls_1", "alice", kind, at(s), value, ref)


def record(*points: UsagePoint, deleted_s: float | None = None, **kw: Any) -> StreamRecord:
    deleted = at(deleted_s) if deleted_s is not None else None
    return StreamRecord("ls_1", T0, list(points), deleted_at=deleted, **kw)


def test_deleting_a_stream_with_its_encoder_connected_closes_the_period() -> None:
    """The issue's input: after deletion the counted time kept growing (4.3 s, then 8.4 s)."""
    stream = record(point("active", 0), deleted_s=4.3)
    for now in (at(4.3), at(8.4), NOW):
        assert measure([stream], Span(), now=now).seconds_streamed == 4.3
    late = record(point("active", 0), point("active", 6), deleted_s=4.3)
    assert measure([late], Span(), now=NOW).seconds_streamed == 4.3  # nothing opens after


def test_the_reconnect_window_is_billed_until_idle() -> None:
    """The issue's input: a drop and reconnect inside the window counted 8.4 s against a
    10.8 s recording, periods closing at ``disconnected``. Mux keeps the stream active (and
    bills it) until ``idle``."""
    stream = record(
        point("active", 0),
        point("disconnected", 4.3),
        point("active", 5.0),
        point("disconnected", 8.4),
        point("idle", 10.8),
        point("recording", 11.0, 10.8, "asset1"),
    )
    report = usage_report(measure([stream], Span(), now=NOW), Prices())
    assert report["measured"]["seconds_streamed"] == 10.8  # type: ignore[index]
    assert report["measured"]["recording_minutes"] == 10.8 / 60  # type: ignore[index]
    assert "idle" in report["basis"]["seconds_streamed"]  # type: ignore[index]
    assert "reconnect window" in report["basis"]["seconds_streamed"]  # type: ignore[index]
    assert report["basis"]["sources"]  # type: ignore[index]


def test_a_window_after_creation_counts_the_stream_it_measures() -> None:
    """The issue's input: a window starting after creation reported streamed seconds but
    ``streams: 0``."""
    stream = record(point("active", 100), point("idle", 400))
    usage = measure([stream], Span(at(200), None), now=NOW)
    assert (usage.seconds_streamed, usage.stream_ids) == (200.0, {"ls_1"})


def test_a_window_after_now_counts_no_stream() -> None:
    """Found by atk1: ``/me/usage?from=9999-12-31T23:59:59Z`` reported ``streams: 1`` (a
    stream still there counted as existing forever) beside no recording and 0 s: what exists
    until now is counted until now, like a stored recording."""
    stream = record(point("active", 0), point("idle", 60), point("recording", 61, 60.0, "a1"))
    future = measure([stream], Span(NOW + timedelta(days=1), None), now=NOW)
    assert (future.stream_ids, future.recordings, future.seconds_streamed) == (set(), {}, 0)
    across = measure([stream], Span(NOW - timedelta(seconds=1), NOW + timedelta(days=1)), now=NOW)
    assert (across.stream_ids, set(across.recordings)) == ({"ls_1"}, {"a1"})
    assert measure([stream], Span(NOW, None), now=NOW).stream_ids == set()


def test_a_recording_is_billed_for_storage_while_it_is_stored() -> None:
    """The issue's input: a window after the recording finished reported storage 0 while the
    asset was still stored. Mux prorates storage by the share of the month stored."""
    stream = record(
        point("active", 0), point("idle", 600), point("recording", 610, 600.0, "asset1")
    )
    later = Span(at(86400 * 20), at(86400 * 25))  # 2026-02-09 .. 02-14: 5 of February's 28 days
    usage = measure([stream], later, now=NOW)
    assert usage.recordings == {"asset1": 600.0}
    assert math.isclose(usage.storage_minute_months, 10 * 5 / 28)
    assert usage.seconds_streamed == 0
    gone = record(
        point("recording", 610, 600.0, "asset1"),
        point("recording_deleted", 86400 * 2, ref="asset1"),
    )
    assert measure([gone], later, now=NOW).recordings == {}


def test_viewer_counts_hold_until_the_next_one_in_any_arrival_order() -> None:
    counts = [point("viewers", 30, 3), point("viewers", 0, 5), point("viewers", 60, 0)]
    stream = record(*counts, ended_at=at(90))
    assert measure([stream], Span(), now=NOW).viewer_seconds == 5 * 30 + 3 * 30
    assert measure([stream], Span(at(15), at(45)), now=NOW).viewer_seconds == 5 * 15 + 3 * 15
    live = record(point("viewers", 0, 2))  # still live: the last count holds until now
    assert measure([live], Span(), now=at(10)).viewer_seconds == 20


def test_month_share_prorates_by_each_calendar_month() -> None:
    jan31, mar1 = datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    assert math.isclose(month_share(jan31, mar1, Span()), 1 / 31 + 1.0)


# ---- additivity ---------------------------------------------------------------------------

DAY = 86400.0
KINDS = ["active", "active", "disconnected", "idle", "viewers", "recording", "recording_deleted"]
offsets = st.floats(min_value=0, max_value=80 * DAY, allow_nan=False)


@st.composite
def streams(draw: st.DrawFn) -> list[StreamRecord]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        points = []
        for _ in range(draw(st.integers(0, 12))):
            kind = draw(st.sampled_from(KINDS))
            value = draw(st.floats(0, 500)) if kind in ("viewers", "recording") else None
            ref = f"a{draw(st.integers(0, 2))}" if kind.startswith("recording") else None
            points.append(UsagePoint(f"ls_{i}", "alice", kind, at(draw(offsets)), value, ref))
        created = at(draw(offsets))
        ended = draw(st.none() | offsets.map(at))
        deleted = draw(st.none() | offsets.map(at))
        out.append(StreamRecord(f"ls_{i}", created, points, ended, deleted))
    return out


ADDITIVE = ["seconds_streamed", "viewer_seconds", "storage_minute_months"]


def _close(parts: list[float], whole: float) -> bool:
    return math.isclose(math.fsum(parts), whole, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=150, deadline=None)
@given(
    streams(),
    st.lists(offsets, min_size=1, max_size=6),
    st.booleans(),
    st.booleans(),
    st.floats(0, 100 * DAY),
)
def test_any_split_into_adjacent_windows_adds_up_to_the_whole(
    records: list[StreamRecord], cuts: list[float], open_start: bool, open_end: bool, now_s: float
) -> None:
    now = at(now_s)
    bounds = sorted(set(cuts))
    edges: list[datetime | None] = [at(c) for c in bounds]
    if open_start or len(edges) == 1:
        edges.insert(0, None)
    if open_end or len(edges) == 1:
        edges.append(None)
    whole = measure(records, Span(edges[0], edges[-1]), now=now)
    parts = [measure(records, Span(a, b), now=now) for a, b in pairwise(edges)]
    for name in ADDITIVE:
        assert _close([getattr(p, name) for p in parts], getattr(whole, name)), name
    assert set().union(*(p.stream_ids for p in parts)) == whole.stream_ids
    assert set().union(*(p.recordings for p in parts)) == set(whole.recordings)
    _costs_add_up(parts, whole)


def _costs_add_up(parts: list[Usage], whole: Usage) -> None:
    def costs(u: Usage) -> dict[str, float]:
        report = usage_report(u, Prices())
        estimated: dict[str, Any] = report["estimated"]  # type: ignore[assignment]
        measured: dict[str, Any] = report["measured"]  # type: ignore[assignment]
        return {
            **estimated["cost_usd"],
            "minutes_streamed": measured["minutes_streamed"],
            "viewer_minutes": estimated["viewer_minutes"],
        }

    each = [costs(p) for p in parts]
    for name, value in costs(whole).items():
        assert _close([c[name] for c in each], value), name
