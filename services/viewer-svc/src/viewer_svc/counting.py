"""The batched side of presence: write this instance's sheets, merge every instance's into
counts, publish them (coalesced, with the joins and leaves since the last publication), and
expire what nobody saw within the presence timeout. Each is safe to run in every instance."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Literal

from bson.errors import InvalidDocument
from pymongo.errors import PyMongoError

from contracts import Event, make_envelope
from contracts.common import StreamStatus
from contracts.viewer import ViewerCountChanged, ViewerJoined, ViewerLeft
from servicekit.logs import correlation_id
from servicekit.unavailable import unavailable_dependency
from viewer_svc.deps import Deps
from viewer_svc.domain.model import BanView, StreamView
from viewer_svc.domain.presence import Sheet, live_accounts

log = logging.getLogger(__name__)
PRODUCER = "viewer-svc"
OVER = (StreamStatus.ENDED, StreamStatus.DELETED)
LeaveReason = Literal["left", "timeout", "banned", "stream_ended"]


@dataclass(frozen=True, slots=True)
class Merged:
    """A stream's presence merged over every instance (see ``domain/presence.py``)."""

    accounts: frozenset[str]
    view: StreamView | None = None
    bans: dict[str, BanView] = field(default_factory=dict)
    sheets: tuple[Sheet, ...] = ()


async def stream_view(stream_id: str, deps: Deps) -> StreamView | None:
    if deps.hot is None:
        return await deps.projection.get(stream_id)
    return await deps.hot.reads.get(("view", stream_id), lambda: deps.projection.get(stream_id))


async def stream_bans(stream_id: str, deps: Deps) -> dict[str, BanView]:
    if deps.hot is None:
        return await deps.projection.bans(stream_id)
    return await deps.hot.reads.get(("bans", stream_id), lambda: deps.projection.bans(stream_id))


async def merged(stream_id: str, deps: Deps, *, stored: bool = False) -> Merged:
    """Accounts counted in the stream now: every other instance's sheet as last written, this
    instance's from memory (``stored``: as last written too, so that whichever instance
    publishes a count sees the same sets and an account never flaps between two publications);
    none once the stream is over, never an actively banned account."""
    view = await stream_view(stream_id, deps)
    if view is None or view.status in OVER:
        return Merged(frozenset(), view)
    bans = await stream_bans(stream_id, deps)
    me = deps.live.instance_id
    board = await deps.board.read(stream_id)
    if stored:
        sheets: tuple[Sheet, ...] = tuple(board)
    else:
        sheets = (*(s for s in board if s.instance_id != me), deps.live.sheet(stream_id))
    now = deps.clock()
    accounts = live_accounts(sheets, deps.now_ms(), deps.timeout_ms)
    banned = {a for a, b in bans.items() if b.active(now)}
    return Merged(frozenset(accounts - banned), view, bans, sheets)


async def viewer_count(stream_id: str, deps: Deps) -> int:
    """The exact count now (as of the other instances' last batch)."""
    return len((await merged(stream_id, deps)).accounts)


async def flush(deps: Deps) -> int:
    """Write the sheets of this instance's streams that changed since the last batch (one bulk
    write) and mark their counts changed; a failed write keeps them pending.

    A sheet the database refuses on its own (on MongoDB, a stream whose sessions on this
    instance pass the 16 MB document limit: ``DocumentTooLarge``) does not hold the other
    streams back: the batch is written again one sheet at a time, every stream written is
    marked, and the refused ones stay pending and are logged. An unavailable database still
    fails the whole batch (raised: the caller retries).

    Returns:
        The number of streams written.
    """
    changed = deps.live.take_changed()
    if not changed:
        return 0
    sheets = [deps.live.sheet(s) for s in sorted(changed)]
    try:
        await deps.board.write(sheets, deps.timeout_ms)
        written = changed
    except BaseException as exc:
        if len(sheets) == 1 or not _refused_by_the_database(exc):
            deps.live.changed |= changed
            raise
        written = await _write_one_by_one(sheets, deps)
    try:
        await deps.counts.mark_changed_many(written)
    except BaseException:
        deps.live.changed |= changed
        raise
    return len(written)


