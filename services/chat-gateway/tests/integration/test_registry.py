"""The connection registry writes in background batches (issue 17), on the real database, with
neighbour documents present and untouched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.adapters.mongo import CONNECTIONS, ConnectionRegistry

pytestmark = pytest.mark.integration


async def test_batches_write_connects_and_disconnects_and_leave_neighbours(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    col = mongo_db[CONNECTIONS]
    neighbours = [
        {"_id": f"other-{i}", "instance": "gw-x", "stream_id": "s", "seen_ms": 1} for i in range(3)
    ]
    await col.insert_many([dict(d) for d in neighbours])
    registry = ConnectionRegistry(mongo_db)
    now = datetime.now(UTC)
    for i in range(50):
        registry.add(f"c{i}", "gw-a", "s", f"acct{i}", now)
    registry.remove("c0")  # came and went before a flush: never written
    assert await col.count_documents({"instance": "gw-a"}) == 0  # nothing on the connect path
    await registry.flush()
    assert await col.count_documents({"instance": "gw-a"}) == 49
    assert await col.find_one({"_id": "c0"}) is None
    for i in range(1, 26):
        registry.remove(f"c{i}")
    await registry.flush()
    left = sorted([d["_id"] async for d in col.find({"instance": "gw-a"})])
    assert left == sorted(f"c{i}" for i in range(26, 50))
    others = [d async for d in col.find({"instance": "gw-x"}).sort("_id", 1)]
    assert others == neighbours
    assert [d["account_id"] for d in await registry.of_stream("s") if d["instance"] == "gw-a"]


async def test_a_failed_flush_keeps_its_changes_for_the_next(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    registry = ConnectionRegistry(mongo_db)
    registry.add("c1", "gw-a", "s", "a1", datetime.now(UTC))
    real = registry._col
    registry._col = mongo_db.client["x"]["y"]  # type: ignore[assignment]

    async def fail(*_: object, **__: object) -> None:
        raise OSError("down")

    registry._col.insert_many = fail  # type: ignore[method-assign]
    with pytest.raises(OSError, match="down"):
        await registry.flush()
    registry.remove("c1")  # disconnected while the database was down
    registry.add("c2", "gw-a", "s", "a2", datetime.now(UTC))
    registry._col = real
    await registry.flush()
    assert [d["_id"] async for d in real.find({})] == ["c2"]
