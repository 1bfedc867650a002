"""In-memory twins of the Mongo adapters, for unit tests (same semantics)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

from contracts.common import StreamStatus
from viewer_svc.domain.model import BanView, StreamView
from viewer_svc.domain.presence import Sheet


class MemoryBoard:
    """The board in a dict, keyed by (stream, instance); each write gets a new version."""

    def __init__(self) -> None:
        self.sheets: dict[tuple[str, str], Sheet] = {}
        self._expiry: dict[tuple[str, str], int] = {}
        self._revs = itertools.count(1)

    def _store(self, sheet: Sheet, timeout_ms: int) -> None:
        key = (sheet.stream_id, sheet.instance_id)
        if sheet.empty:
            self.sheets.pop(key, None)
        else:
            self.sheets[key] = replace(sheet, rev=str(next(self._revs)))
            self._expiry[key] = sheet.next_expiry_ms(timeout_ms)

    async def write(self, sheets: list[Sheet], timeout_ms: int) -> None:
        for sheet in sheets:
            self._store(sheet, timeout_ms)

    async def read(self, stream_id: str) -> list[Sheet]:
        return [s for (stream, _), s in sorted(self.sheets.items()) if stream == stream_id]

    async def overdue(self, before_ms: int, limit: int) -> list[Sheet]:
        return [s for k, s in sorted(self.sheets.items()) if self._expiry[k] < before_ms][:limit]

    async def replace_if_unchanged(self, sheet: Sheet, timeout_ms: int) -> bool:
        current = self.sheets.get((sheet.stream_id, sheet.instance_id))
        if current is None or current.rev != sheet.rev:
            return False
        self._store(sheet, timeout_ms)
        return True


class MemoryCounts:
    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.next_at: dict[str, datetime] = {}
        self.peaks: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.accounts: dict[str, list[str]] = {}

    async def mark_changed(self, stream_id: str) -> None:
        self.changed.add(stream_id)

    async def mark_changed_many(self, stream_ids: set[str]) -> None:
        self.changed |= stream_ids

    async def claim_due(self, now: datetime, interval_s: float, limit: int) -> list[str]:
        due = [s for s in sorted(self.changed) if self.next_at.get(s, now) <= now][:limit]
        for stream_id in due:
            self.changed.discard(stream_id)
            self.next_at[stream_id] = now + timedelta(seconds=interval_s)
        return due

    async def published(self, stream_id: str, accounts: list[str]) -> tuple[int, list[str]]:
        previous = self.accounts.get(stream_id, [])
        self.accounts[stream_id] = list(accounts)
        self.counts[stream_id] = len(accounts)
        self.peaks[stream_id] = max(self.peaks.get(stream_id, 0), len(accounts))
        return self.peaks[stream_id], previous

    async def unclaim(self, stream_id: str) -> None:
        self.changed.add(stream_id)
        self.next_at.pop(stream_id, None)


class MemoryProjection:
    def __init__(self) -> None:
        self.views: dict[str, StreamView] = {}
        self.ban_entries: dict[tuple[str, str], tuple[datetime, BanView]] = {}

    async def advance(self, stream_id: str, status: StreamStatus) -> bool:
        view = self.views.get(stream_id)
        if view is not None and view.status.rank >= status.rank:
            return False
        self.views[stream_id] = StreamView(
            stream_id, status, view.owner_id if view else None, view.playback_url if view else None
        )
        return True

    async def describe(self, stream_id: str, owner_id: str, playback_url: str | None) -> None:
        view = self.views.get(stream_id)
        self.views[stream_id] = StreamView(
            stream_id, view.status if view else StreamStatus.IDLE, owner_id, playback_url
        )

    async def get(self, stream_id: str) -> StreamView | None:
        return self.views.get(stream_id)

    async def set_ban(
        self,
        stream_id: str,
        account_id: str,
        *,
        banned: bool,
        at: datetime,
        expires_at: datetime | None,
    ) -> bool:
        current = self.ban_entries.get((stream_id, account_id))
        if current is not None and current[0] >= at:
            return False
        self.ban_entries[(stream_id, account_id)] = (at, BanView(banned, expires_at))
        return True

    async def bans(self, stream_id: str) -> dict[str, BanView]:
        return {a: b for (s, a), (_, b) in self.ban_entries.items() if s == stream_id and b.banned}

    async def ban(self, stream_id: str, account_id: str) -> BanView | None:
        found = self.ban_entries.get((stream_id, account_id))
        return found[1] if found else None
