"""The bell's waiting room (no I/O): waiters per account, answers with counts, reads of
counts shared by concurrent requests."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from notifier.inbox_watch import CountReads, UnreadWatch, wake


async def test_a_wake_answers_only_the_accounts_waited_for_with_one_read() -> None:
    watch = UnreadWatch()
    reads: list[list[str]] = []

    async def read_many(accounts: list[str]) -> dict[str, int]:
        reads.append(accounts)
        return dict.fromkeys(accounts, 3)

    with watch.watching("ann") as a1, watch.watching("ann") as a2, watch.watching("bob") as b:
        assert a1 is not None and a2 is not None and b is not None
        assert await wake(watch, ["ann", "zoe", "ann"], read_many) == 2
        assert reads == [["ann"]]
        assert (a1.count, a2.count, a1.event.is_set(), b.event.is_set()) == (3, 3, True, False)
        assert watch.waiting == 3
    assert watch.waiting == 0
    assert await wake(watch, ["ann"], read_many) == 0  # nobody waits: no read
    assert reads == [["ann"]]


def test_beyond_the_bound_a_request_does_not_wait() -> None:
    watch = UnreadWatch(max_waiters=1)
    with watch.watching("ann") as first, watch.watching("bob") as second:
        assert first is not None
        assert second is None


def test_one_account_cannot_take_every_place() -> None:
    """Found by atk19: one token opening 10,000 long polls took every place of the instance,
    and every other account's bell was answered at once (polling) from then on."""
    watch = UnreadWatch(max_waiters=100, max_per_account=3)
    with contextlib.ExitStack() as stack:
        mine = [stack.enter_context(watch.watching("mallory")) for _ in range(50)]
        assert sum(w is not None for w in mine) == 3
        assert watch.waiting == 3
        other = stack.enter_context(watch.watching("ann"))
        assert other is not None
    assert watch.waiting == 0
    with watch.watching("mallory") as again:  # places given back are taken again
        assert again is not None


async def test_concurrent_count_reads_share_one_query() -> None:
    reads: list[list[str]] = []

    async def read_many(accounts: list[str]) -> dict[str, int]:
        reads.append(sorted(accounts))
        return {a: len(a) for a in accounts}

    counts = CountReads(read_many, window_s=0.01)
    got = await asyncio.gather(*(counts.count(a) for a in ["a", "bb", "a", "ccc"]))
    assert got == [1, 2, 1, 3]
    assert reads == [["a", "bb", "ccc"]]


async def test_a_failed_shared_read_fails_each_request() -> None:
    async def read_many(accounts: list[str]) -> dict[str, int]:
        raise TimeoutError("database stalled")

    counts = CountReads(read_many, window_s=0.001)
    results = await asyncio.gather(counts.count("a"), counts.count("b"), return_exceptions=True)
    assert all(isinstance(r, TimeoutError) for r in results)
    with pytest.raises(TimeoutError):
        await counts.count("c")
