"""Webhook delivery the way Mux does it: signed, at least once, retried with growing delay on a
non-2xx answer or a timeout, in no guaranteed order. Knobs add duplicates, shuffling and delay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from mux_sim.config import Knobs
from mux_sim.signing import signature_header

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    event: dict[str, Any]
    due: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    duplicate: bool = False
    dropped: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.event["id"],
            "type": self.event["type"],
            "object_id": self.event["object"]["id"],
            "duplicate": self.duplicate,
            "dropped": self.dropped,
            "delivered": self.delivered,
            "attempts": self.attempts,
        }


class Deliverer:
    """Queues webhook events and delivers them to the configured URL."""

    def __init__(self, url: str | None, secret: str, environment_id: str, knobs: Knobs) -> None:
        self.url = url
        self.secret = secret
        self.environment_id = environment_id
        self.knobs = knobs
        self.log: list[Delivery] = []
        self._pending: list[Delivery] = []
        self._in_flight = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._workers: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        self._client = httpx.AsyncClient()
        self._workers = [
            asyncio.get_running_loop().create_task(self._worker())
            for _ in range(self.knobs.concurrency)
        ]

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def emit(self, event_type: str, object_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Build a Mux-shaped event and queue it (twice, at the duplicate rate)."""
        event: dict[str, Any] = {
            "type": event_type,
            "request_id": None,
            "object": {"type": object_type, "id": data["id"]},
            "id": str(uuid.uuid4()),
            "environment": {"name": "Simulator", "id": self.environment_id},
            "data": data,
            "created_at": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "attempts": [],
            "accessor_source": None,
            "accessor": None,
        }
        if self.knobs.strip_passthrough:
            event["data"] = {k: v for k, v in data.items() if k != "passthrough"}
        if event_type in self.knobs.drop_types:
            self.log.append(Delivery(event, dropped=True))
            return event
        self._queue(Delivery(event))
        if random.random() < self.knobs.duplicate_rate:  # noqa: S311 (simulation, not crypto)
            self._queue(Delivery(event, duplicate=True))
        return event

    def _queue(self, delivery: Delivery) -> None:
        self.log.append(delivery)
        if self.url is None:
            return
        self._pending.append(delivery)
        self._idle.clear()
        self._wake.set()

    async def settle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is pending or in flight; ``False`` on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _take(self) -> Delivery | None:
        now = time.monotonic()
        due = [d for d in self._pending if d.due <= now]
        if not due:
            return None
        chosen = random.choice(due) if self.knobs.shuffle else due[0]  # noqa: S311
        self._pending.remove(chosen)
        return chosen

    async def _worker(self) -> None:
        while True:
            delivery = self._take()
            if delivery is None:
                self._update_idle()
                next_due = min((d.due for d in self._pending), default=None)
                timeout = None if next_due is None else max(0.0, next_due - time.monotonic())
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            self._in_flight += 1
            try:
                await self._attempt(delivery)
            finally:
                self._in_flight -= 1
                self._update_idle()

    def _update_idle(self) -> None:
        if not self._pending and self._in_flight == 0:
            self._idle.set()

    async def _attempt(self, delivery: Delivery) -> None:
        if self.knobs.delay_s:
            await asyncio.sleep(self.knobs.delay_s)
        if self._client is None or self.url is None:
            raise RuntimeError("deliverer not started or no webhook URL")
        body = json.dumps(delivery.event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Mux-Signature": signature_header(self.secret, body),
            "User-Agent": "Mux Webhooks (simulator)",
        }
        started = time.monotonic()
        try:
            resp = await self._client.post(
                self.url, content=body, headers=headers, timeout=self.knobs.delivery_timeout_s
            )
            status: int | str = resp.status_code
            ok = 200 <= resp.status_code < 300
        except httpx.HTTPError as exc:
            status, ok = type(exc).__name__, False
        delivery.attempts.append(
            {"status": status, "ms": round((time.monotonic() - started) * 1000, 1)}
        )
        if ok:
            delivery.delivered = True
            return
        n = len(delivery.attempts)
        if n >= self.knobs.max_attempts:
            log.warning("webhook %s gave up after %d attempts", delivery.event["id"], n)
            return
        delay = min(self.knobs.retry_max_s, self.knobs.retry_base_s * 2 ** (n - 1))
        delivery.due = time.monotonic() + delay
        self._pending.append(delivery)
        self._wake.set()
