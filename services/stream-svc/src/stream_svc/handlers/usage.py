"""Minutes streamed, recording minutes and an estimated Mux cost."""

from __future__ import annotations

from datetime import datetime

from stream_svc.deps import Deps
from stream_svc.domain.usage import streamed_seconds, usage_report
from stream_svc.handlers.streams import owned_stream


async def stream_usage(stream_id: str, caller: str, deps: Deps) -> dict[str, object]:
    stream = await owned_stream(stream_id, caller, deps)
    points = await deps.streams.usage_points(stream_ids=[stream_id])
    report = usage_report(
        streamed_s=streamed_seconds(points, now=deps.clock()),
        recorded_s=stream.archive_duration_s or 0.0,
        viewer_s=stream.total_viewer_seconds,
        prices=deps.config.prices,
    )
    return {"stream_id": stream_id, **report}


async def account_usage(
    caller: str, start: datetime | None, end: datetime | None, deps: Deps
) -> dict[str, object]:
    """Usage over every stream of the caller, streamed minutes clipped to ``[start, end)``;
    recordings and viewer-minutes count for streams created in the window."""
    streams = await deps.streams.of_owner(caller)
    points = await deps.streams.usage_points(stream_ids=[s.stream_id for s in streams])
    in_window = [
        s
        for s in streams
        if (start is None or s.created_at >= start) and (end is None or s.created_at < end)
    ]
    now = deps.clock()
    streamed = sum(
        streamed_seconds(
            [p for p in points if p.stream_id == s.stream_id], now=now, start=start, end=end
        )
        for s in streams
    )
    report = usage_report(
        streamed_s=streamed,
        recorded_s=sum(s.archive_duration_s or 0.0 for s in in_window),
        viewer_s=sum(s.total_viewer_seconds for s in in_window),
        prices=deps.config.prices,
    )
    return {
        "account_id": caller,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "streams": len(in_window),
        **report,
    }
