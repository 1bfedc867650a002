"""What notifier's integration tests share: the service's database, an app served on a free
port, and bearer headers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from pymongo import AsyncMongoClient

from notifier.entrypoints.http import create_app
from notifier.settings import Settings
from servicekit.auth import mint_token
from testkit.infra import InfraUrls
from testkit.servers import serve_app


@pytest_asyncio.fixture
async def db(infra: InfraUrls, settings: Settings) -> AsyncIterator[Any]:
    """The database of the test's ``settings`` (each test module defines its own)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo, tz_aware=True)
    yield client[settings.database_name]
    await client.close()


@contextlib.asynccontextmanager
async def notifier(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One notifier instance on a free port, and a client of it."""
    async with serve_app(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as client:
        yield client


def auth(secret: str, account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, account)}"}
