"""Pin use cases (owner or moderator): pin a message of the room or an announcement, optionally
until a time; unpin; and take the pin down when its message is deleted. Each change is one
conditional write of ``chat_pins`` staging ``chat.pin_changed`` (outbox): every gateway instance
shows it (``pin`` frame), rooms loaded later read it, and stream-svc logs it in the moderation
log. Expiry needs no write: ``hello`` leaves an expired pin out, rooms send ``pin: null`` at
``until`` and clients take it down at ``until`` themselves."""

from __future__ import annotations

import secrets
from datetime import datetime

from chat_gateway.adapters.mongo_room_extras import PINS
from chat_gateway.service import PRODUCER, ChatService, Refused
from contracts import make_envelope
from contracts.pins import ChatPinChanged, PinnedMessage
from servicekit.logs import correlation_id
from servicekit.replay import db_time

#: Longest a pin may stay up (seconds): a week.
MAX_PIN_S = 7 * 24 * 3600


async def pin(
    service: ChatService,
    stream_id: str,
    account_id: str,
    *,
    message_id: str | None,
    text: str | None,
    until: datetime | None,
) -> PinnedMessage:
    """Put a pin up (replacing any). Raises ``Refused``: ``forbidden``, ``not_found`` (no such
    visible message), ``invalid_until`` (past, or more than a week ahead)."""
    await service.require_moderator(stream_id, account_id)
    now = db_time(service.clock())
    if until is not None and not 0 < (until - now).total_seconds() <= MAX_PIN_S:
        raise Refused("invalid_until", "until must be in the future, at most a week ahead", 422)
    if message_id is not None:
        doc = await service.store.get(stream_id, message_id)
        if doc is None or doc.get("deleted") or doc.get("gap"):
            raise Refused("not_found", "no such message", 404)
        subject = {"message_id": message_id, "seq": doc["seq"], "account_id": doc["account_id"]}
        text = doc["text"]
    else:
        subject = {}
    new = PinnedMessage(
        pin_id=f"p_{secrets.token_hex(8)}",
        text=text or "",
        pinned_by=account_id,
        pinned_at=now,
        until=db_time(until) if until is not None else None,
        **subject,
    )
    previous = (await service.projection.pins.load(stream_id)).shown(now)
    if not await _change(service, stream_id, new, previous, "pinned", account_id, now):
        raise Refused("conflict", "the pin changed at the same moment; retry", 409)
    if message_id is not None:
        # A delete racing this pin writes the deletion, then looks for a pin of the message
        # (ChatService.delete); this writes the pin, then looks at the message again: of the
        # two, at least one sees the other's write, so a deleted message never stays pinned.
        doc = await service.store.get(stream_id, message_id)
        if doc is None or doc.get("deleted"):
            await unpin_deleted(service, stream_id, message_id, account_id)
            raise Refused("not_found", "no such message (deleted meanwhile)", 404)
    return new


async def unpin(service: ChatService, stream_id: str, account_id: str) -> bool:
    """Take the pin down; ``False`` when none is up."""
    await service.require_moderator(stream_id, account_id)
    now = db_time(service.clock())
    previous = (await service.projection.pins.load(stream_id)).shown(now)
    if previous is None:
        return False
    return await _change(service, stream_id, None, previous, "unpinned", account_id, now)


async def unpin_deleted(service: ChatService, stream_id: str, message_id: str, by: str) -> None:
    """The message ``message_id`` was deleted: take the pin down if it shows it."""
    now = db_time(service.clock())
    previous = (await service.projection.pins.load(stream_id)).shown(now)
    if previous is not None and previous.message_id == message_id:
        await _change(service, stream_id, None, previous, "message_deleted", by, now)


async def _change(
    service: ChatService,
    stream_id: str,
    new: PinnedMessage | None,
    previous: PinnedMessage | None,
    cause: str,
    by: str,
    now: datetime,
) -> bool:
    event = ChatPinChanged(
        stream_id=stream_id,
        pin=new,
        previous=previous,
        cause=cause,  # type: ignore[arg-type]
        by=by,
        at=now,
    )
    envelope = make_envelope(event, producer=PRODUCER, correlation_id=correlation_id())
    if not await service.projection.pins.set(stream_id, new, now, [envelope]):
        return False
    service.kick(PINS, stream_id)
    return True
