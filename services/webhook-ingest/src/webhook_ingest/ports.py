"""Ports of webhook-ingest."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from contracts import Envelope, Event


class Inbox(Protocol):
    """Verified Mux events, unique by Mux event id, each staging its publication."""

    async def store(self, event: dict[str, Any], envelope: Envelope[Event]) -> bool:
        """Store ``event`` and stage ``envelope`` in the same write; ``False`` if the Mux event id
        was already stored (nothing is staged again)."""
        ...

    async def find(
        self,
        *,
        ids: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Stored events (with their ``envelope``) by id or by receive time, oldest first."""
        ...


class Kicker(Protocol):
    def __call__(self, mux_event_id: str) -> None: ...
