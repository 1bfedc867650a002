from __future__ import annotations

from typing import ClassVar

import pytest

from contracts import known_events, make_envelope, parse_envelope
from contracts.common import StreamStatus
from contracts.envelope import Event, register_upcaster
from contracts.routing import Names
from contracts.stream import StreamStarted


def test_routing_key_carries_type_and_version() -> None:
    assert StreamStarted.routing_key() == "stream.started.v1"


def test_every_event_type_is_lowercase_dotted_and_unique() -> None:
    events = known_events()
    for event_type, version in events:
        assert event_type == event_type.lower()
        assert "." in event_type
        assert version >= 1
    assert len(set(events.values())) == len(events)


def test_names_apply_the_namespace_everywhere() -> None:
    names = Names("t123.")
    assert names.live_events == "t123.live.events"
    assert names.mux_webhooks == "t123.mux.webhooks"
    assert names.queue("viewer-svc") == "t123.viewer-svc"
    assert names.queue("chat-gateway", "fanout") == "t123.chat-gateway.fanout"
    assert Names.dlq(names.queue("viewer-svc")) == "t123.viewer-svc.dlq"
    assert Names().live_events == "live.events"


@pytest.mark.parametrize(
    ("src", "dst", "allowed"),
    [
        ("idle", "active", True),
        ("active", "ended", True),
        ("idle", "ended", True),
        ("ended", "active", False),
        ("active", "idle", False),
        ("deleted", "active", False),
        ("ended", "deleted", True),
        ("active", "active", False),
    ],
)
def test_stream_status_is_forward_only(src: str, dst: str, allowed: bool) -> None:
    assert StreamStatus(src).can_move_to(StreamStatus(dst)) is allowed


class _GreetedV1(Event):
    TYPE: ClassVar[str] = "test.greeted"
    name: str


class _GreetedV2(Event):
    TYPE: ClassVar[str] = "test.greeted"
    VERSION: ClassVar[int] = 2
    first_name: str
    last_name: str = ""


@register_upcaster("test.greeted", 1)
def _v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
    return {"first_name": payload["name"], "last_name": ""}


def test_old_versions_are_upcast_when_read() -> None:
    stored = make_envelope(_GreetedV1(name="ada"), producer="test").model_dump(mode="json")
    envelope = parse_envelope(stored)
    assert isinstance(envelope.payload, _GreetedV2)
    assert envelope.payload.first_name == "ada"
    assert envelope.schema_version == 2
