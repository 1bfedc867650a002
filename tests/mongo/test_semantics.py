"""MongoDB semantics of every query shape the services and the kit use.

Runs against whatever ``MONGODB_URL`` names (the nx-27017 stand-in here, real MongoDB under
testcontainers elsewhere) and asserts MongoDB's documented answer: each test seeds several
documents (some matching, some not, some lacking the fields involved), runs one shape and checks
exactly which documents were touched and what came back.

* ``@covers(shape, ...)`` names the shapes a test covers, spelled as
  :mod:`testkit.mongo_shapes` reads them from the code; ``test_every_shape_in_the_code_is_covered``
  fails when a repository or the kit uses a shape no test names.
* ``GAPS``: shapes the stand-in answers wrongly. The code must not use them (the inventory test
  refuses them), and each has a test showing the wrong answer, a strict xfail on the stand-in
  (so a stand-in that fixes it is noticed) and a plain pass on real MongoDB.
  The list with the shapes we use instead: ``scripts/MONGODB-STANDIN.md``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, DeleteOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from contracts import make_envelope
from contracts.viewer import ViewerJoined
from servicekit.mongo import FieldDefault, IndexSpec, ensure_indexes
from servicekit.outbox import OUTBOX_COUNT, OUTBOX_FIELD, stage_update
from servicekit.writes import write_if_newer
from testkit.mongo_shapes import Site, scan

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Awaitable[None]])
ROOT = Path(__file__).resolve().parents[2]

#: shape -> the test that covers it
COVERED: dict[str, str] = {}


def covers(*shapes: str) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        for shape in shapes:
            COVERED[shape] = fn.__name__
        return fn

    return mark


#: shapes the stand-in gets wrong (a regular expression over the shape) -> what goes wrong
GAPS: dict[str, str] = {
    r"^(update_one|update_many|find_one_and_update|UpdateOne|UpdateMany|delete_one|delete_many)"
    r"\(.*\$or\(": "an update whose filter has $or beside other keys writes another document",
    r"\$exists:false|\bnull\b": "a filter that must accept a missing field needs $or on updates; "
    "create documents with every compared field instead (only the FieldDefault back-fill uses "
    "$exists:false, alone)",
    r"\$push|\$addToSet": "$push stringifies sub-documents; $addToSet on a missing field does "
    "nothing",
    r"\$set:datetime\?": "$set of a datetime stores a string: updates write epoch ms (to_ms)",
    r"^find_one_and_update\(.*\$setOnInsert.*upsert": "find_one_and_update with upsert drops "
    "$setOnInsert",
}
ALLOWED_GAP_SITES = {"update_many($exists:false; $set)"}  # FieldDefault's back-fill, alone


@pytest_asyncio.fixture
async def col(mongo_db: AsyncDatabase[Doc]) -> AsyncCollection[Doc]:
    return mongo_db["shapes"]


@pytest_asyncio.fixture
async def known_gap(
    request: pytest.FixtureRequest, mongo_client: AsyncMongoClient[Doc]
) -> Callable[[str], None]:
    """``known_gap(shape)``: on the stand-in (no ``version`` in ``server_info()``, see DESIGN.md)
    this test is a strict xfail naming the shape; on real MongoDB it must pass."""
    info = await mongo_client.server_info()
    standin = "version" not in info

    def mark(shape: str) -> None:
        if standin:
            request.applymarker(pytest.mark.xfail(strict=True, reason=f"stand-in gap: {shape}"))

    return mark


async def seed(col: AsyncCollection[Doc], *docs: Doc) -> dict[Any, Doc]:
    await col.insert_many([dict(d) for d in docs])
    return await contents(col)


async def contents(col: AsyncCollection[Doc]) -> dict[Any, Doc]:
    return {d["_id"]: d async for d in col.find({})}


def touched(before: dict[Any, Doc], after: dict[Any, Doc]) -> set[Any]:
    """Ids of documents added, removed or changed."""
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


def ids(docs: Iterable[Doc]) -> list[Any]:
    return [d["_id"] for d in docs]


def envelope() -> Any:
    return make_envelope(
        ViewerJoined(stream_id="s1", account_id="a", joined_at=datetime.now(UTC)), producer="t"
    )


# ---- conditional writes -------------------------------------------------------------------


@covers("update_one($lt _id; $inc $set $setOnInsert) upsert")
async def test_write_if_newer_applies_newer_refuses_older_creates_missing(
    col: AsyncCollection[Doc],
) -> None:
    clocks = {"at_ms": 0, "slow_at_ms": 0, "rank": -1}
    before = await seed(
        col,
        {"_id": "s1", "at_ms": 10, "slow_at_ms": 0, "rank": 0, "v": "s1"},
        {"_id": "s2", "at_ms": 50, "slow_at_ms": 0, "rank": 0, "v": "s2"},
        {"_id": "s3", "at_ms": 5, "slow_at_ms": 0, "rank": 0, "v": "s3"},
    )
    env = envelope()
    newer = await write_if_newer(
        col, "s2", clock="at_ms", stamp=60, values={"v": "new"}, envelopes=[env]
    )
    older = await write_if_newer(col, "s1", clock="at_ms", stamp=9, values={"v": "old"})
    equal = await write_if_newer(col, "s3", clock="at_ms", stamp=5, values={"v": "eq"})
    created = await write_if_newer(
        col, "s4", clock="slow_at_ms", stamp=7, values={"v": "s4"}, created_with=clocks
    )
    after = await contents(col)
    assert (newer, older, equal, created) == (True, False, False, True)
    assert touched(before, after) == {"s2", "s4"}
    assert after["s2"]["v"] == "new"
    assert after["s2"]["at_ms"] == 60
    assert after["s2"][OUTBOX_COUNT] == 1
    assert set(after["s2"][OUTBOX_FIELD]) == {str(env.event_id)}
    assert after["s4"] == {"_id": "s4", "v": "s4", "slow_at_ms": 7, "at_ms": 0, "rank": -1}


@covers("update_one($lte _id; $set) upsert")
async def test_slow_gate_passes_once_per_interval(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "s1\x1fa", "last_ms": 1_000},
        {"_id": "s1\x1fb", "last_ms": 9_000},
        {"_id": "s2\x1fa", "last_ms": 1_000},
    )
    gate = {"$set": {"last_ms": 10_000}}
    passed = await col.update_one({"_id": "s1\x1fa", "last_ms": {"$lte": 5_000}}, gate, upsert=True)
    with pytest.raises(DuplicateKeyError):  # posted 1 s ago: the upsert collides, nothing written
        await col.update_one({"_id": "s1\x1fb", "last_ms": {"$lte": 5_000}}, gate, upsert=True)
    first = await col.update_one({"_id": "s3\x1fa", "last_ms": {"$lte": 5_000}}, gate, upsert=True)
    after = await contents(col)
    assert (passed.matched_count, passed.modified_count) == (1, 1)
    assert first.upserted_id == "s3\x1fa"
    assert touched(before, after) == {"s1\x1fa", "s3\x1fa"}
    assert after["s1\x1fa"]["last_ms"] == after["s3\x1fa"]["last_ms"] == 10_000


@covers("update_one(= _id; $inc $set)")
async def test_update_on_id_and_state_stages_outbox_only_when_the_state_matches(
    col: AsyncCollection[Doc],
) -> None:
    before = await seed(
        col,
        {"_id": "m1", "stream_id": "s1", "deleted": False},
        {"_id": "m2", "stream_id": "s1", "deleted": True},
        {"_id": "m3", "stream_id": "s2", "deleted": False},
        {"_id": "m4", "stream_id": "s1"},
    )
    update = stage_update({"$set": {"deleted": True, "deleted_by": "mod"}}, [envelope()])
    hit = await col.update_one({"_id": "m1", "stream_id": "s1", "deleted": False}, update)
    again = await col.update_one({"_id": "m2", "stream_id": "s1", "deleted": False}, update)
    other = await col.update_one({"_id": "m3", "stream_id": "s1", "deleted": False}, update)
    missing = await col.update_one({"_id": "m4", "stream_id": "s1", "deleted": False}, update)
    after = await contents(col)
    assert [r.modified_count for r in (hit, again, other, missing)] == [1, 0, 0, 0]
    assert touched(before, after) == {"m1"}
    assert after["m1"]["deleted_by"] == "mod"
    assert after["m1"][OUTBOX_COUNT] == 1


@covers("update_one(= _id; $set)")
async def test_update_on_id_and_flag(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "s1", "ready": False},
        {"_id": "s2", "ready": True, "owner_id": "o"},
        {"_id": "s3", "ready": False},
        {"_id": "s4"},
    )
    first = await col.update_one({"_id": "s1", "ready": False}, {"$set": {"ready": True}})
    done = await col.update_one({"_id": "s2", "ready": False}, {"$set": {"owner_id": "x"}})
    lacking = await col.update_one({"_id": "s4", "ready": False}, {"$set": {"ready": True}})
    after = await contents(col)
    assert [r.modified_count for r in (first, done, lacking)] == [1, 0, 0]
    assert touched(before, after) == {"s1"}
    assert after["s1"]["ready"]


@covers("update_one(_id; $inc $set)", "update_one(_id; $set)")
async def test_update_by_id_touches_that_document_only(col: AsyncCollection[Doc]) -> None:
    before = await seed(col, {"_id": "s1", "n": 1}, {"_id": "s2", "n": 1, "c": "a"}, {"_id": "s3"})
    inc = await col.update_one({"_id": "s2"}, {"$set": {"c": "b"}, "$inc": {"n": 2, "m": 1}})
    sets = await col.update_one({"_id": "s3"}, {"$set": {"c": "z"}})
    nothing = await col.update_one({"_id": "s9"}, {"$set": {"c": "z"}})
    after = await contents(col)
    assert (inc.modified_count, sets.modified_count, nothing.matched_count) == (1, 1, 0)
    assert touched(before, after) == {"s2", "s3"}
    assert after["s2"] == {"_id": "s2", "n": 3, "c": "b", "m": 1}
    assert after["s3"] == {"_id": "s3", "c": "z"}


@covers("update_one(_id; $set $setOnInsert) upsert", "update_one(_id; $set) upsert")
async def test_upsert_by_id_sets_on_insert_only_when_it_creates(col: AsyncCollection[Doc]) -> None:
    joined = datetime(2026, 1, 1, tzinfo=UTC)
    before = await seed(
        col, {"_id": "s1\x1fa", "last_ms": 1, "joined_at": joined}, {"_id": "s2\x1fa"}
    )
    later = joined + timedelta(hours=1)
    update = {"$set": {"last_ms": 5}, "$setOnInsert": {"joined_at": later, "next_ms": 0}}
    existing = await col.update_one({"_id": "s1\x1fa"}, update, upsert=True)
    created = await col.update_one({"_id": "s1\x1fb"}, update, upsert=True)
    plain = await col.update_one({"_id": "s3"}, {"$set": {"owner_id": "o"}}, upsert=True)
    after = await contents(col)
    assert (existing.modified_count, created.upserted_id, plain.upserted_id) == (
        1,
        "s1\x1fb",
        "s3",
    )
    assert touched(before, after) == {"s1\x1fa", "s1\x1fb", "s3"}
    assert after["s1\x1fa"] == {"_id": "s1\x1fa", "last_ms": 5, "joined_at": joined}
    assert after["s1\x1fb"] == {"_id": "s1\x1fb", "last_ms": 5, "joined_at": later, "next_ms": 0}
    assert after["s3"] == {"_id": "s3", "owner_id": "o"}


@covers("update_one(_id; $setOnInsert) upsert")
async def test_set_on_insert_upsert_creates_once(col: AsyncCollection[Doc]) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    before = await seed(col, {"_id": "s1", "state": "done"}, {"_id": "s2", "state": "pending"})
    update = {"$setOnInsert": {"state": "pending", "at": at}}
    kept = await col.update_one({"_id": "s1"}, update, upsert=True)
    created = await col.update_one({"_id": "s3"}, update, upsert=True)
    after = await contents(col)
    assert (kept.upserted_id, created.upserted_id) == (None, "s3")
    assert touched(before, after) == {"s3"}
    assert after["s3"] == {"_id": "s3", "state": "pending", "at": at}


@covers("update_many($exists:false; $set)", "create_index()")
async def test_field_defaults_fill_only_documents_lacking_the_field(
    mongo_db: AsyncDatabase[Doc],
) -> None:
    col = mongo_db["views"]
    before = await seed(col, {"_id": "s1"}, {"_id": "s2", "rank": 2}, {"_id": "s3", "rank": 0})
    specs = [FieldDefault("views", "rank", -1), IndexSpec("views", [("rank", 1)])]
    await ensure_indexes(mongo_db, specs)
    await ensure_indexes(mongo_db, specs)  # idempotent
    after = await contents(col)
    assert touched(before, after) == {"s1"}
    assert after["s1"]["rank"] == -1


@covers("update_many(= _id$in; $set)", "update_many(=; $set)")
async def test_update_many_by_owner_and_ids(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "n1", "account_id": "a", "read": False},
        {"_id": "n2", "account_id": "a", "read": False},
        {"_id": "n3", "account_id": "b", "read": False},
        {"_id": "n4", "account_id": "a", "read": True},
        {"_id": "n5", "account_id": "a"},
    )
    some = await col.update_many(
        {"account_id": "a", "read": False, "_id": {"$in": ["n1", "n3", "n4"]}},
        {"$set": {"read": True}},
    )
    rest = await col.update_many({"account_id": "a", "read": False}, {"$set": {"read": True}})
    after = await contents(col)
    assert (some.modified_count, rest.modified_count) == (1, 1)
    assert touched(before, after) == {"n1", "n2"}


# ---- claims ------------------------------------------------------------------------------


@covers("find_one_and_update($lt = _id; $set) after")
async def test_claim_takes_over_an_expired_lease_only(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "c:1", "state": "running", "lease_ms": 100},
        {"_id": "c:2", "state": "running", "lease_ms": 900},
        {"_id": "c:3", "state": "done", "lease_ms": 100},
        {"_id": "c:4", "state": "running"},
    )

    async def claim(key: str) -> Doc | None:
        return await col.find_one_and_update(
            {"_id": key, "state": "running", "lease_ms": {"$lt": 500}},
            {"$set": {"lease_ms": 1500}},
            return_document=ReturnDocument.AFTER,
        )

    got = [await claim(k) for k in ("c:1", "c:2", "c:3", "c:4")]
    after = await contents(col)
    assert got[0] == {"_id": "c:1", "state": "running", "lease_ms": 1500}
    assert got[1:] == [None, None, None]
    assert touched(before, after) == {"c:1"}


@covers("find_one_and_update($gte $ne _id; $inc $set) after")
async def test_streak_continues_only_inside_the_window_and_for_a_new_key(
    col: AsyncCollection[Doc],
) -> None:
    # chat-gateway's gift streaks (issue 21): every document has every compared field
    before = await seed(
        col,
        {"_id": "s:a", "streak_id": "A", "count": 2, "last_ms": 1000, "last_key": "k1"},
        {"_id": "s:b", "streak_id": "B", "count": 5, "last_ms": 100, "last_key": "k9"},
        {"_id": "s:c", "streak_id": "C", "count": 1, "last_ms": 1000, "last_key": "k2"},
    )

    async def bump(key: str, last_key: str) -> Doc | None:
        return await col.find_one_and_update(
            {"_id": key, "last_ms": {"$gte": 500}, "last_key": {"$ne": last_key}},
            {"$inc": {"count": 3}, "$set": {"last_ms": 1500, "last_key": last_key}},
            return_document=ReturnDocument.AFTER,
        )

    got = await bump("s:a", "k2")
    assert got == {"_id": "s:a", "streak_id": "A", "count": 5, "last_ms": 1500, "last_key": "k2"}
    assert await bump("s:a", "k2") is None  # the same key again: no second count
    assert await bump("s:b", "k2") is None  # outside the window
    assert await bump("s:x", "k2") is None  # no such streak
    assert touched(before, await contents(col)) == {"s:a"}


@covers("find_one_and_update($lt _id; $set) after")
async def test_lapsed_streak_is_restarted_only_when_lapsed(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "s:a", "streak_id": "A", "count": 2, "last_ms": 100, "last_key": "k1"},
        {"_id": "s:b", "streak_id": "B", "count": 5, "last_ms": 900, "last_key": "k9"},
        {"_id": "s:c", "streak_id": "C", "count": 1, "last_ms": 100, "last_key": "k2"},
    )

    async def restart(key: str) -> Doc | None:
        return await col.find_one_and_update(
            {"_id": key, "last_ms": {"$lt": 500}},
            {"$set": {"streak_id": "N", "count": 1, "last_ms": 1000, "last_key": "k3"}},
            return_document=ReturnDocument.AFTER,
        )

    got = await restart("s:a")
    assert got == {"_id": "s:a", "streak_id": "N", "count": 1, "last_ms": 1000, "last_key": "k3"}
    assert await restart("s:b") is None
    assert await restart("s:a") is None  # restarted: not lapsed any more
    assert touched(before, await contents(col)) == {"s:a"}


@covers("aggregate()")
async def test_group_sums_per_key_within_a_match(col: AsyncCollection[Doc]) -> None:
    # chat-gateway's gift totals per sender (issue 21); neighbours of another stream
    await seed(
        col,
        {"_id": "g1", "stream_id": "s", "sender_id": "fan", "amount": 1, "total_price": 10},
        {"_id": "g2", "stream_id": "s", "sender_id": "fan", "amount": 2, "total_price": 20},
        {"_id": "g3", "stream_id": "s", "sender_id": "whale", "amount": 1, "total_price": 1000},
        {"_id": "g4", "stream_id": "t", "sender_id": "fan", "amount": 9, "total_price": 90},
    )
    pipeline: list[Doc] = [
        {"$match": {"stream_id": "s"}},
        {
            "$group": {
                "_id": "$sender_id",
                "gifts": {"$sum": "$amount"},
                "coins": {"$sum": "$total_price"},
            }
        },
    ]
    rows = [row async for row in await col.aggregate(pipeline)]
    assert sorted((r["_id"], r["gifts"], r["coins"]) for r in rows) == [
        ("fan", 3, 30),
        ("whale", 1, 1000),
    ]


@covers("find_one_and_update($lt =; $set) after")
async def test_claim_without_id_takes_one_due_document(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "s1", "state": "done", "ready": True, "lease_ms": 0},
        {"_id": "s2", "state": "pending", "ready": False, "lease_ms": 0},
        {"_id": "s3", "state": "pending", "ready": True, "lease_ms": 999},
        {"_id": "s4", "state": "pending", "ready": True, "lease_ms": 0},
        {"_id": "s5", "state": "pending", "ready": True},
    )
    query = {"state": "pending", "ready": True, "lease_ms": {"$lt": 500}}
    first = await col.find_one_and_update(
        query, {"$set": {"lease_ms": 800}}, return_document=ReturnDocument.AFTER
    )
    second = await col.find_one_and_update(
        query, {"$set": {"lease_ms": 800}}, return_document=ReturnDocument.AFTER
    )
    after = await contents(col)
    assert first is not None
    assert first["_id"] == "s4"
    assert first["lease_ms"] == 800
    assert second is None
    assert touched(before, after) == {"s4"}


@covers(
    "find_one_and_update($lte = _id; $set)",
    "find($lte =) projection limit",
    "UpdateOne(_id; $set $setOnInsert) upsert",
    "bulk_write() ordered=False",
)
async def test_due_counts_are_claimed_once_each(col: AsyncCollection[Doc]) -> None:
    await seed(
        col,
        {"_id": "s1", "changed": True, "next_ms": 0},
        {"_id": "s2", "changed": True, "next_ms": 9_000},
        {"_id": "s3", "changed": False, "next_ms": 0},
    )
    marked = await col.bulk_write(
        [
            UpdateOne({"_id": s}, {"$set": {"changed": True}, "$setOnInsert": {"next_ms": 0}}, True)
            for s in ("s3", "s4")
        ],
        ordered=False,
    )
    assert (marked.modified_count, marked.upserted_ids) == (1, {1: "s4"})
    before = await contents(col)
    due = {"changed": True, "next_ms": {"$lte": 1_000}}
    candidates = ids(await col.find(due, {"_id": 1}).limit(10).to_list())
    assert sorted(candidates) == ["s1", "s3", "s4"]
    won = [
        await col.find_one_and_update(
            {**due, "_id": s}, {"$set": {"changed": False, "next_ms": 2_000}}
        )
        for s in ["s2", *candidates, "s1"]
    ]
    after = await contents(col)
    assert [w["_id"] if w else None for w in won] == [None, *candidates, None]
    assert touched(before, after) == {"s1", "s3", "s4"}
    assert after["s2"] == {"_id": "s2", "changed": True, "next_ms": 9_000}


@covers("find_one_and_update(_id; $inc) upsert after")
async def test_sequence_counter_per_stream(col: AsyncCollection[Doc]) -> None:
    before = await seed(col, {"_id": "s1", "seq": 7}, {"_id": "s2", "seq": 3})

    async def next_seq(stream: str) -> int:
        doc = await col.find_one_and_update(
            {"_id": stream}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return int(doc["seq"])

    assert [await next_seq("s1"), await next_seq("s3"), await next_seq("s3")] == [8, 1, 2]
    after = await contents(col)
    assert touched(before, after) == {"s1", "s3"}


@covers("find_one_and_update(_id; $max $set) after")
async def test_peak_is_the_maximum(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col, {"_id": "s1", "peak": 5, "count": 5}, {"_id": "s2", "peak": 9, "count": 1}
    )
    update = {"$max": {"peak": 7}, "$set": {"count": 7}}
    up = await col.find_one_and_update({"_id": "s1"}, update, return_document=ReturnDocument.AFTER)
    missing = await col.find_one_and_update({"_id": "s9"}, update)
    after = await contents(col)
    assert up == {"_id": "s1", "peak": 7, "count": 7}
    assert missing is None
    assert touched(before, after) == {"s1"}


@covers("UpdateOne($exists:true _id; $inc $unset)")
async def test_outbox_clear_removes_each_event_once(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "a", OUTBOX_FIELD: {"e1": {"x": 1}, "e2": {"x": 2}}, OUTBOX_COUNT: 2},
        {"_id": "b", OUTBOX_FIELD: {"e1": {"x": 1}}, OUTBOX_COUNT: 1},
        {"_id": "c", "v": 1},
    )

    def clear(doc_id: str, event_id: str) -> UpdateOne:
        field = f"{OUTBOX_FIELD}.{event_id}"
        return UpdateOne(
            {"_id": doc_id, field: {"$exists": True}},
            {"$unset": {field: ""}, "$inc": {OUTBOX_COUNT: -1}},
        )

    result = await col.bulk_write([clear("a", "e1"), clear("a", "e1"), clear("c", "e1")], False)
    after = await contents(col)
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert touched(before, after) == {"a"}
    assert after["a"][OUTBOX_FIELD] == {"e2": {"x": 2}}
    assert after["a"][OUTBOX_COUNT] == 1


@covers("update_many($gt _id$in; $set $unset)")
async def test_insert_only_outbox_clear_empties_exactly_the_listed_documents(
    col: AsyncCollection[Doc],
) -> None:
    before = await seed(
        col,
        {"_id": "a", OUTBOX_FIELD: {"e1": {"x": 1}}, OUTBOX_COUNT: 1, "v": 1},
        {"_id": "b", OUTBOX_FIELD: {"e2": {"x": 2}, "e3": {"x": 3}}, OUTBOX_COUNT: 2, "v": 2},
        {"_id": "c", OUTBOX_FIELD: {"e4": {"x": 4}}, OUTBOX_COUNT: 1, "v": 3},  # not listed
        {"_id": "d", OUTBOX_COUNT: 0, "v": 4},  # listed, already cleared by another relay
    )
    result = await col.update_many(
        {"_id": {"$in": ["a", "b", "d", "z"]}, OUTBOX_COUNT: {"$gt": 0}},
        {"$unset": {OUTBOX_FIELD: ""}, "$set": {OUTBOX_COUNT: 0}},
    )
    after = await contents(col)
    assert (result.matched_count, result.modified_count) == (2, 2)
    assert touched(before, after) == {"a", "b"}
    assert after["a"] == {"_id": "a", OUTBOX_COUNT: 0, "v": 1}
    assert after["b"] == {"_id": "b", OUTBOX_COUNT: 0, "v": 2}


@covers("find($gt _id$nin) projection limit")
async def test_the_poll_passes_over_exactly_the_listed_documents(
    col: AsyncCollection[Doc],
) -> None:
    """The relay's poll, passing over documents it cannot decode: staged documents not listed,
    and nothing else (unstaged ones, ones lacking the count, listed ones)."""
    await seed(
        col,
        {"_id": "a", OUTBOX_COUNT: 1, OUTBOX_FIELD: {"e1": {}}, "v": 1},
        {"_id": "b", OUTBOX_COUNT: 2, OUTBOX_FIELD: {"e2": {}, "e3": {}}},
        {"_id": "c", OUTBOX_COUNT: 0, "v": 3},
        {"_id": "d", "v": 4},
        {"_id": "e", OUTBOX_COUNT: 1, OUTBOX_FIELD: {"e4": {}}},
        {"_id": 7, OUTBOX_COUNT: 1, OUTBOX_FIELD: {"e5": {}}},
    )
    query = {OUTBOX_COUNT: {"$gt": 0}, "_id": {"$nin": ["b", "c", "zz", 8]}}
    found = await col.find(query, {OUTBOX_FIELD: 1}).limit(10).to_list()
    assert sorted(found, key=lambda d: str(d["_id"])) == [
        {"_id": 7, OUTBOX_FIELD: {"e5": {}}},
        {"_id": "a", OUTBOX_FIELD: {"e1": {}}},
        {"_id": "e", OUTBOX_FIELD: {"e4": {}}},
    ]
    assert len(await col.find(query, {OUTBOX_FIELD: 1}).limit(2).to_list()) == 2


# ---- inserts and deletes -----------------------------------------------------------------


@covers("insert_one()", "index(2 keys) unique", "index(3 keys) unique")
async def test_unique_indexes_refuse_only_true_duplicates(col: AsyncCollection[Doc]) -> None:
    await col.create_index([("stream_id", 1), ("seq", 1)], unique=True)
    await col.create_index([("stream_id", 1), ("account_id", 1), ("cid", 1)], unique=True)
    before = await seed(
        col, {"_id": "m1", "stream_id": "s1", "seq": 1, "account_id": "a", "cid": 1}
    )
    await col.insert_one({"_id": "m2", "stream_id": "s2", "seq": 1, "account_id": "a", "cid": 1})
    await col.insert_one({"_id": "m3", "stream_id": "s1", "seq": 2, "account_id": "b", "cid": 1})
    for dup in (
        {"_id": "m1", "stream_id": "s9", "seq": 9, "account_id": "z", "cid": 9},
        {"_id": "m4", "stream_id": "s1", "seq": 1, "account_id": "z", "cid": 9},
        {"_id": "m5", "stream_id": "s1", "seq": 9, "account_id": "a", "cid": 1},
    ):
        with pytest.raises(DuplicateKeyError):
            await col.insert_one(dup)
    after = await contents(col)
    assert touched(before, after) == {"m2", "m3"}


@covers("insert_many() ordered=False")
async def test_unordered_insert_many_stores_all_but_the_duplicates(
    col: AsyncCollection[Doc],
) -> None:
    before = await seed(col, {"_id": "b", "v": "old"})
    with pytest.raises(BulkWriteError) as caught:
        await col.insert_many([{"_id": "a"}, {"_id": "b", "v": "new"}, {"_id": "c"}], ordered=False)
    errors = caught.value.details["writeErrors"]
    assert [(e["index"], e["code"]) for e in errors] == [(1, 11000)]
    assert caught.value.details["nInserted"] == 2
    after = await contents(col)
    assert touched(before, after) == {"a", "c"}
    assert after["b"]["v"] == "old"


@covers("find($in =)")
async def test_find_by_field_and_in_list_returns_exactly_those(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "m1", "stream_id": "s1", "client_msg_id": "a"},
        {"_id": "m2", "stream_id": "s1", "client_msg_id": "b"},
        {"_id": "m3", "stream_id": "s2", "client_msg_id": "a"},
        {"_id": "m4", "stream_id": "s1", "client_msg_id": "c"},
        {"_id": "m5", "stream_id": "s1"},
    )
    found = col.find({"stream_id": "s1", "client_msg_id": {"$in": ["a", "c", "zz"]}})
    assert sorted(ids([d async for d in found])) == ["m1", "m4"]
    assert await contents(col) == before


async def test_a_counter_increment_by_n_reserves_a_range_per_stream(
    col: AsyncCollection[Doc],
) -> None:
    """The chat sequencer's reservation: ``$inc`` by N returns the range's last number."""
    before = await seed(col, {"_id": "s1", "seq": 7}, {"_id": "s2", "seq": 3})

    async def reserve(stream: str, n: int) -> int:
        doc = await col.find_one_and_update(
            {"_id": stream}, {"$inc": {"seq": n}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert doc is not None
        return int(doc["seq"])

    assert [await reserve("s1", 5), await reserve("s3", 4), await reserve("s3", 1)] == [12, 4, 5]
    after = await contents(col)
    assert touched(before, after) == {"s1", "s3"}


@covers("insert_many()")
async def test_ordered_insert_many_stops_at_the_first_compound_unique_key_refusal(
    mongo_db: AsyncDatabase[Doc],
) -> None:
    """The chat sequencer's batch insert: the documents before the first refusal (by either
    compound unique index) are stored, that one and every later one are not, and the error
    names its index."""
    col = mongo_db["messages"]
    await col.create_index([("stream_id", 1), ("seq", 1)], unique=True)
    await col.create_index([("stream_id", 1), ("account_id", 1), ("cmid", 1)], unique=True)
    await col.insert_many(
        [
            {"_id": "gap", "stream_id": "s1", "seq": 3, "account_id": "", "cmid": "gap:3"},
            {"_id": "old", "stream_id": "s1", "seq": 1, "account_id": "a", "cmid": "x"},
            {"_id": "other", "stream_id": "s2", "seq": 5, "account_id": "a", "cmid": "y"},
        ]
    )

    def batch(start: int, cmids: list[str]) -> list[Doc]:
        return [
            {"_id": f"n{start + i}", "stream_id": "s1", "seq": start + i, "account_id": "a"}
            | {"cmid": cmid}
            for i, cmid in enumerate(cmids)
        ]

    with pytest.raises(BulkWriteError) as by_seq:
        await col.insert_many(batch(2, ["p", "q", "r"]))  # seq 3 holds the gap marker
    assert [(e["index"], e["code"]) for e in by_seq.value.details["writeErrors"]] == [(1, 11000)]
    with pytest.raises(BulkWriteError) as by_key:
        await col.insert_many(batch(6, ["s", "x", "t"]))  # (s1, a, x) is stored
    assert [(e["index"], e["code"]) for e in by_key.value.details["writeErrors"]] == [(1, 11000)]
    stored = {d["_id"]: d["seq"] async for d in col.find({})}
    assert stored == {"gap": 3, "old": 1, "other": 5, "n2": 2, "n6": 6}


@covers(
    "delete_one(_id)",
    "delete_one(= _id)",
    "delete_many($lt)",
    "delete_many(_id$in)",
)
async def test_deletes_remove_exactly_the_matching_documents(col: AsyncCollection[Doc]) -> None:
    before = await seed(
        col,
        {"_id": "k1", "state": "running", "seen_ms": 100},
        {"_id": "k2", "state": "done", "seen_ms": 100},
        {"_id": "k3", "state": "running", "seen_ms": 900},
        {"_id": "k4", "seen_ms": 50},
        {"_id": "k5", "state": "running"},
        {"_id": "k6", "seen_ms": 10},
        {"_id": "k7", "seen_ms": 900},
        {"_id": "k8", "seen_ms": 900},
    )
    results = [
        await col.delete_one({"_id": "k2", "state": "running"}),
        await col.delete_one({"_id": "k3", "seen_ms": {"$lt": 500}}),
        await col.delete_one({"_id": "k1", "state": "running"}),
        await col.delete_one({"_id": "k9"}),
        await col.delete_one({"_id": "k6"}),
        await col.delete_many({"seen_ms": {"$lt": 500}}),
        await col.delete_many({"_id": {"$in": ["k7", "k99"]}}),
    ]
    after = await contents(col)
    assert [r.deleted_count for r in results] == [0, 0, 1, 0, 1, 2, 1]
    assert set(after) == {"k3", "k5", "k8"}  # k5 lacks seen_ms: $lt does not match it
    assert touched(before, after) == {"k1", "k2", "k4", "k6", "k7"}


@covers("update_one($gt $lte _id; $inc)")
async def test_a_range_conditional_increment_takes_exactly_one_document(
    col: AsyncCollection[Doc],
) -> None:
    """The shared chat rate budget (GCRA): spend one step when ``tat`` is ahead of now within
    the tolerance; never touch a neighbour, never pass outside the range."""
    before = await seed(
        col,
        {"_id": "s1\x1fa", "tat_ms": 1_500},
        {"_id": "s1\x1fb", "tat_ms": 9_000},
        {"_id": "s2\x1fa", "tat_ms": 1_500},
        {"_id": "s1\x1fc", "tat_ms": 500},
    )
    now, tolerance, step = 1_000, 4_000, 1_000
    window = {"$gt": now, "$lte": now + tolerance}
    inside = await col.update_one({"_id": "s1\x1fa", "tat_ms": window}, {"$inc": {"tat_ms": step}})
    beyond = await col.update_one({"_id": "s1\x1fb", "tat_ms": window}, {"$inc": {"tat_ms": step}})
    past = await col.update_one({"_id": "s1\x1fc", "tat_ms": window}, {"$inc": {"tat_ms": step}})
    after = await contents(col)
    assert [r.modified_count for r in (inside, beyond, past)] == [1, 0, 0]
    assert touched(before, after) == {"s1\x1fa"}
    assert after["s1\x1fa"]["tat_ms"] == 2_500


# ---- reads -------------------------------------------------------------------------------

MESSAGES = [
    {"_id": "m1", "stream_id": "s1", "seq": 1, "deleted": False, "t": 10},
    {"_id": "m2", "stream_id": "s1", "seq": 2, "deleted": True, "gap": True, "t": 20},
    {"_id": "m3", "stream_id": "s1", "seq": 3, "deleted": True, "t": 20},
    {"_id": "m4", "stream_id": "s1", "seq": 4, "deleted": False, "t": 30},
    {"_id": "m5", "stream_id": "s2", "seq": 2, "deleted": False, "t": 20},
    {"_id": "m6", "stream_id": "s1", "seq": 5, "t": 40},
    {"_id": "m7", "stream_id": "s1", "deleted": False},
]


@covers(
    "find(=)",
    "find(=) sort",
    "find(=) limit sort",
    "find($gt =)",
    "find($gt =) projection limit sort",
    "find($lt =) limit",
    "find($lt =) limit sort",
    "find($gte $lte =) sort",
    "find($gte $lte $ne =) projection",
    "find($ne =) projection",
    "count_documents(=)",
    "count_documents($gt)",
)
async def test_finds_by_stream_with_ranges_and_flags(col: AsyncCollection[Doc]) -> None:
    await seed(col, *MESSAGES)
    s1 = {"stream_id": "s1"}
    assert sorted(ids(await col.find(s1).to_list())) == ["m1", "m2", "m3", "m4", "m6", "m7"]
    assert ids(await col.find({**s1, "deleted": False}).sort("seq", 1).to_list()) == [
        "m7",  # lacking the sort field: first ascending
        "m1",
        "m4",
    ]
    newest = col.find({**s1, "deleted": False}).sort("seq", -1).limit(2)
    assert ids(await newest.to_list()) == ["m4", "m1"]
    projected = await col.find({"stream_id": "s2"}, {"seq": 1}).to_list()
    assert projected == [{"_id": "m5", "seq": 2}]
    after = col.find({**s1, "seq": {"$gt": 1}, "deleted": False})
    assert ids(await after.to_list()) == ["m4"]
    assert ids(await col.find({**s1, "seq": {"$gt": 1}}).sort("seq", 1).limit(3).to_list()) == [
        "m2",
        "m3",
        "m4",
    ]
    paged = col.find({**s1, "seq": {"$gt": 1}}, {"seq": 1}).sort("seq", -1).limit(2)
    assert await paged.to_list() == [{"_id": "m6", "seq": 5}, {"_id": "m4", "seq": 4}]
    assert sorted(ids(await col.find({**s1, "t": {"$lt": 25}}).limit(10).to_list())) == [
        "m1",
        "m2",
        "m3",
    ]
    older = col.find({**s1, "deleted": False, "seq": {"$lt": 4}}).sort("seq", -1).limit(5)
    assert ids(await older.to_list()) == ["m1"]
    window = col.find({**s1, "seq": {"$gte": 2, "$lte": 5}}).sort("seq", 1)
    assert ids(await window.to_list()) == ["m2", "m3", "m4", "m6"]
    deleted = {**s1, "seq": {"$gte": 1, "$lte": 5}, "deleted": True, "gap": {"$ne": True}}
    assert await col.find(deleted, {"seq": 1}).to_list() == [{"_id": "m3", "seq": 3}]
    not_gap = await col.find({**s1, "gap": {"$ne": True}}, {"_id": 1}).to_list()
    assert sorted(ids(not_gap)) == ["m1", "m3", "m4", "m6", "m7"]  # $ne matches a missing field
    assert await col.count_documents({**s1, "deleted": False}) == 3
    assert await col.count_documents({"seq": {"$gt": 3}}) == 2


@covers(
    "find_one(_id)",
    "find_one(_id) projection",
    "find_one(= _id)",
    "find_one(= _id) projection",
    "find($in =) projection",
    "find(= _id$gt) projection limit sort",
    "find($in)",
    "find($gt) projection limit",
    "find($gt _id$in) projection",
    "find($gte $lt _id$in) projection",
)
async def test_point_reads_and_sets(col: AsyncCollection[Doc]) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    await seed(
        col,
        {"_id": "a", "stream_id": "s1", "n": 2, "at": t0, "_outbox": {"e": 1}, "ms": 5},
        {"_id": "b", "stream_id": "s2", "n": 0, "at": t0 + timedelta(minutes=1), "ms": 50},
        {"_id": "c", "stream_id": "s1", "at": t0 + timedelta(minutes=2)},
        {"_id": "d", "stream_id": "s3", "n": 1, "banned": True},
    )
    assert await col.find_one({"_id": "c"}) == {
        "_id": "c",
        "stream_id": "s1",
        "at": t0 + timedelta(minutes=2),
    }
    assert await col.find_one({"_id": "a"}, {"_outbox": 0, "at": 0}) == {
        "_id": "a",
        "stream_id": "s1",
        "n": 2,
        "ms": 5,
    }
    assert await col.find_one({"_id": "a"}, {"n": 1}) == {"_id": "a", "n": 2}
    assert await col.find_one({"_id": "c", "stream_id": "s2"}) is None
    assert (await col.find_one({"_id": "d", "banned": True}) or {}).get("n") == 1
    assert await col.find_one({"_id": "c", "banned": True}) is None
    assert await col.find_one({"_id": "d", "banned": True}, {"_id": 1}) == {"_id": "d"}
    assert await col.find_one({"_id": "a", "banned": True}, {"_id": 1}) is None
    assert (await col.find_one({"stream_id": "s2", "n": 0}) or {}).get("_id") == "b"
    assert sorted(ids(await col.find({"stream_id": {"$in": ["s1", "s3"]}}).to_list())) == [
        "a",
        "c",
        "d",
    ]
    assert ids(await col.find({"ms": {"$lt": 10}}, {"_id": 1}).to_list()) == ["a"]
    after_a = col.find({"stream_id": "s1", "_id": {"$gt": "a"}}, {"stream_id": 1})
    assert await after_a.sort("_id", 1).limit(5).to_list() == [{"_id": "c", "stream_id": "s1"}]
    first = col.find({"stream_id": "s1", "_id": {"$gt": ""}}, {"n": 1}).sort("_id", 1).limit(1)
    assert await first.to_list() == [{"_id": "a", "n": 2}]
    of_some = {"stream_id": {"$in": ["s1", "s3"]}, "n": 1}
    assert await col.find(of_some, {"stream_id": 1}).to_list() == [{"_id": "d", "stream_id": "s3"}]
    positive = await col.find({"n": {"$gt": 0}}, {"n": 1}).limit(10).to_list()
    assert sorted(ids(positive)) == ["a", "d"]
    some = await col.find({"_id": {"$in": ["a", "b", "c"]}, "n": {"$gt": 0}}, {"n": 1}).to_list()
    assert some == [{"_id": "a", "n": 2}]
    window = {
        "_id": {"$in": ["a", "b", "c", "d"]},
        "at": {"$gte": t0, "$lt": t0 + timedelta(minutes=2)},
    }
    assert sorted(ids(await col.find(window, {"at": 1}).to_list())) == ["a", "b"]


@covers(
    "find($or($lt = _id$lt) =) projection sort",
    "find($or($lt = _id$lt) =) projection limit sort",
    "find($in $ne $or($lt = _id$lt) =) projection limit sort",
    "index(2 keys desc)",
    "index(2 keys)",
)
async def test_keyset_pages_newest_first_with_ties_on_the_id(col: AsyncCollection[Doc]) -> None:
    await col.create_index([("owner_id", 1), ("created_ms", -1)])
    await col.create_index([("owner_id", 1), ("status", 1)])
    docs = [
        {"_id": f"x{i}", "owner_id": "o", "created_ms": ms, "status": st, "state": state}
        for i, (ms, st, state) in enumerate(
            [
                (10, "active", "ready"),
                (20, "active", "ready"),
                (20, "idle", "ready"),
                (20, "active", "creating"),
                (30, "active", "ready"),
                (40, "ended", "ready"),
                (20, "active", "ready"),
            ]
        )
    ]
    await seed(col, *docs, {"_id": "y", "owner_id": "p", "created_ms": 15, "status": "active"})
    order = [("created_ms", -1), ("_id", -1)]
    base = {"owner_id": "o", "status": {"$in": ["active", "idle"]}, "state": {"$ne": "creating"}}
    pages: list[list[Any]] = []
    cursor: tuple[int, str] | None = None
    while True:
        query = dict(base)
        if cursor is not None:
            ms, last = cursor
            query["$or"] = [{"created_ms": {"$lt": ms}}, {"created_ms": ms, "_id": {"$lt": last}}]
        page = await col.find(query, {"created_ms": 1}).sort(order).limit(2).to_list()
        if not page:
            break
        pages.append(ids(page))
        cursor = (page[-1]["created_ms"], page[-1]["_id"])
    assert pages == [["x4", "x6"], ["x2", "x1"], ["x0"]]
    rest = {
        "owner_id": "o",
        "$or": [{"created_ms": {"$lt": 20}}, {"created_ms": 20, "_id": {"$lt": "x3"}}],
    }
    assert ids(await col.find(rest, {"_id": 1}).sort(order).to_list()) == ["x2", "x1", "x0"]


@covers("index(1 key)", "index(1 key) sparse", "index(1 key) ttl")
async def test_single_field_sparse_and_ttl_indexes_leave_queries_exact(
    col: AsyncCollection[Doc],
) -> None:
    await col.create_index([("stream_id", 1)])
    await col.create_index([(OUTBOX_COUNT, 1)], sparse=True)
    await col.create_index([("at", 1)], expireAfterSeconds=3600)
    now = datetime.now(UTC)
    await seed(
        col,
        {"_id": "a", "stream_id": "s1", OUTBOX_COUNT: 2, "at": now},
        {"_id": "b", "stream_id": "s1", OUTBOX_COUNT: 0, "at": now},
        {"_id": "c", "stream_id": "s2", "at": now},
        {"_id": "d", "stream_id": "s2"},
    )
    assert ids(await col.find({OUTBOX_COUNT: {"$gt": 0}}).to_list()) == ["a"]
    assert sorted(ids(await col.find({"stream_id": "s2"}).to_list())) == ["c", "d"]
    ttl = [i for i in (await col.index_information()).values() if i["key"] == [("at", 1)]]
    assert [i.get("expireAfterSeconds") for i in ttl] == [3600]
    assert await col.count_documents({}) == 4  # nothing young expired


@covers(
    "index(3 keys)",
    "find_one(=) projection",
    "find($lt =) projection limit",
    "UpdateOne($lt _id; $set)",
    "find(_id$in)",
)
async def test_lookups_by_a_foreign_id_quiet_streams_and_go_live_claims(
    col: AsyncCollection[Doc],
) -> None:
    """stream-svc: a stream by its Mux live stream id, active streams Mux reported live with no
    report since a time (every document has every compared field); notifier: go-live claims."""
    await col.create_index([("status", 1), ("mux_reported_live", 1), ("last_mux_event_ms", 1)])
    await seed(
        col,
        {
            "_id": "a",
            "mux_id": "M1",
            "status": "active",
            "mux_reported_live": True,
            "last_mux_event_ms": 10,
            "_outbox": {"e": 1},
        },
        {
            "_id": "b",
            "mux_id": "M2",
            "status": "active",
            "mux_reported_live": True,
            "last_mux_event_ms": 99,
        },
        {
            "_id": "c",
            "mux_id": "M3",
            "status": "active",
            "mux_reported_live": False,
            "last_mux_event_ms": 0,
        },
        {
            "_id": "d",
            "mux_id": "M4",
            "status": "ended",
            "mux_reported_live": True,
            "last_mux_event_ms": 5,
        },
        {
            "_id": "e",
            "mux_id": None,
            "status": "active",
            "mux_reported_live": True,
            "last_mux_event_ms": 0,
        },
    )
    assert await col.find_one({"mux_id": "M2"}, {"_outbox": 0, "last_mux_event_ms": 0}) == {
        "_id": "b",
        "mux_id": "M2",
        "status": "active",
        "mux_reported_live": True,
    }
    assert await col.find_one({"mux_id": "M9"}, {"_outbox": 0}) is None
    quiet = {"status": "active", "mux_reported_live": True, "last_mux_event_ms": {"$lt": 50}}
    found = await col.find(quiet, {"_outbox": 0}).limit(10).to_list()
    assert sorted(ids(found)) == ["a", "e"]
    assert all("_outbox" not in d for d in found)
    assert len(await col.find(quiet, {"_outbox": 0}).limit(1).to_list()) == 1

    # notifier's go-live claims: insert the new, take over the ones older than the window
    marks = col.database["shapes_marks"]
    await marks.insert_many(
        [
            {"_id": "o\x1fz", "follower_id": "z", "stream_id": "s0", "at_ms": 500},
            {"_id": "o\x1fy", "follower_id": "y", "stream_id": "s0", "at_ms": 100},
            {"_id": "p\x1fx", "follower_id": "x", "stream_id": "t0", "at_ms": 100},
        ]
    )
    with pytest.raises(BulkWriteError) as refused:
        await marks.insert_many(
            [
                {"_id": f"o\x1f{f}", "follower_id": f, "stream_id": "s1", "at_ms": 600}
                for f in ("x", "y", "z")
            ],
            ordered=False,
        )
    assert [e["code"] for e in refused.value.details["writeErrors"]] == [11000, 11000]
    await marks.bulk_write(
        [
            UpdateOne({"_id": f"o\x1f{f}", "at_ms": {"$lt": 250}}, {"$set": {"stream_id": "s1"}})
            for f in ("x", "y", "z")
        ],
        ordered=False,
    )
    claimed = marks.find({"_id": {"$in": ["o\x1fx", "o\x1fy", "o\x1fz", "o\x1fw"]}})
    assert {d["follower_id"]: d["stream_id"] async for d in claimed} == {
        "x": "s1",  # new
        "y": "s1",  # told before the window
        "z": "s0",  # told within it: stays the other stream's
    }
    assert await marks.find_one({"_id": "p\x1fx"}) == {
        "_id": "p\x1fx",
        "follower_id": "x",
        "stream_id": "t0",
        "at_ms": 100,
    }
    assert await marks.count_documents({}) == 4


# ---- presence sheets (viewer-svc) -----------------------------------------------------------


def sheet_doc(stream: str, instance: str, accounts: list[str], seen: list[int]) -> Doc:
    return {
        "stream_id": stream,
        "instance_id": instance,
        "seen_accounts": accounts,
        "seen_ms": seen,
        "next_expiry_ms": min(seen, default=0) + 30_000,
        "rev": f"{instance}-{len(accounts)}",
    }


@covers("UpdateOne(_id; $set) upsert", "DeleteOne(_id)", "find(=)", "find($lt) limit")
async def test_sheets_are_rewritten_whole_removed_and_found_overdue(
    col: AsyncCollection[Doc],
) -> None:
    """viewer-svc's board: one bulk write replaces each sheet's arrays whole (longer, shorter,
    emptied), creates a new one and removes one; reads by stream and by overdue expiry."""
    before = await seed(
        col,
        {"_id": "s1|i1", **sheet_doc("s1", "i1", ["a", "b", "c"], [1, 2, 3])},
        {"_id": "s1|i2", **sheet_doc("s1", "i2", ["a"], [50_000])},
        {"_id": "s2|i1", **sheet_doc("s2", "i1", ["x.y", "$z"], [40_000, 41_000])},
        {"_id": "s3|i1", **sheet_doc("s3", "i1", ["q"], [7])},
    )
    result = await col.bulk_write(
        [
            UpdateOne({"_id": "s1|i1"}, {"$set": sheet_doc("s1", "i1", ["b"], [9])}, upsert=True),
            UpdateOne(
                {"_id": "s2|i1"},
                {"$set": sheet_doc("s2", "i1", ["x.y", "$z", "w"], [40_000, 41_000, 42_000])},
                upsert=True,
            ),
            UpdateOne({"_id": "s4|i2"}, {"$set": sheet_doc("s4", "i2", [], [])}, upsert=True),
            DeleteOne({"_id": "s3|i1"}),
            DeleteOne({"_id": "s9|i9"}),
        ],
        ordered=False,
    )
    after = await contents(col)
    assert (result.upserted_count, result.deleted_count) == (1, 1)
    assert touched(before, after) == {"s1|i1", "s2|i1", "s3|i1", "s4|i2"}
    assert after["s1|i1"]["seen_accounts"] == ["b"]
    assert after["s1|i1"]["seen_ms"] == [9]
    assert after["s2|i1"]["seen_accounts"] == ["x.y", "$z", "w"]
    assert after["s4|i2"]["seen_accounts"] == []
    assert after["s1|i2"] == before["s1|i2"]
    assert sorted(ids(await col.find({"stream_id": "s1"}).to_list())) == ["s1|i1", "s1|i2"]
    overdue = await col.find({"next_expiry_ms": {"$lt": 30_010}}).limit(10).to_list()
    assert sorted(ids(overdue)) == ["s1|i1", "s4|i2"]
    assert len(await col.find({"next_expiry_ms": {"$lt": 99_999}}).limit(2).to_list()) == 2


@covers(
    "find_one_and_update(_id; $max $set) after",  # the scanner names BEFORE "after" too
    "update_one(= _id; $set)",
    "delete_one(= _id)",
)
async def test_publication_returns_the_previous_accounts_and_prunes_are_conditional(
    col: AsyncCollection[Doc],
) -> None:
    """viewer-svc: a count publication swaps the accounts and returns the document before it;
    another instance's prune of a sheet applies only while its version is the one it read."""
    before = await seed(
        col,
        {"_id": "c1", "peak": 5, "count": 2, "accounts": ["a", "b"]},
        {"_id": "c2", "peak": 1, "count": 1, "accounts": ["z"]},
        {"_id": "p1", "rev": "r1", "seen_accounts": ["a"]},
        {"_id": "p2", "rev": "r2", "seen_accounts": ["b"]},
        {"_id": "p3", "rev": "r3", "seen_accounts": ["c"]},
    )
    prev = await col.find_one_and_update(
        {"_id": "c1"},
        {"$max": {"peak": 3}, "$set": {"count": 3, "accounts": ["a", "c", "d"]}},
        return_document=ReturnDocument.BEFORE,
    )
    missing = await col.find_one_and_update(
        {"_id": "c9"}, {"$max": {"peak": 1}, "$set": {"count": 1, "accounts": ["a"]}}
    )
    stale = await col.update_one({"_id": "p1", "rev": "old"}, {"$set": {"seen_accounts": []}})
    fresh = await col.update_one({"_id": "p1", "rev": "r1"}, {"$set": {"rev": "r1b"}})
    gone = await col.delete_one({"_id": "p2", "rev": "old"})
    dropped = await col.delete_one({"_id": "p3", "rev": "r3"})
    after = await contents(col)
    assert prev == before["c1"]
    assert missing is None
    assert [stale.modified_count, fresh.modified_count] == [0, 1]
    assert [gone.deleted_count, dropped.deleted_count] == [0, 1]
    assert after["c1"] == {"_id": "c1", "peak": 5, "count": 3, "accounts": ["a", "c", "d"]}
    assert touched(before, after) == {"c1", "p1", "p3"}
    assert after["p1"] == {"_id": "p1", "rev": "r1b", "seen_accounts": ["a"]}


