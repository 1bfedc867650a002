"""webhook-ingest under load, with MongoDB behind a fault proxy: a delivery is answered 200 only
once its document is stored; a burst beyond the admission bound is shed with 503 while what was
admitted is stored and answered."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from mux_sim.signing import signature_header
from servicekit.settings import load_settings
from testkit.faultproxy import FaultProxy
from testkit.infra import InfraUrls
from testkit.servers import serve_app
from webhook_ingest.adapters.mongo import COLLECTION
from webhook_ingest.entrypoints.http import create_app
from webhook_ingest.settings import Settings

pytestmark = pytest.mark.integration
SECRET = "whsec-group-commit"


def delivery(mux_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "type": "video.live_stream.idle",
            "id": mux_id,
            "created_at": "2026-11-24T12:00:00.000Z",
            "object": {"type": "live_stream", "id": "LS1"},
            "data": {"id": "LS1", "status": "idle", "passthrough": "ls_1"},
        }
    ).encode()
    return body, {
        "Content-Type": "application/json",
        "Mux-Signature": signature_header(SECRET, body),
    }


async def post(http: httpx.AsyncClient, url: str, mux_id: str) -> httpx.Response:
    body, headers = delivery(mux_id)
    return await http.post(f"{url}/webhooks/mux", content=body, headers=headers)


@pytest_asyncio.fixture
async def direct(infra: InfraUrls) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo)
    yield client
    await client.close()


def ingest_app(
    monkeypatch: pytest.MonkeyPatch,
    fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    infra: InfraUrls,
    **env: str,
) -> tuple[Settings, FaultProxy]:
    proxy, url = fault_proxy(infra.mongo)
    monkeypatch.setenv("MONGODB_URL", url)
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", SECRET)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(Settings), proxy


async def stored_ids(
    direct: AsyncMongoClient[dict[str, Any]], settings: Settings, ids: list[str]
) -> set[str]:
    col = direct[settings.database_name][COLLECTION]
    return {doc["_id"] async for doc in col.find({"_id": {"$in": ids}}, {"_id": 1})}


async def test_a_delivery_is_answered_only_once_its_document_is_stored(
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    infra: InfraUrls,
    monkeypatch: pytest.MonkeyPatch,
    fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    direct: AsyncMongoClient[dict[str, Any]],
) -> None:
    settings, proxy = ingest_app(monkeypatch, fault_proxy, infra)
    ids = [f"evt-{uuid.uuid4()}" for _ in range(6)]
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(timeout=30) as http:
        assert (await post(http, url, f"warm-{uuid.uuid4()}")).is_success
        proxy.pause()  # the database hangs: writes reach it only after restore
        calls = [asyncio.create_task(post(http, url, i)) for i in ids]
        done, _ = await asyncio.wait(calls, timeout=0.5)
        assert done == set()  # nobody was told "stored" while nothing was stored
        assert await stored_ids(direct, settings, ids) == set()
        proxy.restore()
        answers = await asyncio.gather(*calls)
        stored_at_answer = await stored_ids(direct, settings, ids)
    assert [r.status_code for r in answers] == [200] * 6
    assert all(r.json()["duplicate"] is False for r in answers)
    assert stored_at_answer == set(ids)


async def test_a_burst_beyond_capacity_is_shed_while_admitted_deliveries_are_stored(
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    infra: InfraUrls,
    monkeypatch: pytest.MonkeyPatch,
    fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    direct: AsyncMongoClient[dict[str, Any]],
) -> None:
    settings, proxy = ingest_app(
        monkeypatch, fault_proxy, infra, HTTP_MAX_IN_FLIGHT="3", HTTP_MAX_QUEUED="0"
    )
    admitted_ids = [f"in-{uuid.uuid4()}" for _ in range(3)]
    shed_ids = [f"shed-{uuid.uuid4()}" for _ in range(12)]
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(timeout=30) as http:
        proxy.pause()  # the admitted deliveries hold their slots until the database answers
        admitted = [asyncio.create_task(post(http, url, i)) for i in admitted_ids]
        await asyncio.sleep(0.3)
        shed = await asyncio.wait_for(
            asyncio.gather(*(post(http, url, i) for i in shed_ids)), timeout=5
        )
        health = await http.get(f"{url}/healthz")
        assert not any(task.done() for task in admitted)
        proxy.restore()
        answers = await asyncio.gather(*admitted)
    assert [r.status_code for r in answers] == [200] * 3
    assert health.status_code == 200
    for r in shed:
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert r.json()["error"] == "overloaded"
    assert await stored_ids(direct, settings, admitted_ids + shed_ids) == set(admitted_ids)


async def test_a_group_whose_write_fails_fails_every_delivery_in_it_with_503(
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    infra: InfraUrls,
    monkeypatch: pytest.MonkeyPatch,
    fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    direct: AsyncMongoClient[dict[str, Any]],
) -> None:
    settings, proxy = ingest_app(monkeypatch, fault_proxy, infra)
    ids = [f"lost-{uuid.uuid4()}" for _ in range(5)]
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(timeout=30) as http:
        assert (await post(http, url, f"warm-{uuid.uuid4()}")).is_success
        proxy.pause()
        calls = [asyncio.create_task(post(http, url, i)) for i in ids]
        await asyncio.sleep(0.3)  # one group, its write on the wire
        proxy.cut()  # the database goes away under the write (and stays away)
        answers = await asyncio.gather(*calls)
        proxy.restore()
        again = await post(http, url, ids[0])  # Mux redelivers: now it is stored
    for r in answers:
        assert r.status_code == 503, r.text
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"] == "unavailable"
    assert again.status_code == 200
    assert again.json()["duplicate"] is False
    assert await stored_ids(direct, settings, ids) == {ids[0]}
