"""Per-account-per-room rate limit and abuse tracking. The rate budget is the kit's
(:mod:`servicekit.ratelimit`), shared by every gateway instance: an account gets one budget per
room whatever instance each post reaches. Abuse counters stay per instance: they decide when
this instance closes a socket."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from contracts.common import compound_key
from servicekit.mongo import to_ms
from servicekit.ratelimit import AbuseCounter, RateBudgets

#: the collection of the shared budgets (one document per room and account)
RATE_COLLECTION = "chat_rate"


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
        return await self.budgets.take(compound_key(stream_id, account_id), to_ms(now))

    def refused(self, account_id: str) -> bool:
        """Count one refusal for ``account_id``; ``True`` once it looks like abuse."""
        counter = self._abuse.get(account_id)
        if counter is None:
            counter = self._abuse[account_id] = AbuseCounter(
                self._abuse_limit, self._abuse_window, self._clock
            )
        return counter.refused()
