"""Transactional outbox without multi-document transactions.

An event that announces a state change is written **in the same single-document write** as the
change itself: it is staged inside the aggregate's document under ``_outbox.<event_id>`` and
counted in ``_outbox_n``. So the change and its event cannot part: either both are stored or
neither. A relay (one per service instance) publishes staged events with confirms and then
removes them, one conditional update per event, so two relays never double-count.

Delivery is at least once: a relay that dies after publishing and before clearing, or two relays
racing, can publish an event twice; consumers dedupe by ``event_id``. Staged events are
published right away when the writer :meth:`~OutboxRelay.kick`\\ s the relay, and otherwise by
polling (after a broker outage or a crash), oldest first per document.

With tracing on, a staged event keeps the trace context of the request that staged it
(``trace``), and the relay publishes it inside a span whose parent is that request: one trace
runs from the request through the broker to every consumer, however late the relay publishes.

Collections whose documents stage events only when inserted (an inbox: webhook-ingest's
``mux_webhook_events``) are declared ``insert_only``. Their writer hands the relay the documents
a group commit just stored (:meth:`~OutboxRelay.kick_stored`), so a group is published without
being read back, and a group's fully published documents are cleared with one ``update_many``
(no event can be staged in them later, so clearing the whole ``_outbox`` loses nothing). Such a
document may keep the envelope of the one event it stages in its top-level ``envelope`` field
(an inbox keeps it for replays): the staged entry then names that field instead of holding a
second copy (``stage_insert(..., keep_envelope=True)``), so the document is stored, and its
publication cleared, at two thirds of the size.

While the broker is unreachable the relay backs off (exponentially, up to ``max_backoff_s``)
and each attempt is a probe: one publish, not a batch (one kicked document; or the polled
documents tried in turn up to the first with an event due). Writers' kicks do not cut a backoff
short, so an outage under write load costs the relay a publish attempt per backoff interval,
not one per stored document (the writers keep their full speed; the backlog is published, in
full batches, once the probe succeeds). Only a confirmed publish ends the outage: an attempt
that found nothing to publish proves nothing. So such an attempt (another instance published
the event that failed, or nothing is due) makes a publish of its own that reaches no consumer
(``probe``), and its confirm ends the outage: ``livecast_outbox_relay_healthy`` does not read 0
until the next event is staged, and an instance whose own channel fails stays at 0. An event
that cannot be decoded (no contract for its type, a kept envelope missing) is no broker
failure: it is logged and left staged, with the later events of its document, and the others
go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import Counter, Gauge
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from contracts.envelope import Envelope, Event, parse_envelope
from servicekit import tracing
from servicekit.broker import LIVE, EventPublisher, envelope_routing_key
from servicekit.mongo import Doc, IndexSpec
from servicekit.tasks import cancel_and_wait

__all__ = [
    "OUTBOX_COUNT",
    "OUTBOX_FIELD",
    "OutboxRelay",
    "outbox_indexes",
    "stage_insert",
    "stage_update",
]

log = logging.getLogger(__name__)

OUTBOX_FIELD = "_outbox"
OUTBOX_COUNT = "_outbox_n"
#: Beside a staged event: the W3C trace context of the request that staged it.
TRACE_FIELD = "trace"

PUBLISHED = Counter("livecast_outbox_published_total", "Outbox events published", ["collection"])
FAILURES = Counter("livecast_outbox_publish_failures_total", "Outbox publish attempts that failed")
BROKER_OK = Gauge("livecast_outbox_relay_healthy", "1 when the last outbox publish succeeded")
BACKLOG = Gauge(
    "livecast_outbox_backlog_events",
    "Events staged and not yet published, per collection (sampled by the relay)",
    ["collection"],
)
OLDEST_AGE = Gauge(
    "livecast_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest staged, unpublished event per collection (0 when none; sampled)",
    ["collection"],
)
#: The backlog is counted over at most this many documents with staged events.
BACKLOG_SCAN_DOCS = 1000
#: Documents with an event that cannot be decoded that the poll passes over, per collection (the
#: oldest are tried again beyond it), and for how long (s) before they are tried (and logged)
#: again: the poll must not find the same ones first every time, and never reach the others.
UNDECODABLE_KEPT = 1000
UNDECODABLE_RECHECK_S = 600.0
#: Top-level field of an insert-only document keeping its one staged event's envelope.
KEPT_ENVELOPE = "envelope"
#: In a staged entry staged by reference: the field of the document holding its envelope.
ENVELOPE_IN = "envelope_in"


def _stored(
    envelope: Envelope[Event], exchange: str, routing_key: str | None, *, kept: bool = False
) -> Doc:
    where: Doc = (
        {ENVELOPE_IN: KEPT_ENVELOPE} if kept else {"envelope": envelope.model_dump(mode="json")}
    )
    stored: Doc = {
        **where,
        "exchange": exchange,
        "routing_key": routing_key or envelope_routing_key(envelope),
        "staged_at": time.time(),
    }
    trace_context = tracing.carrier()
    if trace_context:
        stored[TRACE_FIELD] = trace_context
    return stored


def stage_insert(
    envelopes: Iterable[Envelope[Event]],
    *,
    exchange: str = LIVE,
    routing_key: str | None = None,
    keep_envelope: bool = False,
) -> Doc:
    """Fields to add to a document being inserted so that it carries these events.

    ``keep_envelope`` (insert-only collections, exactly one event): the document keeps the
    envelope in its ``envelope`` field (:data:`KEPT_ENVELOPE`) after publication, and the staged
    entry refers to it instead of holding a copy.

    Raises:
        ValueError: ``keep_envelope`` with other than one envelope.
    """
    envelopes = list(envelopes)
    if keep_envelope:
        if len(envelopes) != 1:
            raise ValueError("keep_envelope stages exactly one envelope")
        (only,) = envelopes
        return {
            KEPT_ENVELOPE: only.model_dump(mode="json"),
            OUTBOX_FIELD: {str(only.event_id): _stored(only, exchange, routing_key, kept=True)},
            OUTBOX_COUNT: 1,
        }
    staged = {str(e.event_id): _stored(e, exchange, routing_key) for e in envelopes}
    return {OUTBOX_FIELD: staged, OUTBOX_COUNT: len(staged)}


def stage_update(
    update: Mapping[str, Any],
    envelopes: Iterable[Envelope[Event]],
    *,
    exchange: str = LIVE,
    routing_key: str | None = None,
) -> dict[str, Any]:
    """``update`` (a MongoDB update document) extended so the same write stages these events."""
    merged: dict[str, Any] = {op: dict(fields) for op, fields in update.items()}
    n = 0
    for env in envelopes:
        merged.setdefault("$set", {})[f"{OUTBOX_FIELD}.{env.event_id}"] = _stored(
            env, exchange, routing_key
        )
        n += 1
    if n:
        inc = merged.setdefault("$inc", {})
        inc[OUTBOX_COUNT] = inc.get(OUTBOX_COUNT, 0) + n
    return merged


def outbox_indexes(collections: Iterable[str]) -> list[IndexSpec]:
    """The index the relay's poll uses, for each collection that stages events."""
    return [IndexSpec(name, [(OUTBOX_COUNT, 1)], sparse=True) for name in collections]


