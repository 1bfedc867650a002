"""Per-account-per-room rate limit and abuse tracking. The rate budget is shared by every
gateway instance (GCRA state in MongoDB, :mod:`chat_gateway.adapters.mongo_rate`): an account
gets one budget per room whatever instance each post reaches. Abuse counters stay per
instance: they decide when this instance closes a socket."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Budget:
    """A token bucket of ``burst`` messages refilled at ``rate`` per second, kept as GCRA (the
    generic cell rate algorithm): one number per account and room, the *theoretical arrival
    time* ``tat``, so the whole state changes in one atomic write wherever it is stored."""

    burst: int
    rate: float

    @property
    def interval_ms(self) -> int:
        """Time one message costs."""
        return max(1, round(1000 / self.rate))

    @property
    def tolerance_ms(self) -> int:
        """How far ahead of now ``tat`` may be for a message to pass."""
        return (self.burst - 1) * self.interval_ms

    def decide(self, tat_ms: int | None, now_ms: int) -> tuple[int | None, float]:
        """``(new tat, 0)`` when a message passes now, else ``(None, seconds to wait)``."""
        tat = max(tat_ms if tat_ms is not None else now_ms, now_ms)
        if tat - now_ms > self.tolerance_ms:
            return None, (tat - now_ms - self.tolerance_ms) / 1000
        return tat + self.interval_ms, 0.0


class RateBudgets(Protocol):
    """Port: one rate budget per (room, account), shared by every gateway instance."""

    async def take(self, stream_id: str, account_id: str, now: datetime) -> float:
        """0 if a message may pass now (and spends it), else seconds until one may."""
        ...


class MemoryRateBudgets:
    """:class:`RateBudgets` in memory (unit tests, one instance)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.tat: dict[tuple[str, str], int] = {}

    async def take(self, stream_id: str, account_id: str, now: datetime) -> float:
        key = (stream_id, account_id)
        new_tat, wait = self.budget.decide(self.tat.get(key), int(now.timestamp() * 1000))
        if new_tat is not None:
            self.tat[key] = new_tat
        return wait


@dataclass
class AbuseCounter:
    """Counts refusals; ``True`` from :meth:`refused` once ``limit`` fall within ``window_s``."""

    limit: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    times: deque[float] = field(default_factory=deque)

    def refused(self) -> bool:
        now = self.clock()
        self.times.append(now)
        while self.times and self.times[0] < now - self.window_s:
            self.times.popleft()
        return len(self.times) >= self.limit


class Limiter:
    """The shared rate budgets (one per room and account, across instances) and this
    instance's abuse counters (which decide when to close *this* socket)."""

    def __init__(
        self,
        budgets: RateBudgets,
        abuse_limit: int,
        abuse_window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budgets, self._clock = budgets, clock
        self._abuse_limit, self._abuse_window = abuse_limit, abuse_window_s
        self._abuse: dict[str, AbuseCounter] = {}

    async def take(self, stream_id: str, account_id: str, now: datetime) -> float:
        """0 if the account may post in the room now, else seconds to wait."""
        return await self.budgets.take(stream_id, account_id, now)

    def refused(self, account_id: str) -> bool:
        counter = self._abuse.get(account_id)
        if counter is None:
            counter = self._abuse[account_id] = AbuseCounter(
                self._abuse_limit, self._abuse_window, self._clock
            )
        return counter.refused()
