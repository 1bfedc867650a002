"""The bell's live unread count (issue 19 item 4): a long poll on
``GET /notifications/unread-count?known=&wait_s=`` that two real notifier instances answer as
soon as a notification for the account is stored by either of them (woken through each
instance's own queue), without holding admission slots while it waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from contracts import make_envelope
from contracts.chat import GiftSent
from contracts.routing import Names
from notifier.entrypoints.http import create_app
from notifier.settings import Settings
from servicekit.broker import RabbitEventPublisher, declare_topology, make_broker
from servicekit.settings import load_settings
from testkit.infra import InfraUrls
from testkit.servers import serve_app
from testkit.wait import eventually

from .conftest import auth

pytestmark = pytest.mark.integration

#: long enough that a poll answered before it ends was woken, not timed out
WAIT_S = 30.0
WOKEN_WITHIN_S = 20.0


@pytest.fixture
def settings(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    monkeypatch.setenv("HTTP_MAX_IN_FLIGHT", "2")
    monkeypatch.setenv("HTTP_MAX_QUEUED", "10")
    monkeypatch.setenv("HTTP_QUEUE_TIMEOUT_S", "5")
    return load_settings(Settings)


@pytest_asyncio.fixture
async def bus(infra: InfraUrls, namespace: str) -> AsyncIterator[RabbitEventPublisher]:
    broker = make_broker(infra.amqp, app_id="test-bus")
    await broker.connect()
    await declare_topology(broker, Names(namespace), [], delivery_limit=5)
    yield RabbitEventPublisher(broker, Names(namespace))
    await broker.stop()


@contextlib.asynccontextmanager
async def two_notifiers(settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for name in ("nt-a", "nt-b"):
            app = create_app(settings.model_copy(update={"instance_id": name}))
            base = await stack.enter_async_context(serve_app(app))
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=60))
            client.app = app  # type: ignore[attr-defined]
            clients.append(client)
        yield clients


def waiting_polls(*apis: httpx.AsyncClient) -> int:
    """How many polls are registered on these instances."""
    return sum(api.app.state.deps.watch.waiting for api in apis)  # type: ignore[attr-defined]


def gift(n: int, recipient: str) -> Any:
    return make_envelope(
        GiftSent(
            gift_id=f"g{n}",
            stream_id="s1",
            sender_id="fan",
            recipient_id=recipient,
            gift_type="rose",
            amount=1,
            unit_price=10,
            total_price=10,
            sent_at=datetime.now(UTC),
        ),
        producer="test",
    )


async def poll(api: httpx.AsyncClient, headers: dict[str, str], known: int) -> int:
    r = await api.get(
        "/notifications/unread-count", params={"known": known, "wait_s": WAIT_S}, headers=headers
    )
    assert r.status_code == 200, r.text
    return int(r.json()["unread"])


async def test_both_instances_answer_their_polls_when_a_notification_arrives(
    settings: Settings, jwt_secret: str, bus: RabbitEventPublisher
) -> None:
    star = auth(jwt_secret, "star")
    async with two_notifiers(settings) as (a, b):
        polls = [asyncio.create_task(poll(api, star, 0)) for api in (a, b, a, b)]
        other = asyncio.create_task(poll(a, auth(jwt_secret, "bystander"), 0))
        await eventually(lambda: waiting_polls(a, b) == 5, within=10)
        # while five polls wait on two instances allowing two requests each, work is admitted
        # (a request finding both slots taken queues up to 5 s: polls holding their slots for
        # their whole 30 s wait would make it 503)
        for api in (a, b):
            r = await api.get("/notifications", headers=star)
            assert r.status_code == 200, r.text
        assert not any(p.done() for p in polls)
        await bus.publish(gift(1, "star"))
        done = await asyncio.wait_for(asyncio.gather(*polls), WOKEN_WITHIN_S)
        assert done == [1, 1, 1, 1]
        assert not other.done()  # another account's poll keeps waiting
        other.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await other


async def test_a_stale_known_count_answers_at_once_and_marking_read_wakes_other_tabs(
    settings: Settings, jwt_secret: str, bus: RabbitEventPublisher
) -> None:
    star = auth(jwt_secret, "star")
    async with two_notifiers(settings) as (a, _b):
        await bus.publish(gift(1, "star"))
        await bus.publish(gift(2, "star"))
        count = 0
        while count < 2:
            count = await poll(a, star, count)
        assert await asyncio.wait_for(poll(a, star, 0), WOKEN_WITHIN_S) == 2  # known is stale
        other_tab = asyncio.create_task(poll(a, star, 2))
        r = await a.post("/notifications/read", json={"all": True}, headers=star)
        assert r.json()["marked"] == 2
        assert await asyncio.wait_for(other_tab, WOKEN_WITHIN_S) == 0
        for bad in ({"known": -1, "wait_s": 1}, {"known": 0, "wait_s": 31}):
            r = await a.get("/notifications/unread-count", params=bad, headers=star)
            assert r.status_code == 422, bad
