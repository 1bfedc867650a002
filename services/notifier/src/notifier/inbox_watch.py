"""Live unread counts for the web client's bell: a long poll on
``GET /notifications/unread-count?known=N&wait_s=S``.

Why a long poll (and not Server-Sent Events or a WebSocket): the browser's ``EventSource``
cannot send the bearer header (the token would go in the URL, and into access logs); the
count is one number, so every answer is the whole state and a missed wake-up costs latency,
never correctness; it passes through the nginx gateway as a plain request (no buffering or
upgrade settings); and a waiting request gives its admission slot back
(:func:`servicekit.admission.parked`), so idle bells do not crowd out real work.

Each notifier instance consumes ``notification.created`` / ``notification.batch_created`` on its
own exclusive queue (as chat-gateway's fan-out does) and wakes the requests it holds for those
accounts; marking read on this instance wakes them too. A reader registers *before* it reads
the count, so a notification stored between the read and the wait still wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator

#: The longest a request waits (seconds); the gateway's read timeout is 60 s.
MAX_WAIT_S = 30.0


class UnreadWatch:
    """Requests waiting for an account's unread count to change, on this instance.

    Args:
        max_waiters: waiting requests held at most; beyond it a request is answered at once
            (the client then polls again after its minimum interval).
    """

    def __init__(self, max_waiters: int = 10_000) -> None:
        self.max_waiters = max_waiters
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._count = 0

    @property
    def waiting(self) -> int:
        return self._count

    @contextlib.contextmanager
    def watching(self, account_id: str) -> Iterator[asyncio.Event | None]:
        """An event set when ``account_id``'s notifications change; ``None`` when full."""
        if self._count >= self.max_waiters:
            yield None
            return
        event = asyncio.Event()
        self._waiters.setdefault(account_id, set()).add(event)
        self._count += 1
        try:
            yield event
        finally:
            self._count -= 1
            waiters = self._waiters.get(account_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[account_id]

    def wake(self, account_ids: Iterable[str]) -> int:
        """Wake every request waiting for one of these accounts; returns how many."""
        woken = 0
        for account_id in account_ids:
            for event in self._waiters.get(account_id, ()):
                event.set()
                woken += 1
        return woken
