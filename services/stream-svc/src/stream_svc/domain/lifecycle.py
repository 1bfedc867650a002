"""The stream state machine, order-independent by construction.

A stream's status is not stored as the result of applying events in arrival order; it is
*derived* from facts that only ever grow, each merged with ``min``/``max``:

* ``mux_active_at``: the earliest time Mux reported the stream active;
* ``mux_idle_at``: the latest time Mux reported it no longer live (an *end signal*, below);
* ``mux_first_end_at``: the earliest such report (when the stream ended: the signals that
  follow the first one, such as the ``disabled`` our own end causes or the recording completing
  minutes later, do not move the end);
* ``owner_started_at`` / ``owner_ended_at``: the owner's start and end;
* ``deleted_at``: deleted by the owner or by Mux.

Merging is commutative, associative and idempotent, so any order and any number of repeats of
the same events give the same facts, hence the same status. The status order is forward-only:
``idle -> active -> ended``, ``deleted`` terminal.

The ended rule: a stream is **ended** when the owner ended it, or when Mux reported it idle
*after* it had been active. Mux sends ``video.live_stream.idle`` only once the encoder has stayed
away for the whole reconnect window, so a brief drop (``disconnected`` followed by a reconnect
inside the window) never ends a stream. ``disconnected`` alone never changes the status.

End signals. Any one of these ends a stream that had started, whichever arrives (a lost
delivery of one is covered by the others; Mux stops retrying a delivery after a day):

* ``video.live_stream.idle``: the reconnect window passed without the encoder;
* ``video.asset.live_stream_completed`` for the stream's recording: Mux finalised the recording,
  which it does only once the reconnect window passed (or on ``complete``), so it never fires
  for a brief drop either;
* ``video.live_stream.disabled``: the stream key no longer works, nothing can come back;
* the reconciliation (``handlers.reconcile``): an active stream with no Mux report for
  ``STREAM_RECONCILE_AFTER_S`` that Mux itself reports ``idle`` or ``disabled`` (Mux keeps
  ``active`` during the reconnect window, so this too never ends a brief drop).

None of them ends a stream that never started (a disabled stream that never went live stays
idle), so a signal arriving before ``active`` is kept and applied once ``active`` is known.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from contracts.common import StreamStatus


@dataclass(frozen=True, slots=True)
class Facts:
    mux_active_at: datetime | None = None
    mux_idle_at: datetime | None = None
    mux_first_end_at: datetime | None = None
    owner_started_at: datetime | None = None
    owner_ended_at: datetime | None = None
    deleted_at: datetime | None = None

    def merge(self, other: Facts) -> Facts:
        return Facts(
            mux_active_at=_min(self.mux_active_at, other.mux_active_at),
            mux_idle_at=_max(self.mux_idle_at, other.mux_idle_at),
            mux_first_end_at=_min(self.mux_first_end_at, other.mux_first_end_at),
            owner_started_at=_min(self.owner_started_at, other.owner_started_at),
            owner_ended_at=_min(self.owner_ended_at, other.owner_ended_at),
            deleted_at=_min(self.deleted_at, other.deleted_at),
        )

    @property
    def started_at(self) -> datetime | None:
        return _min(self.mux_active_at, self.owner_started_at)

    @property
    def ended_at(self) -> datetime | None:
        if self.owner_ended_at is not None:
            return self.owner_ended_at
        started = self.started_at
        if started is None or self.mux_idle_at is None or self.mux_idle_at <= started:
            return None
        first = self.mux_first_end_at
        # the first end signal after the start; one before it (a stream disabled before it went
        # live) says nothing about when it ended, nor does a document from before this fact
        return first if first is not None and first > started else self.mux_idle_at

    @property
    def status(self) -> StreamStatus:
        if self.deleted_at is not None:
            return StreamStatus.DELETED
        if self.ended_at is not None:
            return StreamStatus.ENDED
        if self.started_at is not None:
            return StreamStatus.ACTIVE
        return StreamStatus.IDLE


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None else min(a, b)


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


#: Mux events that say the stream is no longer live (see the module's docstring)
END_SIGNALS = frozenset(
    {
        "video.live_stream.idle",
        "video.live_stream.disabled",
        "video.asset.live_stream_completed",
    }
)


def facts_from_mux(event_type: str, at: datetime) -> Facts | None:
    """The fact a Mux live stream webhook contributes, or ``None`` (no status effect)."""
    if event_type == "video.live_stream.active":
        return Facts(mux_active_at=at)
    if event_type in END_SIGNALS:
        return end_signal(at)
    if event_type == "video.live_stream.deleted":
        return Facts(deleted_at=at)
    return None


def end_signal(at: datetime) -> Facts:
    """The facts of an end signal at ``at`` (see the module's docstring)."""
    return Facts(mux_idle_at=at, mux_first_end_at=at)


def passed_through(before: StreamStatus, after: StreamStatus) -> list[StreamStatus]:
    """The statuses newly reached moving from ``before`` to ``after`` (each announced once).

    Jumping from ``idle`` straight to ``ended`` (both Mux events arrived reversed) still passes
    through ``active``: the stream did go live, followers are told, then that it ended.
    """
    order = [StreamStatus.ACTIVE, StreamStatus.ENDED, StreamStatus.DELETED]
    if after.rank <= before.rank:
        return []
    reached = [s for s in order if before.rank < s.rank <= after.rank]
    if after == StreamStatus.DELETED:
        # a deletion is announced by itself; going live or ending is not implied by it
        return [StreamStatus.DELETED]
    return reached


def owner_start(facts: Facts, now: datetime) -> Facts:
    return replace(facts, owner_started_at=facts.owner_started_at or now)


def owner_end(facts: Facts, now: datetime) -> Facts:
    return replace(facts, owner_ended_at=facts.owner_ended_at or now)
