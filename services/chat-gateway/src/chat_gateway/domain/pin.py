"""The room's pin slot: at most one pin, newest change (``at``) wins. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.pins import PinnedMessage

__all__ = ["PinSlot"]


@dataclass
class PinSlot:
    current: PinnedMessage | None = None
    at: datetime | None = None  # time of the change that set ``current``

    def set(self, pin: PinnedMessage | None, at: datetime) -> bool:
        """Merge a change (``None``: taken down); ``True`` if newer than what the room knew."""
        if self.at is not None and self.at >= at:
            return False
        self.current, self.at = pin, at
        return True

    def shown(self, now: datetime) -> PinnedMessage | None:
        """The pin if it is up at ``now`` (not past its ``until``)."""
        pin = self.current
        return pin if pin is not None and pin.shown_at(now) else None
