"""Composition root of notifier: adapters, consumers, and the fan-out worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from notifier.adapters.mongo import (
    FOLLOWS,
    INDEXES,
    NOTIFICATIONS,
    MongoCampaigns,
    MongoFollows,
    MongoGoLiveSent,
    MongoInbox,
)
from notifier.backfill import backfill_once
from notifier.deps import FOLLOW_RATE_COLLECTION, Deps, follow_budget
from notifier.entrypoints.consumers import build_dispatcher, inbox_dispatcher
from notifier.handlers import fan_out_one
from notifier.inbox_watch import CountReads, UnreadWatch
from notifier.settings import Settings
from servicekit.ratelimit import MongoRateBudgets, budget_indexes
from servicekit.runtime import ConsumerSpec, Infra, open_infra
from servicekit.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class FanoutWorker:
    """Runs go-live campaigns one after another; wakes on a trigger or every ``poll_s``."""

    def __init__(self, deps: Deps, poll_s: float) -> None:
        self.deps = deps
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="golive-fanout")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])

    async def _run(self) -> None:
        while True:
            try:
                while await fan_out_one(self.deps) is not None:
                    pass
            except Exception as exc:
                log.warning(
                    "go-live fan-out failed; the campaign resumes after its lease: %s",
                    repr(exc)[:300],
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()


def deps_for(infra: Infra, settings: Settings) -> Deps:
    inbox = MongoInbox(infra.db)
    return Deps(
        follows=MongoFollows(infra.db),
        inbox=inbox,
        count_reads=CountReads(inbox.unread_counts),
        campaigns=MongoCampaigns(infra.db),
        sent=MongoGoLiveSent(infra.db),
        publisher=infra.publisher,
        kick=infra.relay.kick,
        fanout_batch=settings.fanout_batch,
        fanout_lease_s=settings.fanout_lease_s,
        follow_limiter=MongoRateBudgets(
            infra.db[FOLLOW_RATE_COLLECTION],
            follow_budget(settings.follow_burst, settings.follow_per_minute),
        ),
        golive_window_s=settings.golive_window_s,
        watch=UnreadWatch(settings.max_unread_waiters, settings.max_unread_waiters_per_account),
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Deps, Infra, FanoutWorker]]:
    holder: dict[str, FanoutWorker] = {}
    dispatcher = build_dispatcher(lambda: holder["worker"].deps, lambda: holder["worker"].wake())
    infra = await open_infra(
        settings,
        indexes=[*INDEXES, *budget_indexes(FOLLOW_RATE_COLLECTION)],
        outbox_collections=[NOTIFICATIONS, FOLLOWS],
        consumers=[
            ConsumerSpec(dispatcher),
            ConsumerSpec(
                inbox_dispatcher(lambda: holder["worker"].deps),
                queue_suffix="inbox",
                exclusive=True,
                idempotent=False,
            ),
        ],
        instance_id=settings.instance_id,
        start_consuming=False,
    )
    worker = holder["worker"] = FanoutWorker(deps_for(infra, settings), settings.fanout_poll_s)
    await infra.broker.start()
    worker.start()
    backfill = asyncio.create_task(_backfill_follow_events(infra))
    try:
        yield worker.deps, infra, worker
    finally:
        await cancel_and_wait([backfill])
        await worker.stop()
        await infra.close()


async def _backfill_follow_events(infra: Infra) -> None:
    """Announce follows made before ``follow.*`` existed, once per deployment (see
    ``notifier.backfill``); a failure is logged and retried at the next start."""
    try:
        staged = await backfill_once(infra.db)
    except Exception:
        log.exception("follow events backfill failed; it runs again at the next start")
        return
    if staged is not None:  # the relay's poll publishes what was staged
        log.info("follow events backfill staged %d follows", staged)
