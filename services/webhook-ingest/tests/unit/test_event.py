from __future__ import annotations

from typing import Any

import bson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import derived_event_id
from contracts.webhook import MuxWebhookReceived
from webhook_ingest.adapters.mongo import inbox_document
from webhook_ingest.domain.event import BadWebhook, event_of, parse_body, redact, to_envelope


def live(event_type: str = "video.live_stream.active", **data: object) -> dict[str, object]:
    return {
        "type": event_type,
        "id": "evt-1",
        "created_at": "2026-11-24T12:00:05.123Z",
        "object": {"type": "live_stream", "id": "LS1"},
        "data": {
            "id": "LS1",
            "status": "active",
            "passthrough": "ls_abc",
            "stream_key": "secret-key",
            **data,
        },
    }


def test_stream_id_comes_from_passthrough_and_the_id_is_stable() -> None:
    env = to_envelope(redact(live()), correlation_id="c1")
    payload = env.payload
    assert isinstance(payload, MuxWebhookReceived)
    assert payload.stream_id == "ls_abc"
    assert payload.live_stream_id == "LS1"
    assert payload.type == "video.live_stream.active"
    assert env.event_id == derived_event_id("mux", "evt-1")
    assert env.correlation_id == "c1"
    assert to_envelope(redact(live()), correlation_id=None).event_id == env.event_id


def test_asset_events_carry_the_live_stream_id() -> None:
    event = {
        "type": "video.asset.ready",
        "id": "evt-2",
        "created_at": "2026-11-24T12:00:05Z",
        "object": {"type": "asset", "id": "A1"},
        "data": {"id": "A1", "live_stream_id": "LS1", "passthrough": "ls_abc"},
    }
    payload = to_envelope(event, correlation_id=None).payload
    assert isinstance(payload, MuxWebhookReceived)
    assert (payload.live_stream_id, payload.stream_id) == ("LS1", "ls_abc")


def test_stream_keys_are_redacted() -> None:
    assert "stream_key" not in redact(live())["data"]


def test_no_passthrough_means_no_stream_id() -> None:
    event = live()
    del event["data"]["passthrough"]  # type: ignore[attr-defined]
    payload = to_envelope(event, correlation_id=None).payload
    assert isinstance(payload, MuxWebhookReceived)
    assert payload.stream_id is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nope", "not JSON"),
        (b"[1]", "object"),
        (b'{"id": "x"}', "'type'"),
        (b'{"type": "t"}', "'id'"),
    ],
)
def test_bodies_that_are_not_mux_events_are_refused(body: bytes, reason: str) -> None:
    with pytest.raises(BadWebhook, match=reason):
        parse_body(body)


#: JSON values as a Mux body can hold them (what ``parse_body`` accepts)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=("Cs",)), max_size=8).filter(
                lambda k: "\x00" not in k and not k.startswith("$") and "." not in k
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    data=JSON,
    extra=st.dictionaries(st.sampled_from(["attempts", "accessor", "request_id", "object"]), JSON),
)
def test_the_inbox_document_gives_back_the_redacted_event_whole(data: Any, extra: Any) -> None:
    """Whatever ``data`` holds (an object, or not), the event comes back from a stored inbox
    document (through BSON, as the database keeps it) exactly as it was redacted, with ``data``
    stored once."""
    event = redact({"type": "video.live_stream.active", "id": "e1", **extra, "data": data})
    doc = bson.decode(bson.encode(inbox_document(event, to_envelope(event, correlation_id=None))))
    assert event_of(doc) == event
    assert ("data" in doc["event"]) is not isinstance(data, dict)


def test_a_document_stored_with_the_whole_event_is_read_as_it_is() -> None:
    event = {"type": "video.asset.ready", "id": "e2", "data": {"id": "a"}}
    old = {"event": event, "envelope": {"payload": {"data": {"other": 1}}}}
    assert event_of(old) == event
