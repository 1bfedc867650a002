"""Live unread counts for the web client's bell: a long poll on
``GET /notifications/unread-count?known=N&wait_s=S``.

Why a long poll (and not Server-Sent Events or a WebSocket): the browser's ``EventSource``
cannot send the bearer header (the token would go in the URL, and into access logs); the
count is one number, so every answer is the whole state and a missed wake-up costs latency,
never correctness; it passes through the nginx gateway as a plain request (no buffering or
upgrade settings); and a waiting request gives its admission slot back
(:func:`servicekit.admission.parked`), so idle bells do not crowd out real work.

Each notifier instance consumes ``notification.created`` / ``notification.batch_created`` on its
own exclusive queue (as chat-gateway's fan-out does), reads the new counts of the accounts it
holds requests for in one query per event, and answers those requests with them; marking read
on this instance does the same for the account. A woken request so needs no database read of
its own (a go-live to thousands of open bells is one read per batch of 1,000, not a herd of
count queries). A reader registers *before* it reads the count, so a notification stored
between the read and the wait still wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping

#: The longest a request waits (seconds); the gateway's read timeout is 60 s.
MAX_WAIT_S = 30.0


class Waiter:
    """One waiting request: ``event`` is set when its account's count changed; ``count`` is the
    new count when the waker knew it (``None``: read it again)."""

    __slots__ = ("count", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.count: int | None = None


class UnreadWatch:
    """Requests waiting for an account's unread count to change, on this instance.

    Args:
        max_waiters: waiting requests held at most; beyond it a request is answered at once
            (the client then polls again after its minimum interval).
        max_per_account: waiting requests one account holds at most (its tabs and devices);
            beyond it its request is answered at once, so one token opening thousands of
            polls cannot take every place and turn everyone else's bell into polling.
    """

    def __init__(self, max_waiters: int = 10_000, max_per_account: int = 16) -> None:
        self.max_waiters = max_waiters
        self.max_per_account = max_per_account
        self._waiters: dict[str, set[Waiter]] = {}
        self._count = 0

    @property
    def waiting(self) -> int:
        return self._count

    @contextlib.contextmanager
    def watching(self, account_id: str) -> Iterator[Waiter | None]:
        """A waiter woken when ``account_id``'s notifications change; ``None`` when full."""
        mine = self._waiters.get(account_id, ())
        if self._count >= self.max_waiters or len(mine) >= self.max_per_account:
            yield None
            return
        waiter = Waiter()
        self._waiters.setdefault(account_id, set()).add(waiter)
        self._count += 1
        try:
            yield waiter
        finally:
            self._count -= 1
            waiters = self._waiters.get(account_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[account_id]

    def waited_for(self, account_ids: Iterable[str]) -> list[str]:
        """Those of ``account_ids`` that have a request waiting here."""
        return [a for a in dict.fromkeys(account_ids) if a in self._waiters]

    def deliver(self, counts: Mapping[str, int]) -> int:
        """Answer every request waiting for these accounts with their new count; returns how
        many were woken."""
        woken = 0
        for account_id, count in counts.items():
            for waiter in self._waiters.get(account_id, ()):
                waiter.count = count
                waiter.event.set()
                woken += 1
        return woken


async def wake(
    watch: UnreadWatch,
    account_ids: Iterable[str],
    unread_counts: Callable[[list[str]], Awaitable[dict[str, int]]],
) -> int:
    """Notifications changed for ``account_ids``: read the counts of those waited for here in
    one query (a go-live to many followers is one read per batch, not one per open bell) and
    answer their requests. Returns how many requests were woken."""
    waited = watch.waited_for(account_ids)
    if not waited:
        return 0
    return watch.deliver(await unread_counts(waited))


class CountReads:
    """Unread-count reads that arrive together share one query (a group commit of reads, as
    chat-gateway's ``SharedRecent`` does for history): the accounts asked for within
    ``window_s`` of the first, up to ``max_batch``, are counted with one ``unread_counts``.
    A storm of bells opening at once (every viewer of a stream, a reconnect after a deploy)
    is a few queries, not one per bell."""

    def __init__(
        self,
        read_many: Callable[[list[str]], Awaitable[dict[str, int]]],
        *,
        window_s: float = 0.01,
        max_batch: int = 1000,
    ) -> None:
        self._read_many = read_many
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: dict[str, list[asyncio.Future[int]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushes: set[asyncio.Task[None]] = set()

    async def count(self, account_id: str) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._pending.setdefault(account_id, []).append(future)
        if len(self._pending) >= self._max_batch:
            self._flush_now()
        elif self._timer is None:
            self._timer = loop.call_later(self._window_s, self._flush_now)
        return await future

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, {}
        if batch:
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: dict[str, list[asyncio.Future[int]]]) -> None:
        try:
            counts = await self._read_many(list(batch))
        except Exception as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for account_id, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(counts.get(account_id, 0))
