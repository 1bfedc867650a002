"""Webhook signature failures by reason on ``/metrics``."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from pydantic import SecretStr

from mux_sim.signing import signature_header
from testkit.metrics import metric_value
from webhook_ingest.adapters.memory import MemoryInbox
from webhook_ingest.bootstrap import Deps
from webhook_ingest.domain.signature import REASONS
from webhook_ingest.entrypoints.http import create_app
from webhook_ingest.settings import Settings

SECRET = "whsec-metrics"
BODY = json.dumps(
    {
        "type": "video.live_stream.idle",
        "id": "evt-m",
        "created_at": "2026-11-24T12:00:05Z",
        "object": {"type": "live_stream", "id": "LS1"},
        "data": {"id": "LS1", "passthrough": "ls_1"},
    }
).encode()


def headers_for(reason: str) -> dict[str, str]:
    now = int(time.time())
    header = {
        "missing": None,
        "malformed": "v1=abc",
        "mismatch": signature_header("another-secret", BODY, now),
        "stale": signature_header(SECRET, BODY, now - 3600),
        "future": signature_header(SECRET, BODY, now + 3600),
    }[reason]
    return {"Mux-Signature": header} if header else {}


@pytest.mark.parametrize("reason", REASONS)
async def test_each_refused_signature_is_counted_by_its_reason(reason: str) -> None:
    deps = Deps(inbox=MemoryInbox(), kick=lambda _: None, secrets=(SECRET,), tolerance_s=300)
    app = create_app(Settings(mux_webhook_secrets=[SecretStr(SECRET)]), deps=deps)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):

        async def count() -> float:
            text = (await client.get("/metrics")).text
            return metric_value(text, "livecast_webhook_verify_failures_total", reason=reason) or 0

        before = await count()
        refused = await client.post("/webhooks/mux", content=BODY, headers=headers_for(reason))
        assert refused.status_code == 401
        assert await count() == before + 1
        ok = {"Mux-Signature": signature_header(SECRET, BODY)}
        assert (await client.post("/webhooks/mux", content=BODY, headers=ok)).status_code == 200
        assert await count() == before + 1
