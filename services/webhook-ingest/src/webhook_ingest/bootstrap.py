"""Composition root: settings -> connected adapters -> ``Deps``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from servicekit.runtime import Infra, open_infra
from webhook_ingest.adapters.mongo import COLLECTION, INDEXES, MongoInbox
from webhook_ingest.ports import Inbox, Kicker
from webhook_ingest.settings import Settings


@dataclass(frozen=True, slots=True)
class Deps:
    inbox: Inbox
    kick: Kicker
    secrets: tuple[str, ...]
    tolerance_s: float
    clock: Callable[[], float] = time.time


async def build_deps(settings: Settings) -> tuple[Deps, Infra]:
    infra = await open_infra(
        settings,
        indexes=INDEXES,
        outbox_collections=[COLLECTION],
        insert_only_outbox=[COLLECTION],  # an inbox: events are staged only by the insert
    )
    deps = Deps(
        inbox=MongoInbox(
            infra.db[COLLECTION],
            on_stored=lambda docs: infra.relay.kick_stored(COLLECTION, docs),
        ),
        kick=lambda event_id: infra.relay.kick(COLLECTION, event_id),
        secrets=tuple(s.get_secret_value() for s in settings.mux_webhook_secrets),
        tolerance_s=settings.tolerance_s,
    )
    return deps, infra