# ---- the stand-in's known gaps: strict xfail there, a pass on real MongoDB -----------------

ABC = [{"_id": "a"}, {"_id": "b"}, {"_id": "c", "f": 5}]
OR_MISSING = [{"f": {"$lt": 10}}, {"f": {"$exists": False}}]


async def test_gap_update_one_with_or_beside_id_writes_only_that_document(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("update_one({_id, $or: [...]}) writes another document")
    await seed(col, *ABC)
    await col.update_one({"_id": "c", "$or": OR_MISSING}, {"$set": {"g": 1}})
    assert await col.find({"g": 1}).to_list() == [{"_id": "c", "f": 5, "g": 1}]


async def test_gap_upsert_with_or_beside_id_writes_only_that_document(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("update_one({_id, $or: [...]}, upsert=True) (last write wins) writes another doc")
    await seed(col, *ABC)
    await col.update_one({"_id": "b", "$or": OR_MISSING}, {"$set": {"g": 1}}, upsert=True)
    assert await col.find({"g": 1}).to_list() == [{"_id": "b", "g": 1}]


async def test_gap_update_many_with_or_beside_a_field(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("update_many({field, $or: [...]}) writes documents the filter excludes")
    await seed(col, {"_id": "a", "s": 2}, {"_id": "b", "s": 1, "f": 50}, {"_id": "c", "s": 1})
    await col.update_many({"s": 1, "$or": OR_MISSING}, {"$set": {"g": 1}})
    assert ids(await col.find({"g": 1}).to_list()) == ["c"]


async def test_gap_find_one_and_update_with_or_beside_keys(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("find_one_and_update({field, _id, $or: [...]}) claims another document")
    await seed(
        col,
        {"_id": "a", "changed": True},
        {"_id": "b", "changed": True, "next_ms": 99},
        {"_id": "c", "changed": False},
    )
    due = [{"next_ms": {"$lte": 10}}, {"next_ms": {"$exists": False}}]
    for query in (  # the answer must not depend on the order of the keys
        {"changed": True, "$or": due, "_id": "b"},
        {"changed": True, "_id": "b", "$or": due},
    ):
        assert await col.find_one_and_update(query, {"$set": {"g": 1}}) is None
    assert await col.count_documents({"g": 1}) == 0


async def test_gap_set_of_a_datetime_stores_a_date(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("$set of a datetime stores a string")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    await seed(col, {"_id": "a"}, {"_id": "b", "t": at})
    await col.update_one({"_id": "a"}, {"$set": {"t": at}})
    assert (await col.find_one({"_id": "a"}) or {}).get("t") == at
    assert await col.count_documents({"t": {"$gte": at}}) == 2


async def test_gap_push_keeps_sub_documents(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("$push of a sub-document stores JSON strings")
    await seed(col, {"_id": "a", "arr": [{"k": 1}]}, {"_id": "b", "arr": [{"k": 1}]})
    await col.update_one({"_id": "a"}, {"$push": {"arr": {"k": 2}}})
    assert await contents(col) == {
        "a": {"_id": "a", "arr": [{"k": 1}, {"k": 2}]},
        "b": {"_id": "b", "arr": [{"k": 1}]},
    }


async def test_gap_not_equal_to_a_value_an_array_holds_matches_nothing(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    """MongoDB: ``{arr: {$ne: x}}`` matches documents whose array does not hold ``x``. The
    stand-in matches the ones that hold it too (``count_documents`` is right, ``find`` and
    updates are not; found by the attack on issue 21). The code compares ``$ne`` with scalar
    fields only (the inventory cannot tell the two apart: this test is the record)."""
    known_gap("$ne against an array holding the value")
    await seed(col, {"_id": "a", "arr": ["x", "y"]}, {"_id": "b", "arr": ["y"]})
    assert await col.count_documents({"arr": {"$ne": "x"}}) == 1
    assert [d["_id"] async for d in col.find({"arr": {"$ne": "x"}})] == ["b"]
    await col.update_one({"arr": {"$ne": "x"}}, {"$set": {"hit": 1}})
    assert await contents(col) == {
        "a": {"_id": "a", "arr": ["x", "y"]},
        "b": {"_id": "b", "arr": ["y"], "hit": 1},
    }


async def test_gap_add_to_set_creates_a_missing_array(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("$addToSet on a missing field does nothing")
    await seed(col, {"_id": "a"}, {"_id": "b", "s": [2]})
    await col.update_one({"_id": "a"}, {"$addToSet": {"s": 1}})
    assert (await col.find_one({"_id": "a"}) or {}).get("s") == [1]


async def test_gap_find_one_and_update_upsert_applies_set_on_insert(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("find_one_and_update(upsert=True) drops $setOnInsert")
    await seed(col, {"_id": "a", "peak": 3})
    doc = await col.find_one_and_update(
        {"_id": "z"},
        {"$set": {"count": 7}, "$setOnInsert": {"next_ms": 0}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc == {"_id": "z", "count": 7, "next_ms": 0}


async def test_gap_set_of_a_bool_reads_back_a_bool(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("$set of a bool on an existing document stores 1/0; {f: true} also matches 1")
    await seed(col, {"_id": "a", "read": False}, {"_id": "b", "read": 1})
    await col.update_one({"_id": "a"}, {"$set": {"read": True}})
    assert (await col.find_one({"_id": "a"}) or {}).get("read") is True
    assert ids(await col.find({"read": True}).to_list()) == ["a"]


async def test_gap_equality_with_an_empty_document(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("{f: {}} matches every document")
    await seed(col, {"_id": "a", "f": {}}, {"_id": "b", "f": {"x": 1}}, {"_id": "c"})
    assert ids(await col.find({"f": {}}).to_list()) == ["a"]


async def test_gap_partial_unique_index_applies_only_inside_its_filter(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("partial indexes are ignored (a partial unique index is global)")
    await col.create_index([("k", 1)], unique=True, partialFilterExpression={"p": True})
    await col.insert_many([{"_id": "a", "k": 1, "p": False}, {"_id": "b", "k": 1, "p": False}])
    assert await col.count_documents({}) == 2


async def test_gap_compound_index_with_id_accepts_inserts(
    col: AsyncCollection[Doc], known_gap: Callable[[str], None]
) -> None:
    known_gap("a compound index containing _id breaks inserts")
    await col.create_index([("k", 1), ("_id", 1)])
    try:
        await col.insert_many([{"_id": "a", "k": 1}, {"_id": "b", "k": 1}])
    except (BulkWriteError, OperationFailure) as exc:
        pytest.fail(f"insert refused: {exc}")
    assert await col.count_documents({"k": 1}) == 2


# ---- the inventory -----------------------------------------------------------------------


def code_sites() -> list[Site]:
    """Every MongoDB call and index declaration of the services and the kit."""
    paths = [
        p
        for p in [
            *ROOT.glob("libs/servicekit/src/servicekit/*.py"),
            *ROOT.glob("services/*/src/*/**/*.py"),
        ]
        if "pymongo" in p.read_text() or "IndexSpec(" in p.read_text()
    ]
    return scan(ROOT, paths)


def test_every_shape_in_the_code_is_covered() -> None:
    sites = code_sites()
    assert len(sites) > 50, "the scanner found too few MongoDB calls: is it still reading them?"
    missing = [str(s) for s in sites if s.shape not in COVERED]
    assert not missing, (
        "shapes with no test in tests/mongo/test_semantics.py (add one over several documents,"
        " with @covers):\n" + "\n".join(missing)
    )


def test_no_code_uses_a_shape_the_stand_in_gets_wrong() -> None:
    wrong = [
        f"{site}  <- {reason}"
        for site in code_sites()
        if site.shape not in ALLOWED_GAP_SITES
        for pattern, reason in GAPS.items()
        if re.search(pattern, site.shape)
    ]
    assert not wrong, "see scripts/MONGODB-STANDIN.md for the shapes to use:\n" + "\n".join(wrong)


def test_every_covered_shape_is_still_used() -> None:
    used = {s.shape for s in code_sites()}
    assert sorted(set(COVERED) - used) == []


def test_the_scanner_reads_shapes_the_way_the_suite_names_them() -> None:
    source = """
async def f(col, key, at, now):
    due = {"changed": True, "$or": [{"n": {"$lte": at}}, {"n": {"$exists": False}}]}
    await col.find_one_and_update({**due, "_id": key}, {"$set": {"x": 1}})
    q = {"s": 1}
    q["seq"] = {"$lt": at}
    await col.find(q, {"a": 1}).sort("seq", -1).limit(3).to_list()
    await col.update_one({"_id": key, "f": None}, stage_update({"$set": {"t": now}}, []), True)
    await col.update_many({"a": {"$exists": False}}, {"$push": {"arr": 1}})
IndexSpec("c", [("a", 1), ("b", -1)], unique=True)
"""
    from testkit.mongo_shapes import shapes_in_source

    assert [s.shape for s in shapes_in_source(source)] == [
        "find_one_and_update($or($exists:false $lte) = _id; $set)",
        "find($lt =) projection limit sort",
        "update_one(_id null; $inc $set $set:datetime?) upsert",
        "update_many($exists:false; $push)",
        "index(2 keys desc) unique",
    ]
