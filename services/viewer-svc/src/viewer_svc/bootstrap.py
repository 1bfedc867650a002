"""Composition root of viewer-svc: adapters, consumers, and the two background loops (expiry
and coalesced count publication), each safe to run in every instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from servicekit.runtime import ConsumerSpec, Infra, open_infra
from servicekit.tasks import cancel_and_wait
from viewer_svc.adapters.mongo import INDEXES, MongoCounts, MongoPresence, MongoProjection
from viewer_svc.cache import HotPath
from viewer_svc.deps import Deps
from viewer_svc.entrypoints.consumers import build_dispatcher
from viewer_svc.handlers import expire, publish_counts
from viewer_svc.settings import Settings

log = logging.getLogger(__name__)


def deps_for(infra: Infra, settings: Settings) -> Deps:
    return Deps(
        presence=MongoPresence(infra.db),
        counts=MongoCounts(infra.db),
        projection=MongoProjection(infra.db),
        publisher=infra.publisher,
        presence_timeout_s=settings.presence_timeout_s,
        count_interval_s=settings.count_interval_s,
        hot=HotPath(ttl_s=settings.read_cache_s, touch_every_s=settings.effective_touch_every_s),
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Deps, Infra]]:
    holder: dict[str, Deps] = {}
    infra = await open_infra(
        settings,
        indexes=INDEXES,
        consumers=[ConsumerSpec(build_dispatcher(lambda: holder["deps"]))],
        start_consuming=False,
    )
    deps = holder["deps"] = deps_for(infra, settings)
    await infra.broker.start()
    loops = [
        asyncio.create_task(_every(settings.sweep_interval_s, lambda: expire(deps), "expiry")),
        asyncio.create_task(
            _every(settings.count_interval_s / 4, lambda: publish_counts(deps), "counts")
        ),
    ]
    try:
        yield deps, infra
    finally:
        await cancel_and_wait(loops)
        await infra.close()


async def _every(interval_s: float, fn: Callable[[], Awaitable[int]], name: str) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await fn()
        except Exception as exc:
            log.warning("%s loop failed; retrying: %s", name, repr(exc)[:300])
