"""Composition root of viewer-svc: adapters, consumers, and the two background loops (expiry,
and the presence batch: this instance's sheets written, coalesced counts published), each safe
to run in every instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from servicekit.runtime import ConsumerSpec, Infra, open_infra
from servicekit.tasks import cancel_and_wait
from viewer_svc.adapters.mongo import INDEXES, MongoBoard, MongoCounts, MongoProjection
from viewer_svc.cache import HotPath
from viewer_svc.deps import Deps
from viewer_svc.domain.presence import LivePresence
from viewer_svc.entrypoints.consumers import build_dispatcher
from viewer_svc.handlers import expire, flush, publish_counts
from viewer_svc.settings import Settings

log = logging.getLogger(__name__)


def instance_id() -> str:
    """This process's name on the board: unique per start (a restarted process is a new
    instance; the sheets of the old one expire)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def deps_for(infra: Infra, settings: Settings) -> Deps:
    return Deps(
        live=LivePresence(instance_id()),
        board=MongoBoard(infra.db),
        counts=MongoCounts(infra.db),
        projection=MongoProjection(infra.db),
        publisher=infra.publisher,
        presence_timeout_s=settings.presence_timeout_s,
        count_interval_s=settings.count_interval_s,
        prune_grace_s=settings.prune_grace_s,
        hot=HotPath(ttl_s=settings.read_cache_s),
    )


async def presence_batch(deps: Deps) -> int:
    """Write this instance's changed sheets, then publish the counts that are due."""
    await flush(deps)
    return await publish_counts(deps)


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
            _every(settings.flush_interval_s, lambda: presence_batch(deps), "presence")
        ),
    ]
    try:
        yield deps, infra
    finally:
        await cancel_and_wait(loops)
        # a clean stop writes its last batch; its sheet then expires like a crashed one's, while
        # its viewers' next heartbeats reach another instance (counted once: distinct accounts)
        with contextlib.suppress(Exception):
            await flush(deps)
        await infra.close()


async def _every(interval_s: float, fn: Callable[[], Awaitable[int]], name: str) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await fn()
        except Exception as exc:
            log.warning("%s loop failed; retrying: %s", name, repr(exc)[:300])
