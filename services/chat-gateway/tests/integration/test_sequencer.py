"""The group commit of chat messages (issue 18) on the real database: many messages per write,
numbers gap-free and in submission order, each message stored before its sender hears."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import pytest_asyncio
from pymongo.asynchronous.database import AsyncDatabase

from chat_gateway.adapters.mongo import INDEXES, MESSAGES, ChatStore
from chat_gateway.sequencer import Sequencer, Stored
from servicekit.mongo import ensure_indexes

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
S = "room"


class RecordingStore(ChatStore):
    """The real store, noting when each message's insert returned (ids, in order)."""

    def __init__(self, db: AsyncDatabase[Doc], log: list[tuple[str, str]]) -> None:
        super().__init__(db)
        self.log = log

    async def insert_batch(self, messages: Sequence[Doc]) -> int | None:
        refused = await super().insert_batch(messages)
        for doc in messages[: len(messages) if refused is None else refused]:
            self.log.append(("stored", doc["_id"]))
        return refused


@pytest_asyncio.fixture
async def db(mongo_db: AsyncDatabase[Doc]) -> AsyncDatabase[Doc]:
    await ensure_indexes(mongo_db, INDEXES)
    return mongo_db


def message(n: int, account: str = "a", cmid: str | None = None) -> Doc:
    return {
        "_id": f"m{n}",
        "stream_id": S,
        "account_id": account,
        "text": f"text {n}",
        "client_msg_id": cmid or f"c{n}",
        "deleted": False,
    }


async def numbers(db: AsyncDatabase[Doc]) -> dict[int, Doc]:
    docs = [d async for d in db[MESSAGES].find({"stream_id": S})]
    by_seq = {d["seq"]: d for d in docs}
    assert len(by_seq) == len(docs), "a number holds two documents"
    return by_seq


class TestGroupCommit:
    async def test_messages_posted_together_share_one_write_numbered_in_order(
        self, db: AsyncDatabase[Doc]
    ) -> None:
        sequencer = Sequencer(ChatStore(db))
        stored = await asyncio.gather(*(sequencer.submit(message(n)) for n in range(40)))
        assert sequencer.writes == 1
        assert [s.doc["_id"] for s in stored] == [f"m{n}" for n in range(40)]
        assert [s.doc["seq"] for s in stored] == list(range(1, 41))
        assert {seq: d["_id"] for seq, d in (await numbers(db)).items()} == {
            n + 1: f"m{n}" for n in range(40)
        }

    async def test_messages_posted_during_a_write_go_together_in_the_next(
        self, db: AsyncDatabase[Doc]
    ) -> None:
        sequencer = Sequencer(ChatStore(db))
        first = sequencer.submit(message(0))
        await asyncio.sleep(0)  # the first write starts
        later = [sequencer.submit(message(n)) for n in range(1, 30)]
        await asyncio.gather(first, *later)
        assert sequencer.writes == 2
        assert [f.result().doc["seq"] for f in (first, *later)] == list(range(1, 31))

    async def test_each_message_is_stored_before_its_sender_hears(
        self, db: AsyncDatabase[Doc]
    ) -> None:
        log: list[tuple[str, str]] = []
        sequencer = Sequencer(RecordingStore(db, log))

        def heard(future: asyncio.Future[Stored]) -> None:
            log.append(("heard", future.result().doc["_id"]))

        futures = [sequencer.submit(message(n)) for n in range(25)]
        for future in futures:
            future.add_done_callback(heard)
        await asyncio.sleep(0)
        futures += [sequencer.submit(message(n)) for n in range(25, 50)]  # the second write
        for future in futures[25:]:
            future.add_done_callback(heard)
        await asyncio.gather(*futures)
        for n in range(50):
            assert log.index(("stored", f"m{n}")) < log.index(("heard", f"m{n}"))

    async def test_each_write_is_announced_once_in_order(self, db: AsyncDatabase[Doc]) -> None:
        announced: list[list[int]] = []
        sequencer = Sequencer(
            ChatStore(db), on_stored=lambda _, docs: announced.append([d["seq"] for d in docs])
        )
        first = sequencer.submit(message(0))
        await asyncio.sleep(0)
        await asyncio.gather(first, *(sequencer.submit(message(n)) for n in range(1, 6)))
        assert announced == [[1], [2, 3, 4, 5, 6]]


class TestNumbersStayGapFree:
    async def test_numbers_a_room_filled_meanwhile_are_taken_again_in_order(
        self, db: AsyncDatabase[Doc]
    ) -> None:
        """A room gave up waiting for numbers 3 and 4 (the write was late) and filled them:
        the messages from there on are numbered again after the batch, in their order, and
        every number holds one message or one gap marker."""
        store = ChatStore(db)
        await store.insert_gaps(S, [3, 4])
        sequencer = Sequencer(store)
        stored = await asyncio.gather(*(sequencer.submit(message(n)) for n in range(6)))
        assert [s.doc["seq"] for s in stored] == [1, 2, 7, 8, 9, 10]
        assert not any(s.duplicate for s in stored)
        held = await numbers(db)
        assert sorted(held) == list(range(1, 11))
        assert [n for n, d in held.items() if d.get("gap")] == [3, 4, 5, 6]

    async def test_a_resend_racing_its_original_resolves_to_it(
        self, db: AsyncDatabase[Doc]
    ) -> None:
        sequencer = Sequencer(ChatStore(db))
        original, resend, after = await asyncio.gather(
            sequencer.submit(message(0, cmid="k")),
            sequencer.submit(message(1, cmid="k")),
            sequencer.submit(message(2)),
        )
        assert (original.duplicate, resend.duplicate, after.duplicate) == (False, True, False)
        assert resend.doc["_id"] == original.doc["_id"] == "m0"
        assert after.doc["seq"] == 4  # number 2 (the resend's) and 3 (unused) are filled
        held = await numbers(db)
        assert sorted(held) == [1, 2, 3, 4]
        assert [n for n, d in held.items() if d.get("gap")] == [2, 3]

    async def test_rooms_of_other_streams_are_untouched(self, db: AsyncDatabase[Doc]) -> None:
        store = ChatStore(db)
        await store.insert_gaps("other", [1])
        sequencer = Sequencer(store)
        await asyncio.gather(*(sequencer.submit(message(n)) for n in range(3)))
        others = [d async for d in db[MESSAGES].find({"stream_id": "other"})]
        assert [(d["seq"], d["gap"]) for d in others] == [(1, True)]
        assert await store.current_seq("other") == 0
        assert await store.current_seq(S) == 3
