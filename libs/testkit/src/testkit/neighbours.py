"""Repository tests with neighbours: which documents did a write touch?

A repository test seeds many streams/accounts through the repository itself, takes a
:func:`snapshot` of the whole database, runs one write, and asserts with :func:`touched` that
exactly the documents it names changed. A test on a single document cannot see a write that
lands on another one (the stand-in's ``$or`` bug did exactly that).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["Snapshot", "snapshot", "touched"]

Snapshot = dict[tuple[str, Any], dict[str, Any]]


async def snapshot(db: AsyncDatabase[dict[str, Any]]) -> Snapshot:
    """Every document of every collection, keyed by ``(collection, _id)``."""
    out: Snapshot = {}
    for name in sorted(await db.list_collection_names()):
        if name.startswith("system."):
            continue
        async for doc in db[name].find({}):
            out[(name, doc["_id"])] = doc
    return out


def touched(before: Snapshot, after: Snapshot) -> set[tuple[str, Any]]:
    """``(collection, _id)`` of every document added, removed or changed."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
