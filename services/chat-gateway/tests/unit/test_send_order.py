"""SendOrder: a sender's posts handled concurrently reach the sequencer in the order sent."""

from __future__ import annotations

import asyncio

from chat_gateway.sequencer import SendOrder


async def test_posts_that_get_ready_out_of_order_are_submitted_in_the_order_sent() -> None:
    submitted: list[int] = []
    orders: list[SendOrder] = []
    for _ in range(5):
        orders.append(SendOrder(orders[-1] if orders else None))

    async def post(n: int, ready_after: float) -> None:
        await asyncio.sleep(ready_after)  # checks that take longer for earlier posts
        await orders[n].turn()
        submitted.append(n)
        orders[n].done()

    await asyncio.gather(*(post(n, 0.05 - n * 0.01) for n in range(5)))
    assert submitted == [0, 1, 2, 3, 4]


async def test_a_refused_post_lets_the_next_one_go() -> None:
    first = SendOrder()
    refused = SendOrder(first)
    last = SendOrder(refused)
    first.done()
    refused.done()  # refused before its turn: never submitted
    await asyncio.wait_for(last.turn(), 1)
    assert last.after is None and refused.after is None  # no chain kept alive
