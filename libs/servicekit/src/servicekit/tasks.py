"""Stopping a service's background tasks without hanging its shutdown.

A cancellation can be lost: a coroutine that catches it somewhere below (a library retrying on
every exception, CPython 3.11's ``asyncio.wait_for`` when the awaited result lands at the same
moment) goes back to its loop and sleeps on. Awaiting it after one ``cancel()`` then waits
forever, and the process never stops (Kubernetes kills it after its grace period; a test times
out). :func:`cancel_and_wait` cancels again until every task is done, and gives up with a
warning after ``within`` seconds instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait", "fail_future"]

log = logging.getLogger(__name__)


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object] | asyncio.Task[None] | None],
    *,
    within: float = 10.0,
    retry_every: float = 0.5,
) -> bool:
    """Cancel ``tasks`` (``None`` entries are skipped) and wait until all are done, cancelling
    again every ``retry_every`` seconds a task that is still running.

    Args:
        tasks: the tasks to stop.
        within: seconds to keep trying before giving up.
        retry_every: seconds between repeated cancellations.

    Returns:
        ``True`` if every task finished; ``False`` (and a warning naming the tasks) if some
        were still running after ``within`` seconds.
    """
    pending = {t for t in tasks if t is not None and not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            names = ", ".join(sorted(t.get_name() for t in pending))
            log.warning("background tasks did not stop after %.1f s: %s", within, names)
            return False
        _, pending = await asyncio.wait(pending, timeout=min(retry_every, left))
    return True


def fail_future(future: asyncio.Future[Any], exc: BaseException) -> None:
    """Hand ``exc`` to a waiter of a grouped operation (a group commit, a shared read): a
    cancellation cancels ``future``, anything else is set on it and marked retrieved (the
    waiter re-raises it; asyncio does not log it as never retrieved). A done future is left."""
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
        future.exception()
