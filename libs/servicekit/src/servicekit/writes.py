"""Conditional single-document writes shared by the services (last write wins, forward only).

One shape, right on real MongoDB and on the development stand-in (``scripts/MONGODB-STANDIN.md``):
the filter is ``{"_id": key, clock: {"$lt": stamp}}`` and nothing else. Every document of a
collection written this way carries every clock field its filters compare from the moment it is
created (``created_with``), so no filter needs ``$or``/``$exists: false``/``null`` to accept a
document that lacks the field. (An update whose filter has ``$or`` beside other keys writes
*another* document on the stand-in.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from contracts.envelope import Envelope, Event
from servicekit.mongo import Doc
from servicekit.outbox import stage_update

__all__ = ["write_if_newer"]


async def write_if_newer(
    collection: AsyncCollection[Doc],
    key: Any,
    *,
    clock: str,
    stamp: int,
    values: Mapping[str, Any],
    created_with: Mapping[str, Any] | None = None,
    envelopes: Sequence[Envelope[Event]] = (),
) -> bool:
    """Set ``values`` and ``clock = stamp`` on document ``key``, unless its ``clock >= stamp``.

    A missing document is created (upsert) with ``values``, ``clock`` and the fields of
    ``created_with`` that this write does not set, so that later writes guarded by another clock
    field of the same document find it. When the document holds a newer or equal clock the
    upsert collides with its ``_id`` (``DuplicateKeyError``) and nothing is written. The staged
    ``envelopes`` (outbox) are written by the same update.

    Args:
        collection: the collection.
        key: the document's ``_id``.
        clock: the field ordering the writes (epoch ms, a rank: any number).
        stamp: this write's clock value; applied only if strictly greater than the stored one.
        values: fields to set with it.
        created_with: initial values of the document's other compared fields (e.g. ``0`` for
            other clocks), written only when this write creates the document.
        envelopes: events to stage in the same write (see :mod:`servicekit.outbox`).

    Returns:
        ``True`` if this write was applied (document created or updated).
    """
    update: dict[str, Any] = {"$set": {**values, clock: stamp}}
    initial = {k: v for k, v in (created_with or {}).items() if k not in update["$set"]}
    if initial:
        update["$setOnInsert"] = initial
    try:
        result = await collection.update_one(
            {"_id": key, clock: {"$lt": stamp}}, stage_update(update, envelopes), upsert=True
        )
    except DuplicateKeyError:
        return False  # the document exists with a newer or equal clock
    return bool(result.modified_count or result.upserted_id is not None)
