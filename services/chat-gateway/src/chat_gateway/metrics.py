"""chat-gateway's metrics for operators (Prometheus; per instance, no stream or account labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["FRAMES_SENT", "PRESENCE_SESSIONS", "SLOW_DROPPED", "SOCKETS"]

SOCKETS = Gauge("livecast_chat_sockets", "Chat WebSocket connections in a room on this instance")
FRAMES_SENT = Counter(
    "livecast_chat_frames_sent_total",
    "Frames written to chat sockets by room fan-out (one per receiving socket)",
)
SLOW_DROPPED = Counter(
    "livecast_chat_slow_clients_dropped_total",
    "Chat sockets closed (4009) because their unsent bytes exceeded the send buffer",
)
PRESENCE_SESSIONS = Gauge(
    "livecast_presence_sessions",
    "Watching sessions (stream, account) this instance reported in its last presence heartbeat",
)
