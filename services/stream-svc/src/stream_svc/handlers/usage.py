"""Usage of a stream or of every stream of an account over a window (see ``domain.usage``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from stream_svc.deps import Deps
from stream_svc.domain.model import LiveStream, UsagePoint
from stream_svc.domain.usage import Span, StreamRecord, measure, usage_report
from stream_svc.handlers.streams import owned_stream


async def stream_usage(
    stream_id: str,
    caller: str,
    deps: Deps,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, object]:
    """The owner's stream over ``[start, end)`` (unbounded by default). Raises ``NotFound``,
    ``Forbidden`` (see ``owned_stream``)."""
    stream = await owned_stream(stream_id, caller, deps)
    usage = measure(await _records([stream], deps), Span(start, end), now=deps.clock())
    return {
        "stream_id": stream_id,
        **_window(start, end),
        **usage_report(usage, deps.config.prices),
    }


async def account_usage(
    caller: str, start: datetime | None, end: datetime | None, deps: Deps
) -> dict[str, object]:
    """Every stream of ``caller`` (deleted ones too) over ``[start, end)``: each figure by
    overlap with the window, not by when a stream was created."""
    streams = await deps.streams.of_owner(caller)
    usage = measure(await _records(streams, deps), Span(start, end), now=deps.clock())
    return {
        "account_id": caller,
        **_window(start, end),
        "streams": len(usage.stream_ids),
        **usage_report(usage, deps.config.prices),
    }


def _window(start: datetime | None, end: datetime | None) -> dict[str, object]:
    return {"from": start.isoformat() if start else None, "to": end.isoformat() if end else None}


async def _records(streams: list[LiveStream], deps: Deps) -> list[StreamRecord]:
    points: dict[str, list[UsagePoint]] = defaultdict(list)
    for p in await deps.streams.usage_points(stream_ids=[s.stream_id for s in streams]):
        points[p.stream_id].append(p)
    return [
        StreamRecord(
            s.stream_id,
            s.created_at,
            points[s.stream_id] + _archive_without_report(s, points[s.stream_id]),
            ended_at=s.facts.ended_at,
            deleted_at=s.facts.deleted_at,
        )
        for s in streams
    ]


def _archive_without_report(stream: LiveStream, points: list[UsagePoint]) -> list[UsagePoint]:
    """A recording stored before its ``recording`` reports were kept (older data): stored from
    the stream's end (or creation)."""
    if stream.archive_asset_id is None or any(p.kind == "recording" for p in points):
        return []
    at = stream.facts.ended_at or stream.created_at
    return [
        UsagePoint(
            stream.stream_id,
            stream.owner_id,
            "recording",
            at,
            stream.archive_duration_s,
            stream.archive_asset_id,
        )
    ]
