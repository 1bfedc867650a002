from __future__ import annotations

import asyncio

from servicekit.tasks import cancel_and_wait


async def swallows(times: int, stopped: list[str]) -> None:
    """A background loop that loses ``times`` cancellations (as a library catching every
    exception below it would) before it lets one through; any cancellation once ``stopped``
    holds "release"."""
    lost = 0
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if lost >= times or "release" in stopped:
                stopped.append("stopped")
                raise
            lost += 1


class TestCancelAndWait:
    async def test_a_lost_cancellation_is_repeated_until_the_task_stops(self) -> None:
        stopped: list[str] = []
        task = asyncio.create_task(swallows(2, stopped))
        await asyncio.sleep(0)
        assert await cancel_and_wait([task], within=5, retry_every=0.01)
        assert task.done() and stopped == ["stopped"]
        # one cancel() and an await, as the services did, would have waited forever here

    async def test_a_task_that_never_stops_is_given_up_on_without_hanging(self) -> None:
        stopped: list[str] = []
        task = asyncio.create_task(swallows(10**9, stopped), name="stubborn")
        await asyncio.sleep(0)
        assert not await cancel_and_wait([task], within=0.1, retry_every=0.01)
        assert not task.done()
        stopped.append("release")  # let the test's loop close
        task.cancel()
        await asyncio.wait([task])

    async def test_done_and_missing_tasks_are_fine(self) -> None:
        done = asyncio.create_task(asyncio.sleep(0))
        await done
        assert await cancel_and_wait([done, None])
