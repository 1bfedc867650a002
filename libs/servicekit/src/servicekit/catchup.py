"""State that loads while events arrive (a room, a cache entry, a projection), without losing
an event that arrives meanwhile: **register, buffer, snapshot, replay**.

1. *register* the key as loading before anything is read;
2. *buffer* every change for that key that arrives from then on;
3. take the *snapshot* (read the state from the database);
4. *replay* the buffered changes onto it, in arrival order, then make it live: from then on
   changes apply directly.

An event that arrived before step 1 is not buffered, so the snapshot must already hold it:
consumers write the change to the database *before* they offer it here
(:meth:`CatchUp.apply` after the write has returned). Either the write finished before the
registration, and the snapshot reads it, or the change is offered after the registration, and
it is buffered or applied. There is no third order.

Changes must be idempotent and order-tolerant against a snapshot that may already contain them
(last-write-wins by the event's time, forward-only status), which the projections are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["CatchUp", "Change"]

K = TypeVar("K", bound=Hashable)
S = TypeVar("S")
#: A change to one key's state; awaited in order.
Change = Callable[[S], Awaitable[None]]


@dataclass(eq=False)
class _Loading(Generic[S]):
    future: asyncio.Future[S]
    buffer: list[Change[S]] = field(default_factory=list)


class CatchUp(Generic[K, S]):
    """Live states by key, loaded on first use with register/buffer/snapshot/replay.

    ``live`` is the dict of loaded states; callers may remove a key from it (forget a room
    nobody uses) and the next :meth:`get` loads it again.
    """

    def __init__(self) -> None:
        self.live: dict[K, S] = {}
        self._loading: dict[K, _Loading[S]] = {}

    def loading(self, key: K) -> bool:
        """Whether the key is between registration and live."""
        return key in self._loading

    async def get(self, key: K, load: Callable[[], Awaitable[S]]) -> S:
        """The live state of ``key``; the first caller loads it (later callers wait for that).

        Raises:
            whatever ``load`` raises (every waiter gets it; the key is not registered after).
        """
        state = self.live.get(key)
        if state is not None:
            return state
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending.future)
        pending = _Loading[S](asyncio.get_running_loop().create_future())
        self._loading[key] = pending  # 1. register: changes from now on are buffered
        try:
            state = await load()  # 2. snapshot
            while pending.buffer:  # 3. replay, including changes buffered during the replay
                await pending.buffer.pop(0)(state)
            self.live[key] = state  # 4. live (no await since the buffer was seen empty)
            pending.future.set_result(state)
            return state
        except BaseException as exc:
            pending.future.set_exception(exc)
            pending.future.exception()  # retrieved: other waiters re-raise it
            raise
        finally:
            del self._loading[key]

    async def apply(self, key: K, change: Change[S]) -> bool:
        """Apply ``change`` to the live state, or buffer it while the key loads.

        Returns:
            ``False`` when the key is neither live nor loading (nothing held here: the change
            lives only in the database, where the next snapshot reads it).
        """
        state = self.live.get(key)
        if state is not None:
            await change(state)
            return True
        pending = self._loading.get(key)
        if pending is not None:
            pending.buffer.append(change)
            return True
        return False
