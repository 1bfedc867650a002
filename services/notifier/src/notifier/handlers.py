"""Use cases of notifier: follows, go-live fan-out (exactly once per follower and stream), gift
and ban notifications."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from contracts import Envelope, Event, derived_event_id, make_envelope
from contracts.common import compound_key
from contracts.notification import (
    FollowCreated,
    FollowRemoved,
    NotificationCreated,
    NotificationsCreated,
)
from notifier.adapters.mongo import FOLLOWS, NOTIFICATIONS, Announce
from notifier.deps import Deps
from notifier.domain import model
from notifier.domain.model import FollowRateLimited, Notification, SelfFollow
from servicekit import tracing
from servicekit.logs import correlation_id
from servicekit.mongo import to_ms

log = logging.getLogger(__name__)
PRODUCER = "notifier"


async def follow(follower_id: str, followee_id: str, deps: Deps) -> bool:
    """``True`` if newly followed; repeating changes nothing. The follow and its
    ``follow.created`` (with the pair's next ``version``) are one write (outbox).

    A repeat (a retried ``PUT``) is answered before the rate budget is spent or checked, as
    every replay is (servicekit.replay: the duplicate check comes first): it changes nothing,
    so no limit refuses it and it costs the caller no follow.

    Raises:
        SelfFollow: following yourself.
        FollowRateLimited: ``follower_id`` followed too fast (``deps.follow_limiter``).
    """
    if follower_id == followee_id:
        raise SelfFollow("you cannot follow yourself")
    if await deps.follows.follows(follower_id, followee_id):
        return False
    wait = await deps.follow_limiter.take(follower_id, to_ms(deps.clock()))
    if wait > 0:
        raise FollowRateLimited(wait)
    now = deps.clock()
    changed = await deps.follows.follow(
        follower_id, followee_id, now, announce_follow(follower_id, followee_id, now)
    )
    if changed:
        deps.kick(FOLLOWS, compound_key(follower_id, followee_id))
    return changed


async def unfollow(follower_id: str, followee_id: str, deps: Deps) -> bool:
    """``True`` if a follow ended; announced with ``follow.removed`` in the same write."""
    changed = await deps.follows.unfollow(
        follower_id, followee_id, announce_unfollow(follower_id, followee_id, deps.clock())
    )
    if changed:
        deps.kick(FOLLOWS, compound_key(follower_id, followee_id))
    return changed


def announce_follow(follower_id: str, followee_id: str, now: datetime) -> Announce:
    """``version -> follow.created`` for a follow beginning at ``now``."""
    return lambda version: _envelope(
        FollowCreated(follower_id=follower_id, followee_id=followee_id, since=now, version=version)
    )


def announce_unfollow(follower_id: str, followee_id: str, now: datetime) -> Announce:
    """``version -> follow.removed`` for a follow ending at ``now``."""
    return lambda version: _envelope(
        FollowRemoved(
            follower_id=follower_id, followee_id=followee_id, removed_at=now, version=version
        )
    )


def _envelope(event: FollowCreated | FollowRemoved) -> Envelope[Event]:
    # one id per (pair, version): a change staged twice is one event for consumers
    key = compound_key(event.follower_id, event.followee_id, str(event.version), sep=":")
    return make_envelope(
        event,
        producer=PRODUCER,
        correlation_id=correlation_id(),
        event_id=derived_event_id(event.TYPE, key),
    )


# ---- go live ----------------------------------------------------------------------------------


async def went_live(stream_id: str, at: datetime, deps: Deps) -> bool:
    """stream-svc's ``stream.started`` (any number of times, in any order with the stream's
    other events): records the stream's one campaign. The fan-out runs in the background.

    stream-svc owns the lifecycle: raw Mux events never start a campaign (a late ``active`` for
    a deleted stream would tell every follower about a stream that no longer exists), and a
    stream already ended or deleted gets its campaign cancelled at once."""
    return await deps.campaigns.trigger(stream_id, at)


async def stream_over(stream_id: str, deps: Deps) -> None:
    """``stream.ended`` / ``stream.deleted``: a campaign not yet sent is cancelled, one under
    way stops before its next batch."""
    await deps.campaigns.stream_over(stream_id)


async def stream_known(stream_id: str, owner_id: str, title: str, deps: Deps) -> None:
    await deps.campaigns.describe(stream_id, owner_id, title)


async def fan_out_one(deps: Deps) -> int | None:
    """Claim one ready campaign and deliver it to every follower, batch by batch, moving the
    cursor after each batch (a crash resumes at the last cursor once the lease ends; the batch
    in flight is delivered again and deduplicated by notification id). Returns how many
    notifications were new, or ``None`` when no campaign was waiting."""
    campaign = await deps.campaigns.claim(deps.clock(), deps.fanout_lease_s)
    if campaign is None:
        return None
    with tracing.span("notifier golive campaign", parent=campaign.get("trace")):
        return await _fan_out(campaign, deps)


async def _fan_out(campaign: dict[str, Any], deps: Deps) -> int:
    stream_id, owner_id, title = campaign["_id"], campaign["owner_id"], campaign.get("title", "")
    cursor, new = campaign.get("cursor", ""), 0
    while True:
        if await deps.campaigns.is_over(stream_id):
            await deps.campaigns.cancel(stream_id)
            return new
        followers = await deps.follows.followers_after(owner_id, cursor, deps.fanout_batch)
        if not followers:
            break
        now = deps.clock()
        due = await _not_told_recently(stream_id, owner_id, followers, now, deps)
        batch = [model.go_live(stream_id, owner_id, title, f, now) for f in due]
        delivered = await deps.inbox.deliver(batch)
        if batch:
            await _announce_batch(stream_id, cursor, batch, deps)
        cursor = followers[-1]
        await deps.campaigns.advance(
            stream_id, cursor, delivered, deps.clock(), deps.fanout_lease_s
        )
        new += delivered
        if len(followers) < deps.fanout_batch:
            break
    await deps.campaigns.finish(stream_id)
    return new


async def _not_told_recently(
    stream_id: str, owner_id: str, followers: list[str], now: datetime, deps: Deps
) -> list[str]:
    """Owncast's rule against duplicate alerts: at most one go-live notification per streamer
    per follower within ``golive_window_s``, however many streams the streamer creates, even
    when two of them go live at once on two replicas (the followers are claimed for this
    stream before anyone is told). A follower claimed for *this* stream stays due (a batch
    redone after a crash is deduplicated by notification id instead)."""
    return await deps.sent.claim(
        owner_id, followers, stream_id, now, since=now - timedelta(seconds=deps.golive_window_s)
    )


async def _announce_batch(
    stream_id: str, cursor: str, batch: list[Notification], deps: Deps
) -> None:
    first = batch[0]
    event = NotificationsCreated(
        kind=first.kind,
        title=first.title,
        body=first.body,
        data=first.data,
        account_ids=[n.account_id for n in batch],
        notification_ids=[n.notification_id for n in batch],
        created_at=first.created_at,
    )
    # same id when a batch is redone after a crash: consumers dedupe it
    envelope = make_envelope(
        event,
        producer=PRODUCER,
        correlation_id=correlation_id(),
        event_id=derived_event_id("golive", compound_key(stream_id, cursor, sep=":")),
    )
    await deps.publisher.publish(envelope)


# ---- single notifications -----------------------------------------------------------------


async def notify(notification: Notification, deps: Deps) -> bool:
    """Store one notification with ``notification.created`` staged in the same write."""
    event = NotificationCreated(
        notification_id=notification.notification_id,
        account_id=notification.account_id,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        data=notification.data,
        created_at=notification.created_at,
    )
    envelope = make_envelope(
        event,
        producer=PRODUCER,
        correlation_id=correlation_id(),
        event_id=derived_event_id("notification", notification.notification_id),
    )
    stored = await deps.inbox.deliver_announced(notification, envelope)
    if stored:
        deps.kick(NOTIFICATIONS, notification.notification_id)
    return stored


async def gift_sent(
    gift_id: str,
    stream_id: str,
    recipient_id: str,
    sender_id: str,
    gift_type: str,
    amount: int,
    at: datetime,
    deps: Deps,
) -> bool:
    return await notify(
        model.gift_received(gift_id, stream_id, recipient_id, sender_id, gift_type, amount, at),
        deps,
    )


async def user_banned(
    stream_id: str,
    account_id: str,
    at: datetime,
    expires_at: datetime | None,
    reason: str | None,
    deps: Deps,
    ban_id: str | None = None,
) -> bool:
    title = await deps.campaigns.title_of(stream_id)
    return await notify(
        model.banned(stream_id, account_id, title, at, expires_at, reason, ban_id), deps
    )
