"""Use cases of webhook-ingest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from webhook_ingest.domain.event import parse_body, redact, to_envelope
from webhook_ingest.domain.signature import verify
from webhook_ingest.ports import Inbox, Kicker


@dataclass(frozen=True, slots=True)
class Received:
    mux_event_id: str
    event_type: str
    duplicate: bool


async def receive_webhook(
    body: bytes,
    signature: str | None,
    *,
    secrets: Sequence[str],
    tolerance_s: float,
    now: float,
    inbox: Inbox,
    kick: Kicker,
    correlation_id: str | None = None,
) -> Received:
    """Verify, store (with its publication staged) and hand to the relay.

    Raises:
        SignatureError: refused signature (nothing stored).
        BadWebhook: verified but not a Mux event (nothing stored).
    """
    verify(signature, body, secrets, now=now, tolerance_s=tolerance_s)
    event = redact(parse_body(body))
    envelope = to_envelope(event, correlation_id=correlation_id)
    stored = await inbox.store(event, envelope)
    if stored:
        kick(event["id"])
    return Received(event["id"], event["type"], duplicate=not stored)