class OutboxRelay:
    """Publishes events staged in ``collections`` and clears them once the broker confirmed.

    Args:
        collections: every collection whose documents stage events.
        publisher: the confirmed publisher.
        poll_s: how often to look for events left behind (broker outage, crash).
        grace_s: a polled event must be at least this old, so the relay of the instance that
            wrote it (kicked at once) normally publishes it, not a competing instance.
        max_backoff_s: upper bound of the wait between attempts while the broker is down (each
            attempt then publishes one event; the backlog follows once it is confirmed).
        sample_s: how often the backlog gauges are refreshed (:meth:`sample_backlog`).
        insert_only: names of collections whose documents stage events only on insert.
        max_held: documents handed over by :meth:`kick_stored` kept in memory at most (beyond
            it, and once older than ``grace_s``, they are read back from the database).
        probe: a confirmed publish that reaches no consumer
            (:meth:`servicekit.broker.RabbitEventPublisher.probe`), made while the relay is
            failing after a pass that published nothing; its confirm ends the outage, an error
            keeps it.
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Doc]],
        publisher: EventPublisher,
        *,
        poll_s: float = 1.0,
        grace_s: float = 2.0,
        max_backoff_s: float = 2.0,
        batch: int = 200,
        sample_s: float = 5.0,
        insert_only: Iterable[str] = (),
        max_held: int = 2_000,
        probe: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._probe = probe
        self._cols = {c.name: c for c in collections}
        self._insert_only = frozenset(insert_only)
        self._max_held = max_held
        self._held = 0
        self._publisher = publisher
        self._poll_s = poll_s
        self._grace_s = grace_s
        self._max_backoff_s = max_backoff_s
        self._batch = batch
        self._sample_s = sample_s
        # kicked documents: None (read it back) or (the stored document, when it was handed over)
        self._kicked: dict[tuple[str, Any], tuple[Doc, float] | None] = {}
        # per collection: ids of documents holding an event that cannot be decoded -> when
        # (monotonic s) to try them again; the poll passes over them until then
        self._undecodable: dict[str, dict[Any, float]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.healthy = True

    # ---- writer side ----------------------------------------------------------------------

    def kick(self, collection: str, doc_id: Any) -> None:
        """Publish the events staged in this document now (in the background)."""
        self._kicked.setdefault((collection, doc_id), None)
        self._wake.set()

    def kick_stored(self, collection: str, docs: Sequence[Doc]) -> None:
        """Publish the events of ``docs``, just inserted into the ``insert_only`` collection
        ``collection``, now, without reading them back (a group commit's ``on_stored``)."""
        if collection not in self._insert_only:
            raise ValueError(f"{collection} is not an insert-only outbox collection")
        now = time.monotonic()
        for doc in docs:
            key = (collection, doc["_id"])
            if self._held < self._max_held and self._kicked.get(key) is None:
                held = {"_id": doc["_id"], OUTBOX_FIELD: doc[OUTBOX_FIELD]}
                if KEPT_ENVELOPE in doc:
                    held[KEPT_ENVELOPE] = doc[KEPT_ENVELOPE]
                self._kicked[key] = (held, now)
                self._held += 1
            else:
                self._kicked.setdefault(key, None)
        self._wake.set()

    # ---- relay ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the pass in progress, then stop. Cancelling a publish that waits for its
        confirm can leave the AMQP channel unusable (the broker's shutdown then hangs), so the
        relay is only cancelled if it does not stop by itself within ``timeout``."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            await cancel_and_wait([self._task])
        self._task = None

    async def _run(self) -> None:
        failures = 0
        next_poll = next_sample = retry_at = 0.0
        while not self._stopping:
            if failures and time.monotonic() < retry_at:  # a kick does not cut a backoff short
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), retry_at - time.monotonic())
                self._wake.clear()
                continue
            if time.monotonic() >= next_sample:
                next_sample = time.monotonic() + self._sample_s
                with contextlib.suppress(Exception):  # a metric must not stop the relay
                    await self.sample_backlog()
            try:
                await self.publish_kicked()
                if time.monotonic() >= next_poll:
                    await self.publish_pending(min_age_s=self._grace_s)
                    next_poll = time.monotonic() + self._poll_s
                if self.healthy or await self._probe_confirmed():
                    failures = 0  # a confirmed publish, an event's or the probe's (or never lost)
                else:  # nothing was published: no news of the broker, the backoff goes on
                    retry_at = time.monotonic() + self._backoff_s(failures)
                timeout = max(0.0, next_poll - time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                FAILURES.inc()
                self._set_health(False)
                timeout = self._backoff_s(failures)
                retry_at = time.monotonic() + timeout
                log.warning(
                    "outbox relay could not publish; will retry",
                    extra={"error": repr(exc)[:300], "retry_in_s": timeout},
                )
                next_poll = 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            self._wake.clear()

    async def _probe_confirmed(self) -> bool:
        """While failing, after a pass that published nothing: ``True`` (and healthy again)
        once the broker confirms a ``probe`` publish."""
        if self._probe is None:
            return False
        try:
            await self._probe()
        except Exception:  # the broker (or this instance's channel) still fails
            return False
        self._set_health(True)
        return True

    def _backoff_s(self, failures: int) -> float:
        """The wait before the next attempt after ``failures`` failed ones in a row."""
        return min(self._max_backoff_s, 0.1 * 2.0**failures)

    def _set_health(self, ok: bool) -> None:
        self.healthy = ok
        BROKER_OK.set(1 if ok else 0)

    async def publish_kicked(self) -> int:
        """Publish the documents that writers kicked; returns how many events were published.
        Documents handed over less than ``grace_s`` ago are published as handed over; the
        others are read back (a competing relay may have published them meanwhile)."""
        done = 0
        while self._kicked:
            batch = list(self._kicked.items())[: self._batch_size()]
            fresh_after = time.monotonic() - self._grace_s
            by_collection: dict[str, tuple[list[Doc], list[Any]]] = {}
            for (name, doc_id), held in batch:
                docs, ids = by_collection.setdefault(name, ([], []))
                if held is not None and held[1] >= fresh_after:
                    docs.append(held[0])
                else:
                    ids.append(doc_id)
            try:
                for name, (docs, ids) in by_collection.items():
                    col = self._cols[name]
                    if ids:
                        query = {"_id": {"$in": ids}, OUTBOX_COUNT: {"$gt": 0}}
                        docs += [doc async for doc in col.find(query, self._fields(name))]
                    published = await self._publish_docs(col, docs, min_age_s=0.0)
                    if published:
                        self._set_health(True)
                    done += published
            except BaseException:
                self._forget_held(key for key, _ in batch)  # partly published: read back
                raise
            self._forget_held((key for key, _ in batch), drop=True)
        return done

    def _fields(self, collection: str) -> dict[str, int]:
        """The projection a relay reads: the staged events (and a kept envelope)."""
        if collection in self._insert_only:
            return {OUTBOX_FIELD: 1, KEPT_ENVELOPE: 1}
        return {OUTBOX_FIELD: 1}

    def _batch_size(self) -> int:
        """Documents per pass: a whole batch, or one (a probe) while the broker is failing."""
        return self._batch if self.healthy else 1

    def _forget_held(self, keys: Iterable[tuple[str, Any]], *, drop: bool = False) -> None:
        """Release the documents held for ``keys``; ``drop`` also forgets the kicks."""
        for key in keys:
            held = self._kicked.pop(key, None) if drop else self._kicked.get(key)
            if held is not None:
                self._held -= 1
                if not drop:
                    self._kicked[key] = None

    async def publish_pending(self, *, min_age_s: float = 0.0) -> int:
        """One pass over every collection: publish staged events at least ``min_age_s`` old.

        Returns how many events were published. Raises if the broker refuses (the events stay
        staged and a later pass retries them).
        """
        done = 0
        for col in self._cols.values():
            query: Doc = {OUTBOX_COUNT: {"$gt": 0}}
            if skipped := self._passed_over(col.name):
                query["_id"] = {"$nin": skipped}
            cursor = col.find(query, self._fields(col.name)).limit(self._batch)
            docs = [doc async for doc in cursor]
            # while the broker is failing the first documents may have nothing due (or nothing
            # that can be decoded): the probe tries them in turn, up to one publish attempt
            published = await self._publish_docs(
                col, docs, min_age_s=min_age_s, probe=not self.healthy
            )
            if published:
                self._set_health(True)
            done += published
        return done

    async def _publish_docs(
        self, col: AsyncCollection[Doc], docs: list[Doc], *, min_age_s: float, probe: bool = False
    ) -> int:
        """Publish the due events of ``docs``: documents concurrently (pipelined confirms), each
        document's events in staging order; then clear what the broker confirmed in one bulk
        write. Raises the first publish error after clearing what did succeed. A ``probe``
        tries the documents one after the other up to the first publish attempt: it stops there
        if that fails, and publishes the others together if it is confirmed."""
        now = time.time()
        results: list[Any] = []
        while probe and len(results) < len(docs):
            published, failure = await self._publish_one_doc(
                col.name, docs[len(results)], now, min_age_s
            )
            results.append((published, failure))
            if failure is not None:
                docs = docs[: len(results)]
            probe = failure is None and not published  # confirmed: the rest goes out together
        results += await asyncio.gather(
            *(self._publish_one_doc(col.name, doc, now, min_age_s) for doc in docs[len(results) :]),
            return_exceptions=True,
        )
        clears: list[UpdateOne] = []
        whole: list[Any] = []  # insert-only documents whose every staged event went out
        error: BaseException | None = None
        insert_only = col.name in self._insert_only
        for doc, result in zip(docs, results, strict=True):
            published, failure = result if isinstance(result, tuple) else ([], result)
            if insert_only and published and len(published) == len(doc.get(OUTBOX_FIELD) or {}):
                whole.append(doc["_id"])
                continue
            clears += [
                UpdateOne(
                    {"_id": doc["_id"], f"{OUTBOX_FIELD}.{event_id}": {"$exists": True}},
                    {"$unset": {f"{OUTBOX_FIELD}.{event_id}": ""}, "$inc": {OUTBOX_COUNT: -1}},
                )
                for event_id in published
            ]
            error = error or failure
        count = len(clears)
        if whole:
            await col.update_many(
                {"_id": {"$in": whole}, OUTBOX_COUNT: {"$gt": 0}},
                {"$unset": {OUTBOX_FIELD: ""}, "$set": {OUTBOX_COUNT: 0}},
            )
            cleared = set(whole)
            count += sum(len(doc.get(OUTBOX_FIELD) or {}) for doc in docs if doc["_id"] in cleared)
        if clears:
            await col.bulk_write(clears, ordered=False)
        if count:
            PUBLISHED.labels(col.name).inc(count)
        if error is not None:
            raise error
        return count

    def _passed_over(self, collection: str) -> list[Any]:
        """The ids of ``collection``'s undecodable documents the poll passes over now."""
        held = self._undecodable.setdefault(collection, {})
        now = time.monotonic()
        for doc_id in [i for i, until in held.items() if until <= now]:
            del held[doc_id]
        return list(held)

    def _undecodable_found(self, collection: str, doc: Doc, event_id: str, exc: Exception) -> None:
        """Log an event that cannot be decoded, once per :data:`UNDECODABLE_RECHECK_S`, and
        have the poll pass over its document meanwhile (it stays staged)."""
        held = self._undecodable.setdefault(collection, {})
        if doc["_id"] in held:
            return
        log.error(  # left staged (and the document's later events behind it)
            "outbox event cannot be decoded; left staged",
            extra={"doc_id": str(doc.get("_id")), "event_id": event_id},
            exc_info=exc,
        )
        if len(held) >= UNDECODABLE_KEPT:
            del held[next(iter(held))]
        held[doc["_id"]] = time.monotonic() + UNDECODABLE_RECHECK_S

    async def _publish_one_doc(
        self, collection: str, doc: Doc, now: float, min_age_s: float
    ) -> tuple[list[str], BaseException | None]:
        staged: dict[str, Doc] = doc.get(OUTBOX_FIELD) or {}
        due = sorted(
            (
                (item.get("staged_at", 0.0), event_id, item)
                for event_id, item in staged.items()
                if now - item.get("staged_at", 0.0) >= min_age_s
            ),
            key=lambda t: (t[0], t[1]),
        )
        published: list[str] = []
        for _, event_id, item in due:
            try:
                envelope = parse_envelope(
                    item["envelope"] if ENVELOPE_IN not in item else doc[item[ENVELOPE_IN]]
                )
            except Exception as exc:  # not the broker's fault: no retry can publish it
                self._undecodable_found(collection, doc, event_id, exc)
                return published, None
            try:
                with tracing.span(
                    "outbox relay",
                    parent=item.get(TRACE_FIELD),
                    attributes={
                        "messaging.message.id": event_id,
                        "livecast.event_type": envelope.event_type,
                        "livecast.outbox.wait_s": max(0.0, now - item.get("staged_at", now)),
                    },
                ):
                    await self._publisher.publish(
                        envelope,
                        exchange=item.get("exchange", LIVE),
                        routing_key=item.get("routing_key"),
                    )
            except Exception as exc:
                return published, exc
            published.append(event_id)
        return published, None

    async def sample_backlog(self) -> dict[str, tuple[int, float]]:
        """Refresh ``livecast_outbox_backlog_events`` and
        ``livecast_outbox_oldest_unpublished_age_seconds``: ``{collection: (events, age_s)}``,
        counted over the first :data:`BACKLOG_SCAN_DOCS` documents that stage events (a lower
        bound beyond that)."""
        now = time.time()
        out: dict[str, tuple[int, float]] = {}
        for name, col in self._cols.items():
            cursor = col.find({OUTBOX_COUNT: {"$gt": 0}}, {OUTBOX_FIELD: 1}).limit(
                BACKLOG_SCAN_DOCS
            )
            events, oldest = 0, now
            async for doc in cursor:
                staged: dict[str, Doc] = doc.get(OUTBOX_FIELD) or {}
                events += len(staged)
                for item in staged.values():
                    oldest = min(oldest, float(item.get("staged_at", now)))
            out[name] = (events, max(0.0, now - oldest))
            BACKLOG.labels(name).set(events)
            OLDEST_AGE.labels(name).set(out[name][1])
        return out

    async def drain(self, max_wait_s: float = 10.0) -> None:
        """Publish everything staged now (ignoring the grace period); for tests and shutdown."""
        deadline = time.monotonic() + max_wait_s
        while True:
            await self.publish_kicked()
            await self.publish_pending(min_age_s=0.0)
            pending = 0
            for col in self._cols.values():
                pending += await col.count_documents({OUTBOX_COUNT: {"$gt": 0}})
            if pending == 0 or time.monotonic() > deadline:
                return
