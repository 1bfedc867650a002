"""Usage and estimated Mux cost from the active periods Mux reported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stream_svc.domain.model import UsagePoint


@dataclass(frozen=True, slots=True)
class Prices:
    live_encoding_per_min: float = 0.015
    delivery_per_gb: float = 0.005
    storage_per_gb: float = 0.005
    assumed_bitrate_mbps: float = 3.5


def streamed_seconds(
    points: Iterable[UsagePoint],
    *,
    now: datetime,
    start: datetime | None = None,
    end: datetime | None = None,
) -> float:
    """Seconds between each Mux ``active`` and the next ``disconnected``/``idle`` (an open
    period counts up to ``now``), clipped to ``[start, end)``. Duplicate reports are harmless:
    a second ``active`` inside a period does not restart it."""
    total = 0.0
    opened: datetime | None = None
    for point in sorted(points, key=lambda p: (p.at, p.kind != "active")):
        if point.kind == "active":
            opened = opened or point.at
        elif opened is not None:
            total += _clip(opened, point.at, start, end)
            opened = None
    if opened is not None:
        total += _clip(opened, now, start, end)
    return total


def _clip(a: datetime, b: datetime, start: datetime | None, end: datetime | None) -> float:
    lo = max(a, start) if start else a
    hi = min(b, end) if end else b
    return max(0.0, (hi - lo).total_seconds())


def gigabytes(seconds: float, bitrate_mbps: float) -> float:
    return seconds * bitrate_mbps / 8 / 1000


def usage_report(
    *, streamed_s: float, recorded_s: float, viewer_s: float, prices: Prices
) -> dict[str, object]:
    """The usage body: which figures Mux measured and which we estimate."""
    delivery_gb = gigabytes(viewer_s, prices.assumed_bitrate_mbps)
    storage_gb = gigabytes(recorded_s, prices.assumed_bitrate_mbps)
    encoding = streamed_s / 60 * prices.live_encoding_per_min
    delivery = delivery_gb * prices.delivery_per_gb
    storage = storage_gb * prices.storage_per_gb
    return {
        "measured": {
            "seconds_streamed": round(streamed_s, 3),
            "minutes_streamed": round(streamed_s / 60, 2),
            "recording_minutes": round(recorded_s / 60, 2),
        },
        "estimated": {
            "viewer_minutes": round(viewer_s / 60, 2),
            "delivery_gb": round(delivery_gb, 4),
            "storage_gb": round(storage_gb, 4),
            "cost_usd": {
                "live_encoding": round(encoding, 6),
                "delivery": round(delivery, 4),
                "storage_per_month": round(storage, 4),
                "total": round(encoding + delivery + storage, 4),
            },
        },
        "basis": {
            "minutes_streamed": "sum of the active periods Mux reported (active -> idle)",
            "recording_minutes": "durations of the recordings Mux finished (video.asset.ready)",
            "viewer_minutes": "integral of the viewer count reported by viewer-svc",
            "gb": f"minutes x an assumed {prices.assumed_bitrate_mbps} Mbit/s",
            "prices": {
                "live_encoding_per_min": prices.live_encoding_per_min,
                "delivery_per_gb": prices.delivery_per_gb,
                "storage_per_gb": prices.storage_per_gb,
            },
        },
    }
