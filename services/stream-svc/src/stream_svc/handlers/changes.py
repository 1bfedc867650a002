"""Applying a change to a stream with optimistic concurrency and staged events."""

from __future__ import annotations

import copy
from collections.abc import Callable

from stream_svc.adapters.mongo_streams import STREAMS
from stream_svc.deps import Deps
from stream_svc.domain.errors import NotFound
from stream_svc.domain.model import LiveStream
from stream_svc.handlers.announce import lifecycle_events

Change = Callable[[LiveStream], LiveStream | None]


class Contention(RuntimeError):
    """Too many concurrent writers on one stream; the caller (or the broker) retries."""


async def change_stream(
    stream_id: str, change: Change, deps: Deps, *, attempts: int = 20
) -> LiveStream:
    """Re-read, apply ``change`` (``None``: nothing to do), write if the version still holds.

    Raises:
        NotFound: no such stream.
        Contention: still conflicting after ``attempts`` tries.
    """
    for _ in range(attempts):
        current = await deps.streams.get(stream_id)
        if current is None:
            raise NotFound(stream_id)
        updated = change(copy.deepcopy(current))
        if updated is None:
            return current
        events = lifecycle_events(current, updated, deps.config, deps.clock())
        if await deps.streams.save(updated, expected_version=current.version, envelopes=events):
            if events:
                deps.kick(STREAMS, stream_id)
            updated.version = current.version + 1
            return updated
    raise Contention(f"stream {stream_id} kept changing under us")
