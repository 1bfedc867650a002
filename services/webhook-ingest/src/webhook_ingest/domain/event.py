"""Turning a verified Mux webhook body into our contract event."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from contracts import Envelope, Event, derived_event_id, make_envelope
from contracts.webhook import MuxObject, MuxWebhookReceived
from servicekit.mongo import is_storable

PRODUCER = "webhook-ingest"
#: Fields of Mux's ``data`` we never store or publish (secrets).
REDACTED = ("stream_key", "srt_passphrase")


#: longest ``type`` / ``id`` we accept (Mux's are far shorter)
MAX_NAME = 256


class BadWebhook(ValueError):
    """The body is not a Mux webhook we can keep: not JSON, not an object, no ``type``/``id``,
    or values a document cannot hold (integers beyond 64 bits, lone surrogates, NUL in keys)."""


def _not_json(name: str) -> float:
    """``NaN``/``Infinity`` are Python's extension, not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:20]} is beyond a double")
    return value


def parse_body(body: bytes) -> dict[str, Any]:
    """The webhook's JSON object, checked to be storable as is.

    Raises:
        BadWebhook: whatever else the body holds (a signed body is still untrusted bytes).
    """
    try:
        value = json.loads(body, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        raise BadWebhook("body is not JSON") from None
    if not isinstance(value, dict):
        raise BadWebhook("body must be a JSON object")
    for field in ("type", "id"):
        if not isinstance(value.get(field), str) or not value[field]:
            raise BadWebhook(f"body has no {field!r}")
        if len(value[field]) > MAX_NAME:
            raise BadWebhook(f"body's {field!r} is longer than {MAX_NAME} characters")
    if not is_storable({"event": value}):
        raise BadWebhook("body holds values that cannot be stored")
    return value


def redact(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event without secrets in ``data``."""
    data = event.get("data")
    if not isinstance(data, dict):
        return event
    return {**event, "data": {k: v for k, v in data.items() if k not in REDACTED}}


def stored_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the inbox keeps it beside its envelope: without ``data`` when ``data`` is
    an object, since the envelope's ``payload.data`` holds the same object (one copy of the
    largest part of an event: the inbox's write per delivery fell by a sixth on the stand-in).
    :func:`event_of` puts it back."""
    if isinstance(event.get("data"), dict):
        return {k: v for k, v in event.items() if k != "data"}
    return event


def event_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The (redacted) Mux event an inbox document holds, whole: ``event``, with ``data`` from
    the envelope where :func:`stored_event` left it out (documents stored before that hold it
    in ``event`` itself)."""
    event: dict[str, Any] = doc["event"]
    if "data" in event:
        return event
    return {**event, "data": doc["envelope"]["payload"]["data"]}


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
    redelivery or a replay carries the same id.

    Raises:
        BadWebhook: the event does not make a valid contract event.
    """
    try:
        return _envelope(event, correlation_id)
    except (ValidationError, ValueError, RecursionError):
        raise BadWebhook("body is not a Mux event") from None


def _envelope(event: dict[str, Any], correlation_id: str | None) -> Envelope[Event]:
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
