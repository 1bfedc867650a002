"""pytest plugin (entry point ``livecast_testkit``): infrastructure and isolation fixtures.

* ``infra``: URLs of the real broker and database for this run (see :mod:`testkit.infra`).
* ``namespace``: a prefix unique to the test, for exchange, queue and database names; the test's
  queues and exchanges are deleted afterwards.
* ``mongo_db``: a fresh database unique to the test, dropped afterwards.
* ``fault_proxy``: ``fault_proxy(url) -> (proxy, proxied_url)`` for the broker or the database.
* ``jwt_secret`` / ``token_for``: sign test tokens.
* ``stack``: the whole stack as ``make run`` starts it, for end-to-end and browser tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.routing import Names
from servicekit.auth import mint_token
from testkit.faultproxy import FaultProxy
from testkit.infra import InfraUrls, provide_infra
from testkit.rabbit import delete_namespace
from testkit.stack import Stack, attach, running_stack

TEST_JWT_SECRET = "test-secret-for-livecast-tests-only-0123456789"  # noqa: S105 (tests only)


@pytest.fixture(scope="session")
def infra() -> Iterator[InfraUrls]:
    with provide_infra() as urls:
        yield urls


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> Iterator[str]:
    ns = f"t{uuid.uuid4().hex[:10]}."
    yield ns
    if "infra" in request.fixturenames:
        urls: InfraUrls = request.getfixturevalue("infra")
        import asyncio

        asyncio.run(delete_namespace(urls.amqp, Names(ns)))


@pytest_asyncio.fixture
async def mongo_client(infra: InfraUrls) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        infra.mongo, tz_aware=True, serverSelectionTimeoutMS=5000, uuidRepresentation="standard"
    )
    yield client
    await client.close()


@pytest_asyncio.fixture
async def mongo_db(
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[str], tuple[FaultProxy, str]]]:
    proxies: list[FaultProxy] = []

    def make(url: str) -> tuple[FaultProxy, str]:
        parsed = urlparse(url)
        default = 5672 if parsed.scheme.startswith("amqp") else 27017
        proxy = FaultProxy(parsed.hostname or "127.0.0.1", parsed.port or default).start()
        proxies.append(proxy)
        return proxy, proxy.rewrite(url)

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def service_env(
    infra: InfraUrls, namespace: str, jwt_secret: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment for building a service's settings against this test's infrastructure
    (set with monkeypatch, so ``load_settings`` in the code under test sees it)."""
    env = {
        "RABBITMQ_URL": infra.amqp,
        "MONGODB_URL": infra.mongo,
        "LIVECAST_NAMESPACE": namespace,
        "LIVECAST_ENV": "test",
        "AUTH_JWT_SECRET": jwt_secret,
        "LOG_JSON": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest_asyncio.fixture
async def drop_namespace_dbs(infra: InfraUrls, namespace: str) -> AsyncIterator[None]:
    """Drop every database whose name starts with this test's namespace afterwards."""
    yield
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo)
    prefix = namespace.replace(".", "_").replace("-", "_")
    for name in await client.list_database_names():
        if name.startswith(prefix):
            await client.drop_database(name)
    await client.close()


@pytest.fixture
def jwt_secret() -> str:
    return TEST_JWT_SECRET


@pytest.fixture
def token_for(jwt_secret: str) -> Callable[..., str]:
    def make(account_id: str, **kwargs: Any) -> str:
        return mint_token(jwt_secret, account_id, **kwargs)

    return make


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The whole stack, started as ``make run`` starts it, shared by the end-to-end and browser
    tests of a session. ``LIVECAST_TEST_STACK_OFFSET=N`` uses a stack already running on port
    offset N instead (``make run`` is 0), which is quicker while developing."""
    running = os.environ.get("LIVECAST_TEST_STACK_OFFSET")
    if running is not None:
        yield attach(int(running))
        return
    with running_stack() as started:
        yield started
