"""Ports of viewer-svc."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from contracts.common import StreamStatus
from viewer_svc.domain.model import BanView, StreamView


class Presence(Protocol):
    """One presence per (stream, account, session); an account counts once while at least one
    of its sessions is present, so counts are derived and exact."""

    async def touch(self, stream_id: str, account_id: str, session_id: str, now: datetime) -> bool:
        """Record that the session is watching now; ``True`` if the account had no session in
        the stream before (a join)."""
        ...

    async def remove(self, stream_id: str, account_id: str, session_id: str) -> bool:
        """End one session; ``True`` if it was present and was the account's last (a leave)."""
        ...

    async def remove_account(self, stream_id: str, account_id: str) -> bool:
        """End every session of the account (a ban); ``True`` if it had any."""
        ...

    async def expired(self, cutoff: datetime, limit: int) -> list[tuple[str, str, str]]:
        """(stream, account, session) last seen before ``cutoff``."""
        ...

    async def remove_if_unseen_since(
        self, stream_id: str, account_id: str, session_id: str, cutoff: datetime
    ) -> bool:
        """End the session only if still unseen since ``cutoff`` (no race with a heartbeat);
        ``True`` if it was the account's last (a leave)."""
        ...

    async def remove_stream(self, stream_id: str) -> list[str]:
        """Remove every presence of a stream; the accounts removed."""
        ...

    async def count(self, stream_id: str) -> int:
        """Distinct accounts with at least one session in the stream."""
        ...


class Counts(Protocol):
    """Per-stream count bookkeeping for coalesced ``viewer.count_changed``."""

    async def mark_changed(self, stream_id: str) -> None: ...

    async def mark_changed_many(self, stream_ids: set[str]) -> None: ...

    async def claim_due(self, now: datetime, interval_s: float, limit: int) -> list[str]:
        """Streams changed since their last publication whose interval has passed, claimed
        (across instances) for publication now."""
        ...

    async def published(self, stream_id: str, count: int) -> int:
        """Record a published count; returns the peak."""
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
