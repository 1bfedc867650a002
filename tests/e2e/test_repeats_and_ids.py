"""Issue 23 through the gateway: repeated actions stay single, ids cannot collide, follow
floods are limited, usage names its sources."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest

from testkit.stack import Stack
from testkit.wait import eventually

pytestmark = pytest.mark.e2e


async def _banned_notes(api: httpx.AsyncClient, stack: Stack, account: str) -> int:
    r = await api.get("/notifications", headers=stack.auth(account))
    return sum(1 for n in r.json().get("items", []) if n["kind"] == "banned")


async def test_banning_three_times_is_one_ban_one_log_entry_one_notification(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api:
        owner, troll = stack.auth("owner23"), "troll23"
        sid = (await api.post("/live", json={"title": "bans"}, headers=owner)).json()["stream_id"]
        ban = {"account_id": troll, "reason": "spam"}
        codes = [
            (await api.post(f"/live/{sid}/bans", json=ban, headers=owner)).status_code
            for _ in range(3)
        ]
        assert codes == [201, 200, 200]
        log = (await api.get(f"/live/{sid}/moderation-log", headers=owner)).json()["items"]
        assert [e["action"] for e in log] == ["user_banned"]

        async def notified() -> bool:
            return await _banned_notes(api, stack, troll) == 1

        assert await eventually(notified, within=20)
        await asyncio.sleep(1.5)  # a second notification would have arrived by now
        assert await _banned_notes(api, stack, troll) == 1
        r = await api.delete(f"/live/{sid}/bans/nobody23", headers=owner)
        assert (r.status_code, r.json()["changed"]) == (200, False)


async def test_unsafe_account_ids_are_refused_at_the_gateway(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api:
        sub = jwt.encode({"sub": "a\x1fb", "exp": int(time.time()) + 60}, stack.secret, "HS256")
        r = await api.put("/users/x/follow", headers={"Authorization": f"Bearer {sub}"})
        assert r.status_code == 401
        r = await api.put("/users/b%1Fx/follow", headers=stack.auth("a23"))
        assert r.status_code == 422


async def test_a_follow_burst_gets_429_with_retry_after(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api:
        bot = stack.auth("bot23")
        codes = []
        for i in range(120):
            r = await api.put(f"/users/t23-{i:03d}/follow", headers=bot)
            codes.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert r.json()["error"] == "rate_limited"
        assert set(codes) == {200, 429}
        assert codes.count(200) < 40


async def test_usage_names_its_sources(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api:
        r = await api.get("/me/usage", headers=stack.auth("owner23"))
        assert r.status_code == 200
        assert any("mux.com" in s for s in r.json()["basis"]["sources"])
