"""Composition root of stream-svc."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from servicekit.ratelimit import MongoRateBudgets, budget_indexes
from servicekit.runtime import ConsumerSpec, Infra, open_infra
from servicekit.tasks import cancel_and_wait
from stream_svc.adapters.mongo_blocked_terms import INDEXES as TERM_INDEXES
from stream_svc.adapters.mongo_blocked_terms import MongoBlockedTerms
from stream_svc.adapters.mongo_moderation import (
    ACTIONS,
    MongoModeration,
)
from stream_svc.adapters.mongo_moderation import (
    INDEXES as MODERATION_INDEXES,
)
from stream_svc.adapters.mongo_streams import INDEXES as STREAM_INDEXES
from stream_svc.adapters.mongo_streams import STREAMS, MongoStreams
from stream_svc.adapters.mux import MuxApi
from stream_svc.deps import (
    MUX_CALL_RATE_COLLECTION,
    TERM_CHANGE_RATE_COLLECTION,
    Config,
    Deps,
    mux_call_budget,
    term_change_budget,
)
from stream_svc.domain.usage import Prices
from stream_svc.entrypoints.consumers import build_dispatcher
from stream_svc.handlers.reconcile import reconcile_quiet_streams
from stream_svc.handlers.streams import sweep_failed_creations
from stream_svc.settings import Settings

log = logging.getLogger(__name__)


def config_of(settings: Settings) -> Config:
    return Config(
        rtmp_url=settings.rtmp_url,
        playback_base_url=settings.playback_base_url,
        thumbnail_base_url=settings.thumbnail_base_url,
        reconnect_window_s=settings.reconnect_window_s,
        latency_mode=settings.latency_mode,
        prices=Prices(
            live_encoding_per_min=settings.price_live_encoding_per_min,
            delivery_per_min=settings.price_delivery_per_min,
            storage_per_min_month=settings.price_storage_per_min_month,
        ),
    )


def mux_of(settings: Settings) -> MuxApi:
    token_id, token_secret = settings.mux_token_id, settings.mux_token_secret
    if token_id is None or token_secret is None:  # refused by Settings already
        raise ValueError("MUX_TOKEN_ID and MUX_TOKEN_SECRET must be set")
    return MuxApi(
        base_url=settings.mux_api_url,
        token_id=token_id.get_secret_value(),
        token_secret=token_secret.get_secret_value(),
        read_timeout_s=settings.mux_timeout_s,
        deadline_s=settings.mux_deadline_s,
    )


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Deps, Infra]]:
    """Connect everything, start consuming and the creation sweeper; close on exit."""
    holder: dict[str, Deps] = {}
    dispatcher = build_dispatcher(lambda: holder["deps"])
    infra = await open_infra(
        settings,
        indexes=[
            *STREAM_INDEXES,
            *MODERATION_INDEXES,
            *TERM_INDEXES,
            *budget_indexes(MUX_CALL_RATE_COLLECTION),
            *budget_indexes(TERM_CHANGE_RATE_COLLECTION),
        ],
        outbox_collections=[STREAMS, ACTIONS],
        consumers=[ConsumerSpec(dispatcher)],
        start_consuming=False,
    )
    deps = Deps(
        streams=MongoStreams(infra.db),
        moderation=MongoModeration(infra.db),
        mux=mux_of(settings),
        kick=infra.relay.kick,
        config=config_of(settings),
        mux_calls=MongoRateBudgets(
            infra.db[MUX_CALL_RATE_COLLECTION],
            mux_call_budget(settings.mux_call_burst, settings.mux_calls_per_minute),
        ),
        blocked_terms=MongoBlockedTerms(infra.db),
        term_changes=MongoRateBudgets(
            infra.db[TERM_CHANGE_RATE_COLLECTION],
            term_change_budget(settings.term_change_burst, settings.term_changes_per_minute),
        ),
    )
    holder["deps"] = deps
    await infra.broker.start()
    tasks = [
        asyncio.create_task(_sweep_forever(deps, settings.sweep_interval_s)),
        asyncio.create_task(
            _reconcile_forever(deps, settings.reconcile_interval_s, settings.reconcile_after_s)
        ),
    ]
    try:
        yield deps, infra
    finally:
        await cancel_and_wait(tasks)
        await infra.close()


async def _sweep_forever(deps: Deps, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            cleaned = await sweep_failed_creations(deps)
            if cleaned:
                log.warning("cleaned up failed stream creations", extra={"count": cleaned})
        except Exception:
            log.exception("sweeping failed creations failed; will retry")


async def _reconcile_forever(deps: Deps, interval_s: float, after_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await reconcile_quiet_streams(deps, after_s=after_s)
        except Exception:
            log.exception("reconciling streams with Mux failed; will retry")
