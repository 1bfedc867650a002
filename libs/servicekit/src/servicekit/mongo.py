"""MongoDB through PyMongo's ``AsyncMongoClient``, with per-service index declaration.

Only the MongoDB protocol is used: nothing here knows which server answers (real MongoDB in
production and compose, the ``nx-27017`` stand-in on development machines and CI).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

import bson
import pymongo
from bson.errors import BSONError
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from servicekit import tracing
from servicekit.unavailable import DB_OPERATION_TIMEOUT_S

__all__ = [
    "CLOCK_MARGIN_MS",
    "BatchInserter",
    "Doc",
    "FieldDefault",
    "IndexSpec",
    "Sweeper",
    "ensure_indexes",
    "from_ms",
    "is_storable",
    "make_mongo_client",
    "server_description",
    "to_ms",
]

Doc = dict[str, Any]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """One index of one collection, declared by the service that owns the collection.

    Args:
        collection: collection name.
        keys: ``[(field, 1 | -1), ...]``.
        unique: a unique index.
        ttl_s: expire documents ``ttl_s`` seconds after the (date) field in ``keys``.
        sparse: index only documents that have the field.
        name: explicit index name (defaults to the server's choice).
    """

    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    ttl_s: int | None = None
    sparse: bool = False
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = dict(self.extra)
        if self.unique:
            opts["unique"] = True
        if self.sparse:
            opts["sparse"] = True
        if self.ttl_s is not None:
            opts["expireAfterSeconds"] = self.ttl_s
        if self.name:
            opts["name"] = self.name
        return opts


@dataclass(frozen=True, slots=True)
class FieldDefault:
    """A field every document of ``collection`` must carry, because a conditional write compares
    it (see :func:`servicekit.writes.write_if_newer`): documents stored before the field was
    declared get ``value``. Declared beside the indexes and applied by :func:`ensure_indexes`.
    """

    collection: str
    field: str
    value: Any


def make_mongo_client(
    url: str,
    *,
    app_name: str,
    timeout_ms: int = 5000,
    operation_timeout_ms: int = int(DB_OPERATION_TIMEOUT_S * 1000),
) -> AsyncMongoClient[Doc]:
    """A client with bounded timeouts, so an unreachable or stalled server fails fast (a timeout
    error that :mod:`servicekit.unavailable` maps to 503) instead of hanging.

    ``timeout_ms`` bounds server selection and connecting; ``operation_timeout_ms`` every single
    operation, retries included (PyMongo's ``timeoutMS``; a block that needs longer, such as
    building indexes, widens it with ``pymongo.timeout(seconds)``). Connecting is lazy: nothing
    touches the network until the first operation. With tracing on,
    every command is a client span.
    """
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        timeoutMS=operation_timeout_ms,
        uuidRepresentation="standard",
        event_listeners=tracing.mongo_listeners(),
    )


#: Seconds index creation may take (a large collection on real MongoDB builds for a while).
INDEX_BUILD_TIMEOUT_S = 600.0


async def ensure_indexes(db: AsyncDatabase[Doc], specs: Sequence[IndexSpec | FieldDefault]) -> None:
    """Create every declared index (idempotent: an existing identical index is kept), and give
    each :class:`FieldDefault`'s field to the documents that lack it (one ``update_many`` whose
    filter is that field's ``$exists: false`` alone)."""
    with pymongo.timeout(INDEX_BUILD_TIMEOUT_S):
        for spec in specs:
            if isinstance(spec, FieldDefault):
                await db[spec.collection].update_many(
                    {spec.field: {"$exists": False}}, {"$set": {spec.field: spec.value}}
                )
                continue
            keys = [(name, direction or ASCENDING) for name, direction in spec.keys]
            await db[spec.collection].create_index(keys, **spec.options())


async def server_description(client: AsyncMongoClient[Doc]) -> str:
    """A one-line description of the server for benchmark reports (``buildInfo``)."""
    info = await client.admin.command("buildInfo")
    process = info.get("process") or "mongod"
    version = info.get("version") or "unknown"
    return f"{process} {version}"


def is_storable(value: Doc) -> bool:
    """Whether a document made of untrusted JSON can be written: no integer beyond 64 bits, no
    lone surrogate, no NUL in a key, nesting BSON accepts. Check before the write, so bad input
    is refused as bad input rather than failing as a database error."""
    try:
        bson.encode(value)
    except (BSONError, OverflowError, UnicodeError, ValueError, RecursionError):
        return False
    return True


@overload
def to_ms(value: datetime) -> int: ...
@overload
def to_ms(value: None) -> None: ...
def to_ms(value: datetime | None) -> int | None:
    """A timestamp as epoch milliseconds, for fields that are updated after insert.

    Documents keep times that only an insert writes as BSON dates (TTL indexes need them). Times
    written by later updates (``$set``, ``$max``) are stored as epoch milliseconds: they compare
    and sort correctly on every server, including the development stand-in, which turns a
    ``datetime`` written by ``$set`` into a string.
    """
    return None if value is None else int(value.timestamp() * 1000)


@overload
def from_ms(value: int | float) -> datetime: ...
@overload
def from_ms(value: None) -> None: ...
def from_ms(value: int | float | None) -> datetime | None:
    """The aware UTC datetime of epoch milliseconds."""
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


class BatchInserter:
    """Group commit for single-document inserts: concurrent ``insert`` calls are written together
    with one ``insert_many(ordered=False)`` (up to ``max_batch`` documents, waiting at most
    ``max_wait_s`` for company). While ``max_writes`` groups are being written, new documents
    gather into the next group, so groups grow with the load instead of the round trips. Each
    caller still returns only once *its* document is stored, and gets ``False`` when its ``_id``
    already existed (the duplicate-key error of that one document), so durability and
    per-document results are those of ``insert_one``, at a fraction of the round trips under
    load. When a group's write fails as a whole (the database is unavailable), every caller in
    it gets that error.

    ``on_stored(docs)`` is called with the documents a group stored (not the duplicates) before
    their callers return, so an outbox relay can publish the group without reading it back
    (:meth:`servicekit.outbox.OutboxRelay.kick_stored`); an error it raises is logged, never
    given to the callers, whose documents are stored.
    """

    def __init__(
        self,
        collection: Any,
        *,
        max_batch: int = 200,
        max_wait_s: float = 0.002,
        max_writes: int = 1,
        on_stored: Callable[[list[Doc]], None] | None = None,
    ) -> None:
        self._col = collection
        self._max_batch = max_batch
        self._max_wait = max_wait_s
        self._max_writes = max_writes
        self._on_stored = on_stored
        self._pending: list[tuple[Doc, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._writing: set[asyncio.Task[None]] = set()

    async def insert(self, doc: Doc) -> bool:
        """Store ``doc``; ``False`` if a document with its ``_id`` exists (nothing written)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((doc, future))
        if len(self._pending) >= self._max_batch:
            self._flush_now()
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())
        return await future

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self._max_wait)
        self._flusher = None
        self._flush_now()

    def _flush_now(self) -> None:
        """Start writing the next group, unless ``max_writes`` are in flight (the first of them
        to finish starts it)."""
        if not self._pending or len(self._writing) >= self._max_writes:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        task = asyncio.get_running_loop().create_task(self._write(batch))
        self._writing.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writing.discard(task)
        self._flush_now()

    async def _write(self, batch: list[tuple[Doc, asyncio.Future[bool]]]) -> None:
        failed: dict[int, Any] = {}
        error: BaseException | None = None
        try:
            await self._col.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as exc:
            failed = {e["index"]: e for e in exc.details.get("writeErrors", [])}
        except BaseException as exc:  # the whole batch failed: every caller sees it
            error = exc
        if error is None and self._on_stored is not None:
            stored = [doc for index, (doc, _) in enumerate(batch) if index not in failed]
            try:
                self._on_stored(stored)
            except Exception:
                log.exception("on_stored failed after a group commit (the documents are stored)")
        for index, (_, future) in enumerate(batch):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif index in failed:
                if failed[index].get("code") == 11000:
                    future.set_result(False)
                else:
                    future.set_exception(RuntimeError(str(failed[index].get("errmsg"))))
            else:
                future.set_result(True)


#: How far (ms) the clocks of a service's instances may differ: state kept by time is swept this
#: long after it stops deciding anything, so no instance deletes what another still counts on.
CLOCK_MARGIN_MS = 60_000


class Sweeper:
    """Deletes the documents of ``collection`` whose ``field`` (epoch ms) is more than
    ``keep_ms`` before now: state that decides nothing any more (a rate budget whose bucket is
    full again, a slow-mode gate no interval can close), so a collection holds what is active
    lately instead of every key ever seen. A TTL index cannot do it when the field moves with
    every write: its field must be a date, and the development stand-in stores a date ``$set``
    by an update as a string (``scripts/MONGODB-STANDIN.md``).

    The hot path calls :meth:`maybe` with its own ``now_ms``; at most once every ``every_s`` it
    starts :meth:`sweep` in the background (one ``delete_many({field: {$lt: ...}})``, on an
    index of ``field``). Every instance sweeps; deletes are idempotent, and a write racing with
    a delete either keeps the document out of the filter or finds it gone (the callers'
    conditional writes then read again or insert)."""

    def __init__(self, collection: Any, field: str, keep_ms: int, *, every_s: float = 60.0) -> None:
        self._col, self._field, self._keep_ms, self._every_s = collection, field, keep_ms, every_s
        self._swept_at = float("-inf")
        self._task: asyncio.Task[int] | None = None

    def maybe(self, now_ms: int) -> None:
        """Start a sweep in the background if the last one started ``every_s`` ago or more."""
        if time.monotonic() - self._swept_at >= self._every_s:
            self._swept_at = time.monotonic()
            self._task = asyncio.get_running_loop().create_task(self.sweep(now_ms))

    async def sweep(self, now_ms: int) -> int:
        """Delete the documents older than ``keep_ms`` at ``now_ms``; returns how many. Errors are
        logged (the next sweep retries), never raised."""
        try:
            result = await self._col.delete_many({self._field: {"$lt": now_ms - self._keep_ms}})
        except Exception as exc:
            log.warning("sweep of %s failed; the next one retries: %r", self._col.name, exc)
            return 0
        return int(result.deleted_count)
