"""Per-account rate limit (token bucket) and abuse tracking, shared by every service that
limits an account's actions (chat messages in chat-gateway, follows in notifier).

In memory, per service instance: an account whose requests reach two instances gets two buckets
(documented). Moved here unchanged from chat-gateway's ``domain/limits.py``; the interface is
:meth:`Limiter.take` (seconds to wait, ``0`` when allowed) and :meth:`Limiter.refused`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; a message takes one."""

    burst: int
    rate: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)
        self.stamp = self.clock()

    def take(self) -> float:
        """0 if a token was taken, else seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


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
    """Buckets and abuse counters by account.

    Args:
        burst: requests an idle account may make at once.
        rate: tokens refilled per second.
        abuse_limit: refusals within ``abuse_window_s`` that count as abuse.
        abuse_window_s: seconds.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        burst: int,
        rate: float,
        abuse_limit: int,
        abuse_window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst, self._rate, self._clock = burst, rate, clock
        self._abuse_limit, self._abuse_window = abuse_limit, abuse_window_s
        self._buckets: dict[str, TokenBucket] = {}
        self._abuse: dict[str, AbuseCounter] = {}

    def take(self, account_id: str) -> float:
        """Take one token for ``account_id``: ``0`` if allowed, else the seconds until a token
        is available (send it as ``Retry-After``, rounded up)."""
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = TokenBucket(self._burst, self._rate, self._clock)
        return bucket.take()

    def refused(self, account_id: str) -> bool:
        """Count one refusal for ``account_id``; ``True`` once it looks like abuse."""
        counter = self._abuse.get(account_id)
        if counter is None:
            counter = self._abuse[account_id] = AbuseCounter(
                self._abuse_limit, self._abuse_window, self._clock
            )
        return counter.refused()
