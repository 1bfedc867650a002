"""Blocked terms and the logging of chat-gateway's pins, over the real broker and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from contracts import make_envelope
from contracts.blocked_terms import BlockedTermAdded, BlockedTermRemoved
from contracts.pins import ChatPinChanged, PinnedMessage
from contracts.routing import Names
from servicekit.broker import RabbitEventPublisher, make_broker
from stream_svc.handlers import blocked_terms
from testkit.infra import InfraUrls
from testkit.wait import eventually

from .test_stream_svc import Stack

pytestmark = pytest.mark.integration


async def _stream(stack: Stack, owner: str = "alice") -> str:
    r = await stack.api.post("/live", json={"title": "x"}, headers=stack.auth(owner))
    sid: str = r.json()["stream_id"]
    r = await stack.api.post(
        f"/live/{sid}/moderators", json={"account_id": "mod"}, headers=stack.auth(owner)
    )
    assert r.status_code == 201
    return sid


async def _log(stack: Stack, sid: str) -> list[dict[str, Any]]:
    r = await stack.api.get(f"/live/{sid}/moderation-log", headers=stack.auth("alice"))
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_owner_and_moderators_manage_terms_logged_and_announced(stack: Stack) -> None:
    sid = await _stream(stack)
    a, url = stack.auth, f"/live/{sid}/blocked-terms"
    assert (
        await stack.api.post(url, json={"term": "heck"}, headers=a("viewer"))
    ).status_code == 403
    assert (await stack.api.get(url, headers=a("viewer"))).status_code == 403
    added = await stack.api.post(url, json={"term": "  ＨＥＣＫ "}, headers=a("mod"))
    assert added.status_code == 201
    body = added.json()
    assert (body["term"], body["by"], body["changed"], body["expires_at"]) == (
        "heck",
        "mod",
        True,
        None,
    )
    again = await stack.api.post(url, json={"term": "Heck"}, headers=a("alice"))
    assert (again.status_code, again.json()["changed"], again.json()["term_id"]) == (
        200,
        False,
        body["term_id"],
    )
    timed = await stack.api.post(url, json={"term": "*spam*", "duration_s": 60}, headers=a("alice"))
    assert timed.status_code == 201
    assert timed.json()["expires_at"] is not None
    listed = (await stack.api.get(url, headers=a("mod"))).json()
    assert [t["term"] for t in listed] == ["heck", "*spam*"]

    removed = await stack.api.delete(f"{url}/{body['term_id']}", headers=a("mod"))
    assert removed.status_code == 204
    twice = await stack.api.delete(f"{url}/{body['term_id']}", headers=a("mod"))
    assert (twice.status_code, twice.json()["changed"]) == (200, False)
    assert (await stack.api.delete(f"{url}/bt_0000", headers=a("mod"))).status_code == 404
    assert [t["term"] for t in (await stack.api.get(url, headers=a("mod"))).json()] == ["*spam*"]

    log = await _log(stack, sid)
    terms = [(e["action"], e["detail"], e["by"]) for e in log if "term" in e["action"]]
    assert terms == [
        ("blocked_term_removed", "heck", "mod"),
        ("blocked_term_added", "*spam*", "alice"),
        ("blocked_term_added", "heck", "mod"),
    ]
    await eventually(lambda: stack.types().count("moderation.blocked_term_added") == 2, within=10)
    await eventually(lambda: "moderation.blocked_term_removed" in stack.types(), within=10)
    announced = [
        e.payload for e in stack.published if e.event_type.startswith("moderation.blocked")
    ]
    assert {(p.term, p.term_id) for p in announced} >= {("heck", body["term_id"])}


@pytest.mark.parametrize(
    "body",
    [
        {"term": "a"},
        {"term": "sp*am"},
        {"term": "x" * 101},
        {"term": " \u200b "},
        {"term": "ok", "duration_s": 0},
        {"term": "ok", "extra": 1},
        {},
    ],
)
async def test_bad_terms_are_422_and_change_nothing(stack: Stack, body: dict[str, Any]) -> None:
    sid = await _stream(stack)
    r = await stack.api.post(f"/live/{sid}/blocked-terms", json=body, headers=stack.auth("alice"))
    assert r.status_code == 422
    assert (
        await stack.api.get(f"/live/{sid}/blocked-terms", headers=stack.auth("alice"))
    ).json() == []


async def test_a_stream_has_at_most_the_limit_of_terms(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocked_terms, "MAX_TERMS", 3)
    sid = await _stream(stack)
    url, a = f"/live/{sid}/blocked-terms", stack.auth("alice")
    for term in ("one", "two", "three"):
        assert (await stack.api.post(url, json={"term": term}, headers=a)).status_code == 201
    full = await stack.api.post(url, json={"term": "four"}, headers=a)
    assert full.status_code == 422
    assert "at most 3" in full.json()["message"]
    again = await stack.api.post(url, json={"term": "one"}, headers=a)  # already in: fine
    assert again.status_code == 200


async def test_pins_are_logged_once_from_chat_gateways_events(
    stack: Stack, infra: InfraUrls, namespace: str
) -> None:
    sid = await _stream(stack)
    now = datetime.now(UTC)
    pin = PinnedMessage(
        pin_id="p_1",
        text="hello all",
        message_id="m_1",
        seq=3,
        account_id="fan",
        pinned_by="mod",
        pinned_at=now,
    )
    events = [
        ChatPinChanged(stream_id=sid, pin=pin, cause="pinned", by="mod", at=now),
        ChatPinChanged(stream_id=sid, previous=pin, cause="message_deleted", by="alice", at=now),
    ]
    await _publish(infra, namespace, events, twice=True)  # redelivered: logged once

    async def pins() -> list[tuple[Any, ...]]:
        return [
            (e["action"], e["account_id"], e["by"], e["detail"], e["message_id"], e["reason"])
            for e in await _log(stack, sid)
            if "pinned" in e["action"]
        ]

    await eventually(lambda: _two(pins), within=10)
    assert sorted(await pins()) == [
        ("message_pinned", "fan", "mod", "hello all", "m_1", None),
        ("message_unpinned", "fan", "alice", "hello all", "m_1", "message_deleted"),
    ]


async def _publish(infra: InfraUrls, namespace: str, events: list[Any], twice: bool) -> None:
    broker = make_broker(infra.amqp, app_id="terms-test")
    await broker.connect()
    bus = RabbitEventPublisher(broker, Names(namespace))
    for event in events:
        envelope = make_envelope(event, producer="test", event_id=uuid4())
        for _ in range(2 if twice else 1):
            await bus.publish(envelope)
    await broker.stop()


async def test_a_term_announced_but_not_applied_is_repaired_from_the_event(
    stack: Stack, infra: InfraUrls, namespace: str
) -> None:
    """A request that died between logging (the event is staged) and applying the term: the
    service applies it from its own event, and an older removal arriving late changes nothing."""
    sid = await _stream(stack)
    now = datetime.now(UTC)
    added = BlockedTermAdded(stream_id=sid, term_id="bt_aa", term="heck", by="mod", at=now)
    late = BlockedTermRemoved(
        stream_id=sid, term_id="bt_aa", term="heck", by="mod", at=now - timedelta(seconds=5)
    )
    await _publish(infra, namespace, [added, late], twice=False)

    async def listed() -> list[str]:
        r = await stack.api.get(f"/live/{sid}/blocked-terms", headers=stack.auth("alice"))
        return [t["term_id"] for t in r.json()]

    async def repaired() -> bool:
        return await listed() == ["bt_aa"]

    await eventually(repaired, within=10)


async def _two(pins: Any) -> bool:
    return len(await pins()) >= 2
