"""Exchange, queue and routing-key names shared by every service.

Two durable topic exchanges carry everything:

* ``mux.webhooks``: every verified Mux webhook; routing key = Mux's event type
  (``video.live_stream.active``).
* ``live.events``: our own events; routing key = ``"<event type>.v<version>"``
  (``stream.started.v1``), see :meth:`contracts.envelope.Event.routing_key`.

Each consuming service owns one durable quorum queue named after itself, bound to the keys it
needs; instances of a service compete on that queue. Each queue dead-letters to
``<queue>.dlq`` through the ``livecast.dlx`` exchange. A namespace prefix (empty in production)
keeps test runs apart on a shared broker.
"""

from __future__ import annotations

from dataclasses import dataclass

MUX_WEBHOOKS_EXCHANGE = "mux.webhooks"
LIVE_EVENTS_EXCHANGE = "live.events"
DEAD_LETTER_EXCHANGE = "livecast.dlx"

#: Mux webhook routing keys (Mux event types) the services bind to.
MUX_LIVE_STREAM_ALL = "video.live_stream.*"
MUX_ASSET_ALL = "video.asset.*"


def mux_routing_key(mux_event_type: str) -> str:
    """Routing key on ``mux.webhooks`` for a Mux event type: the type itself."""
    return mux_event_type


def all_versions(event_type: str) -> str:
    """Binding pattern matching every version of one event type (``stream.started.*``)."""
    return f"{event_type}.*"


def domain(prefix: str) -> str:
    """Binding pattern matching every event of a domain (``stream.#``)."""
    return f"{prefix}.#"


@dataclass(frozen=True, slots=True)
class Names:
    """Concrete broker names under a namespace (``""`` in production, unique per test run)."""

    namespace: str = ""

    @property
    def mux_webhooks(self) -> str:
        return f"{self.namespace}{MUX_WEBHOOKS_EXCHANGE}"

    @property
    def live_events(self) -> str:
        return f"{self.namespace}{LIVE_EVENTS_EXCHANGE}"

    @property
    def dead_letter(self) -> str:
        return f"{self.namespace}{DEAD_LETTER_EXCHANGE}"

    def queue(self, service: str, name: str | None = None) -> str:
        """The durable queue of a service (``stream-svc``, or ``stream-svc.<name>``)."""
        return f"{self.namespace}{service}" + (f".{name}" if name else "")

    @staticmethod
    def dlq(queue: str) -> str:
        """The dead-letter queue that belongs to ``queue``."""
        return f"{queue}.dlq"
