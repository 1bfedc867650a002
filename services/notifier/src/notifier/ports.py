"""Ports of notifier: delivery channels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from notifier.domain.model import Notification


class Channel(Protocol):
    """Delivers notifications. The in-app inbox is the first channel; a webhook or web-push
    channel is the next adapter (see the README). ``deliver`` must be idempotent by
    ``notification_id``: the fan-out re-delivers the last batch after a crash."""

    async def deliver(self, notifications: Sequence[Notification]) -> int:
        """Deliver; returns how many were new."""
        ...
