"""Liveness, readiness and metrics, usable from FastAPI and from a bare websockets server.

``/healthz``: the process is alive (no I/O). ``/readyz``: every dependency check passes (MongoDB
answers ``ping``, the broker connection is up). ``/metrics``: Prometheus text format.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pymongo import AsyncMongoClient

from servicekit.mongo import Doc

__all__ = ["Readiness", "broker_check", "metrics_payload", "mongo_check"]

Check = Callable[[], Awaitable[bool]]


def mongo_check(client: AsyncMongoClient[Doc], timeout: float = 2.0) -> Check:
    """Ready when MongoDB answers ``ping`` within ``timeout``."""

    async def check() -> bool:
        await asyncio.wait_for(client.admin.command("ping"), timeout)
        return True

    return check


def broker_check(broker: RabbitBroker, timeout: float = 2.0) -> Check:
    """Ready when the broker connection is up."""

    async def check() -> bool:
        return bool(await broker.ping(timeout))

    return check


@dataclass
class Readiness:
    """Named readiness checks; a check that raises or returns ``False`` fails."""

    checks: dict[str, Check] = field(default_factory=dict)

    def add(self, name: str, check: Check) -> None:
        self.checks[name] = check

    async def run(self) -> tuple[bool, dict[str, str]]:
        """``(all_ok, {name: "ok" | reason})``, checks run concurrently."""

        async def one(check: Check) -> str:
            try:
                return "ok" if await check() else "down"
            except Exception as exc:
                return f"down: {type(exc).__name__}"

        names = list(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        status = dict(zip(names, results, strict=True))
        return all(v == "ok" for v in results), status


def metrics_payload() -> tuple[bytes, str]:
    """The Prometheus exposition of the default registry and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
