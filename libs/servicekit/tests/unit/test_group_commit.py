"""BatchInserter: group commit that keeps the promise of ``insert_one`` to each caller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, BulkWriteError

from servicekit.mongo import BatchInserter, Doc


class GatedCollection:
    """``insert_many`` that stores only when the test opens the gate of that write."""

    def __init__(self) -> None:
        self.stored: dict[Any, Doc] = {}
        self.writes: list[list[Any]] = []
        self.gates: list[asyncio.Event] = []
        self.fail_next: BaseException | None = None

    async def insert_many(self, docs: list[Doc], *, ordered: bool) -> None:
        assert ordered is False
        self.writes.append([d["_id"] for d in docs])
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        errors = []
        for index, doc in enumerate(docs):
            if doc["_id"] in self.stored:
                errors.append({"index": index, "code": 11000, "errmsg": "E11000 duplicate"})
            else:
                self.stored[doc["_id"]] = doc
        if errors:
            raise BulkWriteError({"writeErrors": errors})

    async def open(self, n: int) -> None:
        """Wait for write ``n`` (0-based) to start, then let it finish."""
        async with asyncio.timeout(5):
            while len(self.gates) <= n:
                await asyncio.sleep(0.001)
        self.gates[n].set()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.005)


class TestGroupCommit:
    async def test_a_caller_returns_only_after_its_group_is_stored(self) -> None:
        col = GatedCollection()
        inserter = BatchInserter(col, max_wait_s=0.001)
        calls = [asyncio.create_task(inserter.insert({"_id": i})) for i in range(3)]
        await settle()
        assert col.writes == [[0, 1, 2]]  # one write for the group
        assert not any(c.done() for c in calls)  # nobody answered before the write returned
        await col.open(0)
        assert await asyncio.gather(*calls) == [True, True, True]
        assert set(col.stored) == {0, 1, 2}

    async def test_callers_arriving_during_a_write_form_the_next_group(self) -> None:
        col = GatedCollection()
        inserter = BatchInserter(col, max_wait_s=0.001)
        first = asyncio.create_task(inserter.insert({"_id": "a"}))
        await settle()
        later = [asyncio.create_task(inserter.insert({"_id": f"b{i}"})) for i in range(5)]
        await settle()
        assert col.writes == [["a"]]  # no second write while the first is in flight
        await col.open(0)
        assert await first is True
        await col.open(1)
        assert await asyncio.gather(*later) == [True] * 5
        assert col.writes == [["a"], [f"b{i}" for i in range(5)]]

    async def test_a_failed_group_fails_every_caller_in_it_and_only_them(self) -> None:
        col = GatedCollection()
        inserter = BatchInserter(col, max_wait_s=0.001)
        col.fail_next = AutoReconnect("connection reset")
        doomed = [asyncio.create_task(inserter.insert({"_id": i})) for i in range(4)]
        await settle()
        later = asyncio.create_task(inserter.insert({"_id": "next"}))
        await col.open(0)
        results = await asyncio.gather(*doomed, return_exceptions=True)
        assert all(isinstance(r, AutoReconnect) for r in results)
        await col.open(1)
        assert await later is True
        assert set(col.stored) == {"next"}

    async def test_duplicates_are_false_and_on_stored_gets_only_what_was_stored(self) -> None:
        col = GatedCollection()
        col.stored["dup"] = {"_id": "dup", "v": "old"}
        seen: list[list[Any]] = []
        answered: list[bool] = []

        def on_stored(docs: list[Doc]) -> None:
            seen.append([d["_id"] for d in docs])
            answered.append(any(c.done() for c in calls))

        inserter = BatchInserter(col, max_wait_s=0.001, on_stored=on_stored)
        calls = [
            asyncio.create_task(inserter.insert({"_id": key, "v": "new"}))
            for key in ("x", "dup", "y")
        ]
        await settle()
        await col.open(0)
        assert await asyncio.gather(*calls) == [True, False, True]
        assert seen == [["x", "y"]]
        assert answered == [False]  # handed over before any caller returned
        assert col.stored["dup"]["v"] == "old"

    async def test_a_failing_on_stored_does_not_fail_stored_documents(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        col = GatedCollection()

        def on_stored(docs: list[Doc]) -> None:
            raise RuntimeError("relay gone")

        inserter = BatchInserter(col, max_wait_s=0.001, on_stored=on_stored)
        call = asyncio.create_task(inserter.insert({"_id": 1}))
        await settle()
        await col.open(0)
        assert await call is True
        assert "on_stored failed" in caplog.text

    async def test_a_full_group_is_written_without_waiting(self) -> None:
        col = GatedCollection()
        inserter = BatchInserter(col, max_batch=3, max_wait_s=60.0)
        calls = [asyncio.create_task(inserter.insert({"_id": i})) for i in range(3)]
        await settle()
        assert col.writes == [[0, 1, 2]]
        await col.open(0)
        assert await asyncio.gather(*calls) == [True] * 3
