"""In-memory inbox for unit tests: the same uniqueness and staging rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, Event
from webhook_ingest.domain.event import stored_event


class MemoryInbox:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.staged: list[Envelope[Event]] = []

    async def store(self, event: dict[str, Any], envelope: Envelope[Event]) -> bool:
        if event["id"] in self.docs:
            return False
        self.docs[event["id"]] = {
            "_id": event["id"],
            "type": event["type"],
            "received_at": datetime.now(UTC),
            "event": stored_event(event),
            "envelope": envelope.model_dump(mode="json"),
        }
        self.staged.append(envelope)
        return True

    async def find(
        self,
        *,
        ids: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        out = [
            d
            for d in self.docs.values()
            if (not ids or d["_id"] in ids)
            and (since is None or d["received_at"] >= since)
            and (until is None or d["received_at"] < until)
        ]
        return sorted(out, key=lambda d: (d["received_at"], d["_id"]))
