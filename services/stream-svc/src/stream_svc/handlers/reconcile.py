"""The safety net for lost Mux deliveries: ask Mux about streams we think are live.

Rule: a stream that is ``active`` here, that Mux had reported active, and that has had no Mux
report for ``after`` (``STREAM_RECONCILE_AFTER_S``, default 10 minutes) is looked up on Mux
(``GET /video/v1/live-streams/{id}`` through mux-python) and what Mux reports is applied as if
it had been delivered now:

* ``active``: nothing changes, the check counts as a report (asked again ``after`` later);
* ``idle`` or ``disabled``: an end signal (see ``domain.lifecycle``); Mux keeps ``active`` for
  the whole reconnect window, so a brief drop is never ended by this;
* the live stream no longer exists on Mux (404): the stream **ends** (an end signal), it is
  not deleted. Deletion is permanent (the stream, its page and its archive go) and a 404 is
  also what credentials for another Mux environment get for every stream: one pass would
  delete every quiet live stream. Only ``DELETE /live/{id}`` or Mux's
  ``video.live_stream.deleted`` delivery deletes.

A stream only the owner started (``PUT /start``, Mux never reported it active) is not asked
about: Mux's ``idle`` says nothing new about it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from stream_svc.deps import Deps
from stream_svc.domain.errors import MuxNotFound, NotFound
from stream_svc.domain.lifecycle import Facts, end_signal
from stream_svc.domain.model import LiveStream
from stream_svc.handlers.changes import change_stream

log = logging.getLogger(__name__)

#: Mux statuses that end a stream that had started
ENDED_ON_MUX = frozenset({"idle", "disabled"})


async def reconcile_quiet_streams(deps: Deps, *, after_s: float, limit: int = 100) -> int:
    """One pass of the rule above over up to ``limit`` candidates; how many changed status.

    Raises:
        MuxUnavailable: Mux kept failing (the next pass retries).
    """
    now = deps.clock()
    changed = 0
    for stream in await deps.streams.quiet_active(
        silent_since=now - timedelta(seconds=after_s), limit=limit
    ):
        if not stream.mux_live_stream_id:
            continue
        try:
            status = (await deps.mux.get(stream.mux_live_stream_id)).status
            fact = end_signal(now) if status in ENDED_ON_MUX else None
        except MuxNotFound:
            status, fact = "not found", end_signal(now)

        def apply(s: LiveStream, fact: Facts | None = fact) -> LiveStream | None:
            heard = s.heard_from_mux(now)
            if fact is None or s.facts.merge(fact) == s.facts:
                return s if heard else None
            s.facts = s.facts.merge(fact)
            return s

        try:
            result = await change_stream(stream.stream_id, apply, deps)
        except NotFound:
            continue
        if result.status != stream.status:
            changed += 1
            log.warning(
                "reconciled a stream with Mux",
                extra={"stream_id": stream.stream_id, "mux_status": status},
            )
    return changed
