"""Issue 17: joins while the database stalls (reached through the testkit fault proxy, paused)
answer 503 JSON with Retry-After, never a 500 in text/plain, and succeed again once it is back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from servicekit.settings import load_settings
from testkit.faultproxy import FaultProxy
from testkit.infra import InfraUrls
from testkit.wait import eventually
from viewer_svc.settings import Settings

from .test_viewer_svc import Bus, announce_live, auth, bus, instances

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]
__all__ = ["bus"]  # the fixture, imported for this module's tests


async def test_joins_during_a_database_stall_get_503_json_then_recover(
    infra: InfraUrls,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    monkeypatch: pytest.MonkeyPatch,
    bus: Bus,
    jwt_secret: str,
) -> None:
    proxy, url = fault_proxy(infra.mongo)
    monkeypatch.setenv("MONGODB_URL", url)
    # no read cache: a join then needs the database (with it, joins within a second of the
    # last read answer from memory, stall or not: presence itself is never written per request)
    settings = load_settings(Settings).model_copy(
        update={"presence_timeout_s": 60.0, "read_cache_s": 0.0}
    )
    async with instances(settings, 1) as (client,):
        await announce_live(bus, "stall")

        async def joined(account: str) -> bool:
            r = await client.post("/live/stall/join", headers=auth(jwt_secret, account))
            return r.status_code == 200

        await eventually(lambda: joined("before"), within=10)
        proxy.pause()
        try:
            r = await client.post(
                "/live/stall/join", headers=auth(jwt_secret, "during"), timeout=20
            )
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/json"
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["error"] == "unavailable"
        finally:
            proxy.restore()
        await eventually(lambda: joined("after"), within=10)
