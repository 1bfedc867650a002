"""MongoDB through PyMongo's ``AsyncMongoClient``, with per-service index declaration.

Only the MongoDB protocol is used: nothing here knows which server answers (real MongoDB in
production and compose, the ``nx-27017`` stand-in on development machines and CI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

__all__ = [
    "Doc",
    "IndexSpec",
    "ensure_indexes",
    "from_ms",
    "make_mongo_client",
    "server_description",
    "to_ms",
]

Doc = dict[str, Any]


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


def make_mongo_client(url: str, *, app_name: str, timeout_ms: int = 5000) -> AsyncMongoClient[Doc]:
    """A client with bounded timeouts, so an unreachable server fails fast instead of hanging.

    Connecting is lazy: nothing touches the network until the first operation.
    """
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 6, 30_000),
        uuidRepresentation="standard",
    )


async def ensure_indexes(db: AsyncDatabase[Doc], specs: Sequence[IndexSpec]) -> None:
    """Create every declared index (idempotent: an existing identical index is kept)."""
    for spec in specs:
        keys = [(name, direction or ASCENDING) for name, direction in spec.keys]
        await db[spec.collection].create_index(keys, **spec.options())


async def server_description(client: AsyncMongoClient[Doc]) -> str:
    """A one-line description of the server for benchmark reports (``buildInfo``)."""
    info = await client.admin.command("buildInfo")
    process = info.get("process") or "mongod"
    version = info.get("version") or "unknown"
    return f"{process} {version}"


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
