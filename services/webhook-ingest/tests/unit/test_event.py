from __future__ import annotations

import pytest

from contracts import derived_event_id
from contracts.webhook import MuxWebhookReceived
from webhook_ingest.domain.event import BadWebhook, parse_body, redact, to_envelope


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
