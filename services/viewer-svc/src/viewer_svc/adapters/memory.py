"""In-memory twins of the Mongo adapters, for unit tests (same semantics)."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.common import StreamStatus
from viewer_svc.domain.model import BanView, StreamView


class MemoryPresence:
    def __init__(self) -> None:
        self.seen: dict[tuple[str, str, str], datetime] = {}

    def _has(self, stream_id: str, account_id: str) -> bool:
        return any(k[0] == stream_id and k[1] == account_id for k in self.seen)

    async def touch(self, stream_id: str, account_id: str, session_id: str, now: datetime) -> bool:
        new = not self._has(stream_id, account_id)
        self.seen[(stream_id, account_id, session_id)] = now
        return new

    async def remove(self, stream_id: str, account_id: str, session_id: str) -> bool:
        if self.seen.pop((stream_id, account_id, session_id), None) is None:
            return False
        return not self._has(stream_id, account_id)

    async def remove_account(self, stream_id: str, account_id: str) -> bool:
        keys = [k for k in self.seen if k[0] == stream_id and k[1] == account_id]
        for key in keys:
            del self.seen[key]
        return bool(keys)

    async def expired(self, cutoff: datetime, limit: int) -> list[tuple[str, str, str]]:
        return [k for k, t in self.seen.items() if t < cutoff][:limit]

    async def remove_if_unseen_since(
        self, stream_id: str, account_id: str, session_id: str, cutoff: datetime
    ) -> bool:
        seen = self.seen.get((stream_id, account_id, session_id))
        if seen is None or seen >= cutoff:
            return False
        del self.seen[(stream_id, account_id, session_id)]
        return not self._has(stream_id, account_id)

    async def remove_stream(self, stream_id: str) -> list[str]:
        keys = [k for k in self.seen if k[0] == stream_id]
        for key in keys:
            del self.seen[key]
        return sorted({k[1] for k in keys})

    async def count(self, stream_id: str) -> int:
        return len({a for s, a, _ in self.seen if s == stream_id})


class MemoryCounts:
    def __init__(self) -> None:
        self.changed: set[str] = set()
        self.next_at: dict[str, datetime] = {}
        self.peaks: dict[str, int] = {}
        self.counts: dict[str, int] = {}

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

    async def published(self, stream_id: str, count: int) -> int:
        self.counts[stream_id] = count
        self.peaks[stream_id] = max(self.peaks.get(stream_id, 0), count)
        return self.peaks[stream_id]

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
