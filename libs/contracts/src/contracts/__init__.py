"""livecast contracts: every event, REST body and WebSocket frame, and the broker names.

Importing this package imports every event module, so the event registry is complete.
"""

from contracts import (
    blocked_terms,
    chat,
    common,
    followers,
    moderation,
    notification,
    pins,
    routing,
    stream,
    viewer,
    webhook,
    ws,
)
from contracts.envelope import (
    Envelope,
    Event,
    UnknownEventError,
    derived_event_id,
    event_class,
    known_events,
    make_envelope,
    parse_envelope,
)

__all__ = [
    "Envelope",
    "Event",
    "UnknownEventError",
    "blocked_terms",
    "chat",
    "common",
    "derived_event_id",
    "event_class",
    "followers",
    "known_events",
    "make_envelope",
    "moderation",
    "notification",
    "parse_envelope",
    "pins",
    "routing",
    "stream",
    "viewer",
    "webhook",
    "ws",
]
