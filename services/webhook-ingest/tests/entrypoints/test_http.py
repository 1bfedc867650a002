from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from mux_sim.signing import signature_header
from webhook_ingest.adapters.memory import MemoryInbox
from webhook_ingest.bootstrap import Deps
from webhook_ingest.domain.event import event_of
from webhook_ingest.entrypoints.http import create_app
from webhook_ingest.settings import Settings

SECRET = "whsec-1"


class Harness:
    def __init__(self) -> None:
        self.inbox = MemoryInbox()
        self.kicked: list[str] = []
        self.deps = Deps(
            inbox=self.inbox, kick=self.kicked.append, secrets=(SECRET,), tolerance_s=300
        )


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[tuple[Harness, httpx.AsyncClient]]:
    h = Harness()
    settings = Settings(mux_webhook_secrets=[SecretStr(SECRET)], max_body_bytes=4096)
    app = create_app(settings, deps=h.deps)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield h, client


def event(event_id: str = "evt-1", event_type: str = "video.live_stream.active") -> bytes:
    return json.dumps(
        {
            "type": event_type,
            "id": event_id,
            "created_at": "2026-11-24T12:00:05Z",
            "object": {"type": "live_stream", "id": "LS1"},
            "data": {"id": "LS1", "passthrough": "ls_1", "stream_key": "k"},
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET, t: int | None = None) -> dict[str, str]:
    return {"Mux-Signature": signature_header(secret, body, t), "Content-Type": "application/json"}


async def test_verified_event_is_stored_staged_and_kicked(
    harness: tuple[Harness, httpx.AsyncClient],
) -> None:
    h, client = harness
    body = event()
    r = await client.post("/webhooks/mux", content=body, headers=signed(body))
    assert r.status_code == 200
    assert r.json() == {
        "received": True,
        "id": "evt-1",
        "type": "video.live_stream.active",
        "duplicate": False,
    }
    assert list(h.inbox.docs) == ["evt-1"]
    assert "stream_key" not in event_of(h.inbox.docs["evt-1"])["data"]
    assert h.kicked == ["evt-1"]
    assert len(h.inbox.staged) == 1


async def test_repeated_event_id_is_200_and_not_staged_again(
    harness: tuple[Harness, httpx.AsyncClient],
) -> None:
    h, client = harness
    body = event()
    for _ in range(3):
        r = await client.post("/webhooks/mux", content=body, headers=signed(body))
        assert r.status_code == 200
    assert r.json()["duplicate"] is True
    assert len(h.inbox.staged) == 1
    assert h.kicked == ["evt-1"]


async def test_unknown_event_types_are_stored_too(
    harness: tuple[Harness, httpx.AsyncClient],
) -> None:
    h, client = harness
    body = event(event_type="video.upload.created")
    assert (
        await client.post("/webhooks/mux", content=body, headers=signed(body))
    ).status_code == 200
    assert len(h.inbox.staged) == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"Mux-Signature": "t=1,v1=00"}, "does not match"),
        ("wrong-secret", "does not match"),
        ("stale", "old"),
    ],
)
async def test_bad_signatures_are_401_and_store_nothing(
    harness: tuple[Harness, httpx.AsyncClient], headers: object, reason: str
) -> None:
    h, client = harness
    body = event()
    if headers == "wrong-secret":
        headers = signed(body, secret="nope")
    elif headers == "stale":
        headers = signed(body, t=int(time.time()) - 3600)
    r = await client.post("/webhooks/mux", content=body, headers=headers)  # type: ignore[arg-type]
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_signature"
    assert reason in r.json()["message"]
    assert h.inbox.docs == {}
    assert h.kicked == []


@pytest.mark.parametrize("body", [b"not json", b'{"id": "x"}', b"[]"])
async def test_signed_bodies_that_are_not_events_are_400(
    harness: tuple[Harness, httpx.AsyncClient], body: bytes
) -> None:
    h, client = harness
    r = await client.post("/webhooks/mux", content=body, headers=signed(body))
    assert r.status_code == 400
    assert r.json()["error"] == "bad_request"
    assert h.inbox.docs == {}


async def test_oversized_body_is_413_and_stores_nothing(
    harness: tuple[Harness, httpx.AsyncClient],
) -> None:
    h, client = harness
    body = b'{"type":"x","id":"big","pad":"' + b"x" * 5000 + b'"}'
    r = await client.post("/webhooks/mux", content=body, headers=signed(body))
    assert r.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    r = await client.post("/webhooks/mux", content=chunks(), headers={"Mux-Signature": "t=1,v1=0"})
    assert r.status_code == 413
    assert h.inbox.docs == {}


def test_ingest_admits_more_deliveries_than_the_kit_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The group commit bounds the database work, so the admission bound only bounds memory."""
    settings = Settings(mux_webhook_secrets=[SecretStr(SECRET)])
    assert settings.admission.max_in_flight == 256
    monkeypatch.setenv("HTTP_MAX_IN_FLIGHT", "3")
    assert Settings(mux_webhook_secrets=[SecretStr(SECRET)]).admission.max_in_flight == 3
