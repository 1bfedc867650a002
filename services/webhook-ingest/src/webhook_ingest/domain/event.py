"""Turning a verified Mux webhook body into our contract event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, Event, derived_event_id, make_envelope
from contracts.webhook import MuxObject, MuxWebhookReceived

PRODUCER = "webhook-ingest"
#: Fields of Mux's ``data`` we never store or publish (secrets).
REDACTED = ("stream_key", "srt_passphrase")


class BadWebhook(ValueError):
    """The body is not a Mux webhook (not JSON, not an object, no ``type``/``id``)."""


def parse_body(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadWebhook("body is not JSON") from None
    if not isinstance(value, dict):
        raise BadWebhook("body must be a JSON object")
    for field in ("type", "id"):
        if not isinstance(value.get(field), str) or not value[field]:
            raise BadWebhook(f"body has no {field!r}")
    return value


def redact(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event without secrets in ``data``."""
    data = event.get("data")
    if not isinstance(data, dict):
        return event
    return {**event, "data": {k: v for k, v in data.items() if k not in REDACTED}}


def _created_at(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def to_envelope(event: dict[str, Any], *, correlation_id: str | None) -> Envelope[Event]:
    """The envelope published for a Mux event; its id derives from Mux's event id, so a
    redelivery or a replay carries the same id."""
    data = event.get("data")
    if not isinstance(data, dict):
        data = {}
    obj = event.get("object")
    mux_object = (
        MuxObject(type=str(obj.get("type", "")), id=str(obj.get("id", "")))
        if isinstance(obj, dict)
        else None
    )
    is_asset = event["type"].startswith("video.asset.")
    live_stream_id = data.get("live_stream_id") if is_asset else data.get("id")
    passthrough = data.get("passthrough")
    payload = MuxWebhookReceived(
        mux_event_id=event["id"],
        type=event["type"],
        created_at=_created_at(event.get("created_at")),
        object=mux_object,
        stream_id=passthrough if isinstance(passthrough, str) and passthrough else None,
        live_stream_id=live_stream_id if isinstance(live_stream_id, str) else None,
        data=data,
        environment=event.get("environment")
        if isinstance(event.get("environment"), dict)
        else None,
    )
    return make_envelope(
        payload,
        producer=PRODUCER,
        correlation_id=correlation_id,
        event_id=derived_event_id("mux", event["id"]),
    )
