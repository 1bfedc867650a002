"""Usage and estimated Mux cost, measured the way Mux bills it (no I/O).

Every billed figure is an integral over time of something Mux or viewer-svc reported, so the
figure for a window is that integral over the window: for any split of a time range into
adjacent windows, the parts add up to the whole (property-tested). Counts (streams,
recordings) are of distinct things that overlap the window, so across a split the whole is the
union of the parts, not their sum.

What Mux bills, and how each figure follows it:

* **Live streaming (input)**: by the minute while the live stream is active. Mux keeps a stream
  ``active`` through an encoder drop until the ``reconnect_window`` runs out, and only then
  sends ``video.live_stream.idle`` and completes the recording; so a period runs from
  ``video.live_stream.active`` to ``video.live_stream.idle``, ``disconnected`` inside the window
  does not close it, and deleting the stream does (Mux's "Handle live stream disconnects"
  guide: Mux waits out the window before it treats the stream as finished; the live stream
  API reference: ``active``/``idle`` mark a broadcast's start and end; Mux's "Reconnect windows
  and clean stream exits": only when the window expires does Mux finalise the asset and set
  the stream back to idle).
* **Storage**: by the minute of video stored, prorated by the share of each month it is
  stored (Mux's "Controlling your video costs": a 10-minute asset stored half a month is
  billed 5 minutes). A recording is stored from ``video.asset.ready`` until
  ``video.asset.deleted`` (we never delete recordings, so: until now).
* **Delivery**: by the minute of video delivered; we estimate it by the viewer-minutes
  integrated from viewer-svc's counts (each count holds until the next one, the last until the
  stream ended or now).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stream_svc.domain.model import UsagePoint

SOURCES = [
    "https://www.mux.com/docs/guides/handle-live-stream-disconnects",
    "https://www.mux.com/docs/api-reference/video/live-streams",
    "https://www.mux.com/blog/reconnect-windows-and-clean-stream-exits",
    "https://www.mux.com/docs/pricing/video",
    "https://www.mux.com/docs/pricing/controlling-video-costs",
]
BASIS = {
    "seconds_streamed": "sum of the periods Mux reported the live stream active: from "
    "video.live_stream.active to video.live_stream.idle (Mux keeps the stream active, and "
    "bills it, through the reconnect window after video.live_stream.disconnected), or to the "
    "stream's deletion, clipped to the window",
    "recordings": "recordings (video.asset.ready) stored at some time in the window; "
    "recording_minutes is their duration",
    "storage_minute_months": "recording minutes x the share of each calendar month they were "
    "stored within the window (Mux prorates storage by the month), from video.asset.ready to "
    "video.asset.deleted or now",
    "viewer_minutes": "integral over the window of the viewer count reported by viewer-svc "
    "(each count holds until the next one; the last until the stream ended or now): an "
    "estimate of Mux's delivered minutes",
    "streams": "streams that existed at some time in the window (created before its end, not "
    "deleted before its start, and the start not after now)",
    "additivity": "every figure but the counts (streams, recordings, recording_minutes) is an "
    "integral over time: the figures of adjacent windows add up to the figure of their union",
}


@dataclass(frozen=True, slots=True)
class Prices:
    """USD list prices, configurable (``STREAM_PRICE_*``): set them from your Mux plan."""

    live_encoding_per_min: float = 0.015
    delivery_per_min: float = 0.001
    storage_per_min_month: float = 0.003


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)``; ``None`` is unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    def overlap_s(self, a: datetime, b: datetime) -> float:
        lo = max(a, self.start) if self.start else a
        hi = min(b, self.end) if self.end else b
        return max(0.0, (hi - lo).total_seconds())

    def touches(self, a: datetime, b: datetime | None) -> bool:
        """Whether ``[a, b)`` (``b=None``: open) meets the span (an empty one never does)."""
        if b is not None and b <= a:
            return False
        return (self.end is None or a < self.end) and (
            b is None or self.start is None or b > self.start
        )


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """What usage needs of one stream: its life and its reports."""

    stream_id: str
    created_at: datetime
    points: Sequence[UsagePoint]
    ended_at: datetime | None = None
    deleted_at: datetime | None = None


@dataclass
class Usage:
    """Figures of one window; ``seconds``/``minutes`` are floats, unrounded."""

    seconds_streamed: float = 0.0
    viewer_seconds: float = 0.0
    storage_minute_months: float = 0.0
    stream_ids: set[str] = field(default_factory=set)
    recordings: dict[str, float] = field(default_factory=dict)  # asset id -> duration s


def streamed_periods(
    points: Iterable[UsagePoint], *, now: datetime, deleted_at: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The active periods: each ``active`` opens one (a repeat inside it does not restart it),
    ``idle`` closes it, ``disconnected`` does not; deletion closes an open one and nothing
    opens after it; an open period runs to ``now``."""
    stop = min(now, deleted_at) if deleted_at else now
    periods: list[tuple[datetime, datetime]] = []
    opened: datetime | None = None
    for point in sorted(points, key=lambda p: (p.at, p.kind != "active")):
        if point.at >= stop:
            break
        if point.kind == "active":
            opened = opened or point.at
        elif point.kind == "idle" and opened is not None:
            periods.append((opened, point.at))
            opened = None
    if opened is not None:
        periods.append((opened, stop))
    return periods


