"""Chat use cases shared by the WebSocket and the HTTP API: post, delete, slow mode,
followers-only mode, gifts."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat_gateway import followers_only
from chat_gateway.adapters.mongo import (
    GIFTS,
    MESSAGES,
    VIEW,
    ChatProjection,
    ChatStore,
    GiftLedger,
)
from chat_gateway.adapters.mongo_gifts import GiftStreaks, GiftTotals, SenderTotal
from chat_gateway.domain.limits import Limiter
from chat_gateway.domain.room import RoomState
from chat_gateway.gifts import CATALOG, animation_fields
from chat_gateway.protocol import clean_text
from chat_gateway.sequencer import SendOrder, SequenceBusy, Sequencer
from contracts import Event, make_envelope
from contracts.chat import (
    ChatMessageDeleted,
    ChatMessagePosted,
    ChatMessagesPosted,
    ChatSlowModeChanged,
    GiftSent,
    PostedMessage,
)
from contracts.common import compound_key
from contracts.followers import ChatFollowersOnlyChanged
from contracts.roles import may_moderate
from contracts.ws import ChatMessageFrame
from servicekit.broker import EventPublisher
from servicekit.logs import correlation_id
from servicekit.mongo import to_ms
from servicekit.replay import FINGERPRINT, db_time, fingerprint, replay_allowed
from servicekit.unavailable import RETRY_AFTER_S

log = logging.getLogger(__name__)
PRODUCER = "chat-gateway"


class Refused(Exception):
    """A chat action refused; ``reason`` is the ``chat.error`` code, ``status`` the HTTP one."""

    def __init__(
        self,
        reason: str,
        message: str,
        status: int,
        retry_after_s: float | None = None,
        abusive: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason, self.status, self.retry_after_s, self.abusive = (
            reason,
            status,
            retry_after_s,
            abusive,
        )
        #: extra fields of the refusal (``chat.error`` and the HTTP error body carry them)
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class Posted:
    message_id: str
    seq: int
    client_msg_id: str
    duplicate: bool
    frame: ChatMessageFrame


def utcnow() -> datetime:
    return db_time(datetime.now(UTC))


def message_frame(doc: dict[str, Any]) -> ChatMessageFrame:
    return ChatMessageFrame(
        message_id=doc["_id"],
        seq=doc["seq"],
        account_id=doc["account_id"],
        text=doc["text"],
        posted_at=doc["posted_at"],
    )


class ChatService:
    def __init__(
        self,
        *,
        store: ChatStore,
        projection: ChatProjection,
        ledger: GiftLedger,
        publisher: EventPublisher,
        kick: Callable[[str, Any], None],
        limiter: Limiter,
        state_for: Callable[[str], Any],
        streaks: GiftStreaks,
        totals: GiftTotals,
        follows: followers_only.Follows,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store, self.projection, self.ledger = store, projection, ledger
        self.streaks, self.totals = streaks, totals
        self.follows = follows
        self.publisher, self.kick, self.limiter = publisher, kick, limiter
        self.state_for = state_for  # async (stream_id) -> RoomState (live room, else loaded)
        self.clock = clock
        self.sequencer = Sequencer(store, on_stored=self._announce)
        self._publishes: set[asyncio.Task[None]] = set()

    async def known_state(self, stream_id: str) -> RoomState:
        state: RoomState = await self.state_for(stream_id)
        if not state.known:
            raise Refused("unknown_stream", "no such stream", 404)
        return state

    async def post(
        self,
        stream_id: str,
        account_id: str,
        text: str,
        client_msg_id: str | None,
        arrived_at: datetime | None = None,
        order: SendOrder | None = None,
    ) -> Posted:
        """Store a message with the next sequence number and fan it out.

        A resend (same ``client_msg_id`` / ``Idempotency-Key``) is a replay, checked before
        anything else (servicekit.replay): the original, whatever the limits say now.
        ``arrived_at``: when the message reached the server; the rate budget charges it then,
        not when it is processed (issue 17: frames held back while the database stalled were
        processed as a burst and refused a sender who sent one a second).
        ``order``: the sender's posts handled concurrently still get their numbers in the order
        they were sent (:class:`chat_gateway.sequencer.SendOrder`; the caller calls its
        ``done()`` once the post returned or raised).

        Raises:
            Refused: unknown stream, read-only, banned, followers-only, rate limited, slow mode.
            ProtocolError: the text is not acceptable.
            IdempotencyKeyReused: the key was used for a different message.
        """
        state = await self.known_state(stream_id)
        request_fp = fingerprint({"message": text})
        if client_msg_id is not None:
            original = await self.store.original(stream_id, account_id, client_msg_id)
            if original is not None and replay_allowed(original, request_fp, client_msg_id):
                return _replayed(original, client_msg_id)
        now = db_time(self.clock())
        _may_post(state, account_id, now)
        await self._followers_only(state, account_id, now)
        text = clean_text(text)
        _refuse_blocked_terms(state, account_id, text, now)
        await self._spend_limits(state, account_id, now, min(arrived_at or now, now))
        return await self._store_and_publish(
            stream_id,
            account_id,
            text,
            client_msg_id or secrets.token_hex(8),
            now,
            request_fp,
            order,
        )

    async def _followers_only(self, state: RoomState, account_id: str, now: datetime) -> None:
        """Raises ``Refused`` (``followers_only``, 403) when followers-only chat keeps this
        viewer from posting; checked before any budget is spent."""
        refused = await followers_only.refusal(state, account_id, now, self.follows)
        if refused is not None:
            message, may_post_at = refused
            raise Refused(
                followers_only.REASON,
                message,
                followers_only.STATUS,
                abusive=True,  # each try costs a read of the follow: no flood without limit
                details={
                    "min_follow_minutes": state.min_follow_minutes,
                    "may_post_at": may_post_at,
                },
            )

    async def _spend_limits(
        self, state: RoomState, account_id: str, now: datetime, arrived_at: datetime
    ) -> None:
        """The shared rate budget (charged at arrival), then slow mode (viewers only).
        Raises ``Refused``."""
        wait = await self.limiter.take(state.stream_id, account_id, arrived_at)
        if wait > 0:
            raise Refused(
                "rate_limited", "you are sending too fast", 429, _retry_after(wait), abusive=True
            )
        if state.slow_mode_s and state.role(account_id, now) == "viewer":
            wait = await self.store.pass_slow_gate(
                state.stream_id, account_id, state.slow_mode_s, now
            )
            if wait > 0:
                raise Refused(
                    "slow_mode",
                    f"slow mode: one message every {state.slow_mode_s} s",
                    429,
                    _retry_after(wait),
                    abusive=True,
                )

    async def _store_and_publish(
        self,
        stream_id: str,
        account_id: str,
        text: str,
        client_msg_id: str,
        now: datetime,
        request_fp: str,
        order: SendOrder | None = None,
    ) -> Posted:
        """Sequence and store through the room's group commit (:mod:`chat_gateway.sequencer`),
        then fan out. Returns once the message is stored."""
        doc = {
            "_id": f"m_{secrets.token_hex(10)}",
            "stream_id": stream_id,
            "account_id": account_id,
            "text": text,
            "client_msg_id": client_msg_id,
            "posted_at": now,
            "deleted": False,
            FINGERPRINT: request_fp,
        }
        if order is not None:
            await order.turn()
        submitted = self.sequencer.submit(doc)
        if order is not None:
            order.done()
        try:
            stored = await submitted
        except SequenceBusy:
            raise Refused(
                "unavailable", "chat is busy; retry", 503, retry_after_s=float(RETRY_AFTER_S)
            ) from None
        if stored.duplicate:  # a concurrent resend stored it first
            replay_allowed(stored.doc, request_fp, client_msg_id)
            return _replayed(stored.doc, client_msg_id)
        return Posted(
            str(stored.doc["_id"]),
            stored.doc["seq"],
            client_msg_id,
            False,
            message_frame(stored.doc),
        )

    def _announce(self, stream_id: str, docs: list[dict[str, Any]]) -> None:
        """Fan out one write of the room's group commit: one ``chat.messages_posted`` for
        several messages (``seq`` order), a ``chat.message_posted`` for one (as before issue
        18, so instances not yet upgraded keep up; they read the messages of a batch from
        storage when they see the next number)."""
        messages = [
            PostedMessage(
                message_id=d["_id"],
                seq=d["seq"],
                account_id=d["account_id"],
                text=d["text"],
                client_msg_id=d["client_msg_id"],
                posted_at=d["posted_at"],
            )
            for d in docs
        ]
        if len(messages) == 1:
            self._publish_later(ChatMessagePosted(stream_id=stream_id, **messages[0].model_dump()))
        else:
            self._publish_later(ChatMessagesPosted(stream_id=stream_id, messages=messages))

    def _publish_later(self, event: Event) -> None:
        """Fan-out without waiting for the broker's confirm on the poster's path (publishes are
        pipelined on the channel). A message whose publication fails is still stored: rooms read
        it when they see the next sequence number (gap fill)."""
        envelope = make_envelope(event, producer=PRODUCER, correlation_id=correlation_id())

        async def publish() -> None:
            for attempt in range(3):
                try:
                    await self.publisher.publish(envelope)
                    return
                except Exception as exc:
                    log.warning(
                        "chat fan-out publish failed (attempt %d): %s", attempt + 1, repr(exc)[:200]
                    )
                    await asyncio.sleep(0.2 * (attempt + 1))

        task = asyncio.get_running_loop().create_task(publish())
        self._publishes.add(task)
        task.add_done_callback(self._publishes.discard)

    async def flush(self) -> None:
        """Wait for writes and fan-out publishes in flight (shutdown, tests)."""
        await self.sequencer.drain()
        if self._publishes:
            await asyncio.gather(*list(self._publishes), return_exceptions=True)

    async def require_moderator(self, stream_id: str, account_id: str) -> RoomState:
        state = await self.known_state(stream_id)
        if not may_moderate(state.role(account_id, self.clock())):
            raise Refused(
                "forbidden",
                "only the owner or a moderator who is not banned or timed out may do this",
                403,
            )
        return state

    async def delete(self, stream_id: str, message_id: str, account_id: str) -> bool:
        await self.require_moderator(stream_id, account_id)
        doc = await self.store.get(stream_id, message_id)
        if doc is None or doc.get("gap"):
            raise Refused("not_found", "no such message", 404)
        event = ChatMessageDeleted(
            stream_id=stream_id,
            message_id=message_id,
            seq=doc["seq"],
            deleted_by=account_id,
            deleted_at=self.clock(),
        )
        deleted = await self.store.delete(
            stream_id,
            message_id,
            account_id,
            make_envelope(event, producer=PRODUCER, correlation_id=correlation_id()),
        )
        if deleted:
            self.kick(MESSAGES, message_id)
        # also when it was deleted before: a retry takes down a pin a failed first try left up
        await self.after_delete(stream_id, message_id, account_id)
        return deleted

    async def after_delete(self, stream_id: str, message_id: str, by: str) -> None:
        """Take down the room's pin if it shows the deleted message (chat_gateway.pinning)."""
        from chat_gateway.pinning import unpin_deleted  # pinning builds on this module

        await unpin_deleted(self, stream_id, message_id, by)

    async def set_slow_mode(self, stream_id: str, interval_s: int, account_id: str) -> None:
        await self.require_moderator(stream_id, account_id)
        now = self.clock()
        event = ChatSlowModeChanged(
            stream_id=stream_id, interval_s=interval_s, set_by=account_id, at=now
        )
        envelope = make_envelope(event, producer=PRODUCER, correlation_id=correlation_id())
        if await self.projection.set_slow_mode(stream_id, interval_s, now, [envelope]):
            self.kick(VIEW, stream_id)

    async def set_followers_only(
        self, stream_id: str, enabled: bool, min_follow_minutes: int, account_id: str
    ) -> None:
        """Owner or moderator: followers-only chat on (viewers must have followed for
        ``min_follow_minutes``) or off; announced with ``chat.followers_only_changed``."""
        await self.require_moderator(stream_id, account_id)
        now = self.clock()
        event = ChatFollowersOnlyChanged(
            stream_id=stream_id,
            enabled=enabled,
            min_follow_minutes=min_follow_minutes,
            set_by=account_id,
            at=now,
        )
        envelope = make_envelope(event, producer=PRODUCER, correlation_id=correlation_id())
        if await self.projection.set_followers_only(
            stream_id, enabled, min_follow_minutes, now, [envelope]
        ):
            self.kick(VIEW, stream_id)

    async def gift(
        self,
        stream_id: str,
        sender_id: str,
        gift_type: str,
        amount: int,
        idempotency_key: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """Charge a gift once per Idempotency-Key and announce it; ``(receipt, charged_now)``.

        A retry with the same key returns the first receipt (checked first, whatever the stream
        is now); the same key with another gift, or for another stream, is refused
        (``IdempotencyKeyReused``). The gift joins its sender's combo streak (``gifts.py``)
        once, before it is stored: a replay returns the stored streak and counts nothing."""
        state = await self.known_state(stream_id)
        # the target is part of the request: the same key for another stream is another gift
        request_fp = fingerprint({"stream_id": stream_id, "gift_type": gift_type, "amount": amount})
        key = compound_key(sender_id, idempotency_key) if idempotency_key else None
        if key is not None:
            stored = await self.ledger.get(key)
            if stored is not None and replay_allowed(stored, request_fp, idempotency_key):
                return stored, False
        if gift_type not in CATALOG:
            raise Refused(
                "unknown_gift", f"unknown gift_type {gift_type!r}; see GET /gifts/catalog", 422
            )
        if sender_id == state.owner_id:
            raise Refused("own_stream", "you cannot send a gift to your own stream", 422)
        if state.read_only:
            raise Refused("stream_over", f"the stream has {state.status.value}", 409)
        if state.ban_of(sender_id, self.clock()) is not None:
            raise Refused("banned", "you are banned from this stream", 403)
        price = CATALOG[gift_type].price
        now = db_time(self.clock())
        gift_id = f"g_{secrets.token_hex(10)}"
        streak = await self.streaks.join(
            stream_id=stream_id,
            sender_id=sender_id,
            gift_type=gift_type,
            amount=amount,
            key=key or gift_id,
            at_ms=to_ms(now),
        )
        gift: dict[str, Any] = {
            "gift_id": gift_id,
            "stream_id": stream_id,
            "sender_id": sender_id,
            "recipient_id": state.owner_id,
            "gift_type": gift_type,
            "amount": amount,
            "unit_price": price,
            "total_price": price * amount,
            "sent_at": now,
            **animation_fields(gift_type),
            "streak_id": streak.streak_id,
            "streak_count": streak.count,
        }
        event = GiftSent(**gift)
        stored, charged = await self.ledger.charge(
            key or gift_id,
            {**gift, FINGERPRINT: request_fp},
            make_envelope(event, producer=PRODUCER, correlation_id=correlation_id()),
        )
        if not charged:  # a concurrent retry charged it first
            replay_allowed(stored, request_fp, idempotency_key)
        if charged:
            self.kick(GIFTS, key or gift_id)
        return stored, charged

    async def gifts_received(self, stream_id: str, account_id: str) -> list[SenderTotal]:
        """The owner only: every sender's gifts to the stream, biggest spender first.

        Raises ``Refused``: 404 for an unknown stream, 403 for anyone but the owner."""
        state = await self.known_state(stream_id)
        if account_id != state.owner_id:
            raise Refused("forbidden", "only the stream's owner sees the gifts it received", 403)
        return await self.totals.per_sender(stream_id)


def _may_post(state: RoomState, account_id: str, now: datetime) -> None:
    """Raises ``Refused`` when the stream is over or the account is banned or timed out."""
    if state.read_only:
        raise Refused("read_only", f"the stream has {state.status.value}; chat is read-only", 409)
    ban = state.ban_of(account_id, now)
    if ban is not None:
        raise Refused(
            "banned",
            "you are banned from this chat"
            if ban.expires_at is None
            else f"you are timed out until {ban.expires_at.isoformat()}",
            403,
        )


def _refuse_blocked_terms(state: RoomState, account_id: str, text: str, now: datetime) -> None:
    """Raises ``Refused`` (``blocked_term``, 422) when a viewer's text contains a term blocked
    in the room (matched on what users see: contracts.blocked_terms). The owner and moderators
    are exempt. The refusal names no term, and counts as abuse like a rate-limit refusal (on the
    socket, ``abuse_limit`` refusals within ``abuse_window_s`` close it with 4008): refused or
    not tells whether a word is blocked, so probing the list must not be free."""
    if state.role(account_id, now) == "viewer" and state.blocklist.blocks(text, now):
        raise Refused(
            "blocked_term",
            "your message contains a term that is blocked in this chat; it was not posted",
            422,
            abusive=True,  # refused or not tells a word is blocked: no probing without limit
        )


def _replayed(original: dict[str, Any], client_msg_id: str) -> Posted:
    return Posted(original["_id"], original["seq"], client_msg_id, True, message_frame(original))


def _retry_after(wait: float) -> float:
    """Seconds to tell a refused sender to wait: rounded up to 10 ms, never 0 (``round`` made a
    2 ms wait "retry after 0.0 s")."""
    return max(0.01, math.ceil(wait * 100) / 100)
