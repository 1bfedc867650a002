"""Pins are chat-gateway's (it owns the messages they show); stream-svc keeps the moderation log,
so it logs each ``chat.pin_changed`` there. Idempotent: the action id derives from the event id,
so a redelivered event is logged once."""

from __future__ import annotations

import hashlib
from uuid import UUID

from contracts.pins import ChatPinChanged
from stream_svc.deps import Deps
from stream_svc.domain.model import ModerationAction


def pin_action(p: ChatPinChanged, event_id: UUID) -> ModerationAction:
    """``message_pinned`` (the new pin) or ``message_unpinned`` (the pin taken down; reason
    ``message_deleted`` when it went with its message). ``account_id``: the pinned message's
    author, else who acted."""
    shown = p.pin or p.previous
    return ModerationAction(
        f"ma_{hashlib.sha256(f'pin:{event_id}'.encode()).hexdigest()[:20]}",
        p.stream_id,
        "message_pinned" if p.pin is not None else "message_unpinned",
        (shown.account_id if shown is not None else None) or p.by,
        p.by,
        p.at,
        p.pin.until if p.pin is not None else None,
        "message_deleted" if p.cause == "message_deleted" else None,
        detail=shown.text if shown is not None else None,
        message_id=shown.message_id if shown is not None else None,
    )


async def log_pin_change(p: ChatPinChanged, event_id: UUID, deps: Deps) -> None:
    await deps.moderation.log(pin_action(p, event_id), None)
