"""Ports of viewer-svc."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from contracts.common import StreamStatus
from viewer_svc.domain.model import BanView, StreamView
from viewer_svc.domain.presence import Sheet


class Board(Protocol):
    """Every instance's presence, one :class:`Sheet` per (stream, instance), written in
    batches by its instance; the count of a stream is merged from its sheets."""

    async def write(self, sheets: list[Sheet], timeout_ms: int) -> None:
        """Store these sheets of their instance as they are (an empty one is removed)."""
        ...

    async def read(self, stream_id: str) -> list[Sheet]:
        """Every instance's sheet of the stream."""
        ...

    async def overdue(self, before_ms: int, limit: int) -> list[Sheet]:
        """Sheets holding an entry that stopped mattering before ``before_ms`` (epoch ms):
        normally pruned by their own instance, left behind when it crashed."""
        ...

    async def replace_if_unchanged(self, sheet: Sheet, timeout_ms: int) -> bool:
        """Store ``sheet`` only if its stored version is still ``sheet.rev`` (another instance
        pruning a sheet never overwrites a newer write of its owner); ``True`` if stored."""
        ...


class Counts(Protocol):
    """Per-stream count bookkeeping for coalesced ``viewer.count_changed``."""

    async def mark_changed(self, stream_id: str) -> None: ...

    async def mark_changed_many(self, stream_ids: set[str]) -> None: ...

    async def claim_due(self, now: datetime, interval_s: float, limit: int) -> list[str]:
        """Streams changed since their last publication whose interval has passed, claimed
        (across instances) for publication now."""
        ...

    async def published(self, stream_id: str, accounts: list[str]) -> tuple[int, list[str]]:
        """Record the accounts counted in a published count; returns the peak and the accounts
        of the previous publication (whose difference is announced as joins and leaves)."""
        ...

    async def unclaim(self, stream_id: str) -> None:
        """Publication failed: keep the stream marked changed."""
        ...


class Projection(Protocol):
    async def advance(self, stream_id: str, status: StreamStatus) -> bool:
        """Move the status forward only; ``True`` if it moved."""
        ...

    async def describe(self, stream_id: str, owner_id: str, playback_url: str | None) -> None: ...

    async def get(self, stream_id: str) -> StreamView | None: ...

    async def set_ban(
        self,
        stream_id: str,
        account_id: str,
        *,
        banned: bool,
        at: datetime,
        expires_at: datetime | None,
    ) -> bool:
        """Last write wins by ``at``; ``True`` if applied."""
        ...

    async def ban(self, stream_id: str, account_id: str) -> BanView | None: ...

    async def bans(self, stream_id: str) -> dict[str, BanView]: ...
