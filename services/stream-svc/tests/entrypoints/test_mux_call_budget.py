"""Each account's budget of calls that create or change a Mux live stream (429 with
``Retry-After`` once spent; replays are free; one account cannot spend another's)."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest_asyncio
from pydantic import SecretStr

from servicekit.ratelimit import MemoryRateBudgets
from stream_svc.adapters.memory import FakeMux
from stream_svc.deps import Deps, mux_call_budget
from stream_svc.entrypoints.http import create_app
from stream_svc.settings import Settings

from ..helpers import memory_deps
from .test_http import SECRET, auth

BURST = 3


@pytest_asyncio.fixture
async def small() -> httpx.AsyncClient:  # type: ignore[misc]
    settings = Settings(
        auth_jwt_secret=SecretStr(SECRET),
        mux_token_id=SecretStr("i"),
        mux_token_secret=SecretStr("s"),
    )
    deps: Deps = replace(memory_deps(), mux_calls=MemoryRateBudgets(mux_call_budget(BURST, 1.0)))
    app = create_app(settings, deps=deps)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        client.deps = deps  # type: ignore[attr-defined]
        yield client


async def post(client: httpx.AsyncClient, owner: str, key: str | None = None) -> httpx.Response:
    headers = auth(owner) | ({"Idempotency-Key": key} if key else {})
    return await client.post("/live", json={"title": "Budget"}, headers=headers)


async def test_creations_past_the_burst_are_429_with_retry_after_and_create_nothing_on_mux(
    small: httpx.AsyncClient,
) -> None:
    mux: FakeMux = small.deps.mux  # type: ignore[attr-defined]
    for _ in range(BURST):
        assert (await post(small, "alice")).status_code == 201
    refused = await post(small, "alice")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["retry_after_s"] == int(refused.headers["Retry-After"])
    assert len(mux.streams) == BURST


async def test_a_replay_is_answered_when_the_budget_is_spent(small: httpx.AsyncClient) -> None:
    first = await post(small, "alice", key="k1")
    for _ in range(BURST - 1):
        assert (await post(small, "alice")).status_code == 201
    assert (await post(small, "alice")).status_code == 429
    again = await post(small, "alice", key="k1")
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_one_account_spending_its_budget_leaves_others_theirs(
    small: httpx.AsyncClient,
) -> None:
    for _ in range(BURST):
        await post(small, "alice")
    assert (await post(small, "alice")).status_code == 429
    assert (await post(small, "bob")).status_code == 201


async def test_key_resets_spend_the_same_budget(small: httpx.AsyncClient) -> None:
    stream_id = (await post(small, "alice")).json()["stream_id"]
    for _ in range(BURST - 1):
        r = await small.post(f"/live/{stream_id}/reset-stream-key", headers=auth("alice"))
        assert r.status_code == 200, r.text
    r = await small.post(f"/live/{stream_id}/reset-stream-key", headers=auth("alice"))
    assert r.status_code == 429, r.text
    assert (await post(small, "alice")).status_code == 429