def viewer_seconds(points: Iterable[UsagePoint], span: Span, *, until: datetime) -> float:
    """Integral of the reported viewer count over ``span``: each count holds from its time to
    the next report's, the last one to ``until`` (the stream's end, or now)."""
    counts = sorted((p.at, p.value or 0.0) for p in points if p.kind == "viewers")
    total = 0.0
    for i, (at, n) in enumerate(counts):
        nxt = counts[i + 1][0] if i + 1 < len(counts) else max(at, until)
        total += n * span.overlap_s(at, min(nxt, max(at, until)))
    return total


def month_share(a: datetime, b: datetime, span: Span) -> float:
    """Months stored: for each calendar month (UTC), the part of ``[a, b)`` inside both the
    month and ``span``, over the month's length."""
    lo = max(a, span.start) if span.start else a
    hi = min(b, span.end) if span.end else b
    total = 0.0
    cursor = lo.astimezone(UTC)
    hi = hi.astimezone(UTC)
    while cursor < hi:
        first = cursor.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        days = calendar.monthrange(first.year, first.month)[1]
        nxt = (
            first.replace(year=first.year + 1, month=1)
            if first.month == 12
            else first.replace(month=first.month + 1)
        )
        piece_end = min(nxt, hi)
        total += (piece_end - cursor).total_seconds() / (days * 86400)
        cursor = piece_end
    return total


def measure(streams: Iterable[StreamRecord], span: Span, *, now: datetime) -> Usage:
    """The figures of ``streams`` over ``span`` (reports after ``now`` are ignored)."""
    usage = Usage()
    for s in streams:
        # a stream still there exists until now, not forever: a window after now counts none,
        # as it counts no stored recording (they are stored "until now" too)
        if span.touches(s.created_at, min(s.deleted_at or now, now)):
            usage.stream_ids.add(s.stream_id)
        periods = streamed_periods(s.points, now=now, deleted_at=s.deleted_at)
        usage.seconds_streamed += sum(span.overlap_s(a, b) for a, b in periods)
        end = min(x for x in (s.ended_at, s.deleted_at, now) if x is not None)
        usage.viewer_seconds += viewer_seconds(s.points, span, until=end)
        _recordings(s.points, span, now, usage)
    return usage


def _recordings(points: Sequence[UsagePoint], span: Span, now: datetime, usage: Usage) -> None:
    deleted = {p.ref: p.at for p in points if p.kind == "recording_deleted" and p.ref}
    for p in points:
        if p.kind != "recording" or not p.ref or p.at >= now:
            continue
        gone = min(deleted.get(p.ref) or now, now)
        if gone <= p.at or not span.touches(p.at, gone):
            continue
        usage.recordings[p.ref] = p.value or 0.0
        usage.storage_minute_months += (p.value or 0.0) / 60 * month_share(p.at, gone, span)


def usage_report(usage: Usage, prices: Prices) -> dict[str, object]:
    """The usage body: what Mux measured, what we estimate, and how (with sources)."""
    minutes = usage.seconds_streamed / 60
    viewer_minutes = usage.viewer_seconds / 60
    encoding = minutes * prices.live_encoding_per_min
    delivery = viewer_minutes * prices.delivery_per_min
    storage = usage.storage_minute_months * prices.storage_per_min_month
    return {
        "measured": {
            "seconds_streamed": usage.seconds_streamed,
            "minutes_streamed": minutes,
            "recordings": len(usage.recordings),
            "recording_minutes": sum(usage.recordings.values()) / 60,
        },
        "estimated": {
            "viewer_minutes": viewer_minutes,
            "storage_minute_months": usage.storage_minute_months,
            "cost_usd": {
                "live_encoding": encoding,
                "delivery": delivery,
                "storage": storage,
                "total": encoding + delivery + storage,
            },
        },
        "basis": {
            **BASIS,
            "prices": {
                "live_encoding_per_min": prices.live_encoding_per_min,
                "delivery_per_min": prices.delivery_per_min,
                "storage_per_min_month": prices.storage_per_min_month,
                "note": "assumed list prices in USD (STREAM_PRICE_*), before volume discounts",
            },
            "sources": SOURCES,
        },
    }