async def _write_one_by_one(sheets: list[Sheet], deps: Deps) -> set[str]:
    written: set[str] = set()
    try:
        for sheet in sheets:
            try:
                await deps.board.write([sheet], deps.timeout_ms)
            except Exception as exc:
                if not _refused_by_the_database(exc):
                    raise
                deps.live.changed.add(sheet.stream_id)
                log.error(
                    "presence sheet of stream %s refused by the database: %r",
                    sheet.stream_id,
                    exc,
                )
            else:
                written.add(sheet.stream_id)
    except BaseException:
        deps.live.changed |= {s.stream_id for s in sheets} - written
        raise
    return written


def _refused_by_the_database(exc: BaseException) -> bool:
    """The database answered and refused this write (too large, invalid), as opposed to being
    unavailable (``servicekit.unavailable``): retrying other sheets can succeed."""
    refused = isinstance(exc, PyMongoError | InvalidDocument)  # DocumentTooLarge is the latter
    return refused and unavailable_dependency(exc) is None


async def expire(deps: Deps, *, limit: int = 500) -> int:
    """Forget this instance's sessions unseen for the presence timeout and its streams that are
    over; prune the overdue sheets another instance left (it crashed), each conditional on the
    version read, so a live owner's newer write always wins. Returns the sessions expired."""
    now_ms, timeout_ms = deps.now_ms(), deps.timeout_ms
    expired = deps.live.expire(now_ms, timeout_ms)
    for stream_id in deps.live.streams():
        view = await stream_view(stream_id, deps)
        if view is not None and view.status in OVER:
            deps.live.drop_stream(stream_id)
    grace_ms = int(deps.prune_grace_s * 1000)
    for sheet in await deps.board.overdue(now_ms - grace_ms, limit):
        if sheet.instance_id == deps.live.instance_id:
            continue  # ours: rewritten by our own next batch
        if await deps.board.replace_if_unchanged(sheet.pruned(now_ms, timeout_ms), timeout_ms):
            await deps.counts.mark_changed(sheet.stream_id)
    return expired


def _reason(account: str, m: Merged, deps: Deps) -> LeaveReason:
    if m.view is None or m.view.status in OVER:
        return "stream_ended"
    ban = m.bans.get(account)
    if ban is not None and ban.active(deps.clock()):
        return "banned"
    if any(k[0] == account for s in m.sheets for k in s.ended):
        return "left"
    return "timeout"


async def publish_counts(deps: Deps, *, limit: int = 500) -> int:
    """Publish the merged count of each stream whose presence changed, at most once per stream
    per interval across all instances (a failed publication stays pending), then announce the
    accounts that joined and left since the previous publication (ephemeral, direct). Counts
    merge the stored sheets only: run :func:`flush` first (the presence batch does)."""
    published = 0
    for stream_id in await deps.counts.claim_due(deps.clock(), deps.count_interval_s, limit):
        m = await merged(stream_id, deps, stored=True)
        accounts = sorted(m.accounts)
        peak, before = await deps.counts.published(stream_id, accounts)
        event = ViewerCountChanged(
            stream_id=stream_id, viewer_count=len(accounts), peak=peak, as_of=deps.clock()
        )
        try:
            await deps.publisher.publish(make_envelope(event, producer=PRODUCER))
        except Exception:
            await deps.counts.unclaim(stream_id)
            raise
        published += 1
        await _announce_changes(stream_id, m, set(before), deps)
    return published


async def _announce_changes(stream_id: str, m: Merged, before: set[str], deps: Deps) -> None:
    """``viewer.joined`` for the accounts new since the previous publication, ``viewer.left``
    for those gone; published concurrently, 100 at a time (a busy stream's second may hold
    hundreds, and the presence batch waits for them)."""
    now = deps.clock()
    events: list[Event] = [
        ViewerJoined(stream_id=stream_id, account_id=a, joined_at=now)
        for a in sorted(m.accounts - before)
    ]
    events += [
        ViewerLeft(stream_id=stream_id, account_id=a, left_at=now, reason=_reason(a, m, deps))
        for a in sorted(before - m.accounts)
    ]
    for i in range(0, len(events), 100):
        await asyncio.gather(*(_announce(e, deps) for e in events[i : i + 100]))


async def _announce(payload: Event, deps: Deps) -> None:
    """Joins and leaves are ephemeral: published directly, a broker outage drops them (the
    coalesced count, which other services use, is kept pending and published later)."""
    try:
        await deps.publisher.publish(
            make_envelope(payload, producer=PRODUCER, correlation_id=correlation_id())
        )
    except Exception as exc:
        log.warning("could not publish %s: %s", payload.TYPE, repr(exc)[:200])
