"""Generate ``docs/asyncapi.yaml``: the broker's exchanges, routing keys and event payloads.

    python scripts/gen_asyncapi.py           # rewrite docs/asyncapi.yaml
    python scripts/gen_asyncapi.py --check   # exit 1 if the checked-in file is stale

An AsyncAPI 3.0 document built from the code, not written by hand:

* channels and messages: every event class of ``libs/contracts`` (``known_events()``), one
  channel per routing key on ``live.events`` (``<type>.v<version>``), and ``mux.webhooks``
  whose routing key is Mux's event type; payloads are the envelopes' JSON Schema (pydantic);
* ``receive`` operations: each service's consumer queue with the bindings its
  ``EventDispatcher`` derives from its handlers (the same bindings the service declares);
* ``send`` operations: the events each service's code constructs (its ``src/`` is scanned for
  ``EventClass(``), so a new publisher shows up without editing this script.

FastStream's own generator (``faststream docs gen``) documents subscribers by their handler's
message type; ours take the raw message and dispatch by event type, so its document would show
untyped queues. Hence this generator over the contracts and the dispatchers.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from contracts.envelope import Envelope, Event, known_events
from contracts.routing import DEAD_LETTER_EXCHANGE, LIVE_EVENTS_EXCHANGE, MUX_WEBHOOKS_EXCHANGE
from contracts.webhook import MuxWebhookReceived
from servicekit.broker import LIVE, MUX
from servicekit.consumer import EventDispatcher

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "asyncapi.yaml"
MUX_CHANNEL = "mux.webhooks"


def _nothing() -> Any:
    raise RuntimeError("the generator never calls a handler")


def consumers() -> dict[str, list[tuple[str, EventDispatcher, bool]]]:
    """``{service: [(queue, dispatcher, per_instance)]}`` as each service's bootstrap wires them."""
    from chat_gateway.entrypoints.consumers import fanout_dispatcher, projection_dispatcher
    from notifier.entrypoints.consumers import build_dispatcher as notifier
    from notifier.entrypoints.consumers import inbox_dispatcher
    from stream_svc.entrypoints.consumers import build_dispatcher as stream_svc
    from viewer_svc.entrypoints.consumers import build_dispatcher as viewer_svc

    return {
        "stream-svc": [("stream-svc", stream_svc(_nothing), False)],
        "viewer-svc": [("viewer-svc", viewer_svc(_nothing), False)],
        "notifier": [
            ("notifier", notifier(_nothing, _nothing), False),
            ("notifier.inbox.{instance_id}", inbox_dispatcher(_nothing), True),
        ],
        "chat-gateway": [
            ("chat-gateway", projection_dispatcher(_nothing, _nothing), False),
            ("chat-gateway.fanout.{instance_id}", fanout_dispatcher(_nothing, _nothing), True),
        ],
    }


def publishers() -> dict[str, set[type[Event]]]:
    """``{service: event classes its code constructs}`` (scan of ``services/*/src``)."""
    by_name = {
        cls.__name__: cls
        for cls in known_events().values()
        if cls.__module__.startswith("contracts.")
    }
    found: dict[str, set[type[Event]]] = {}
    for service in sorted((ROOT / "services").iterdir()):
        text = "\n".join(p.read_text() for p in sorted((service / "src").rglob("*.py")))
        classes = {cls for name, cls in by_name.items() if re.search(rf"\b{name}\(", text)}
        if classes:
            found[service.name] = classes
    return found


def message_name(cls: type[Event]) -> str:
    return f"{cls.TYPE}.v{cls.VERSION}"


def channel_id(cls: type[Event]) -> str:
    return MUX_CHANNEL if cls is MuxWebhookReceived else message_name(cls)


def _exchange(name: str) -> dict[str, Any]:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {"name": name, "type": "topic", "durable": True, "autoDelete": False},
            "bindingVersion": "0.3.0",
        }
    }


def _schemas() -> tuple[dict[type[Event], dict[str, Any]], dict[str, Any]]:
    events = [
        cls for _, cls in sorted(known_events().items()) if cls.__module__.startswith("contracts.")
    ]
    refs, defs = models_json_schema(
        [(Envelope[cls], "validation") for cls in events],  # type: ignore[valid-type]
        ref_template="#/components/schemas/{model}",
    )
    by_event = {cls: refs[(Envelope[cls], "validation")] for cls in events}  # type: ignore[valid-type]
    return by_event, defs.get("$defs", {})


HEADERS = {
    "type": "object",
    "properties": {
        "x-event-type": {"type": "string", "description": "the envelope's event_type"},
        "x-correlation-id": {"type": "string", "description": "also the AMQP correlation_id"},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context (present when tracing is on)",
        },
    },
}


def _messages(by_event: dict[type[Event], dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cls, ref in by_event.items():
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out[message_name(cls)] = {
            "name": message_name(cls),
            "title": cls.__name__,
            "summary": doc,
            "contentType": "application/json",
            "headers": HEADERS,
            "correlationId": {"location": "$message.header#/x-correlation-id"},
            "payload": ref,
            "bindings": {
                "amqp": {
                    "messageType": cls.TYPE,
                    "contentEncoding": "utf-8",
                    "bindingVersion": "0.3.0",
                }
            },
        }
    return out


def _channels(events: list[type[Event]]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for cls in events:
        ref = {"$ref": f"#/components/messages/{message_name(cls)}"}
        if cls is MuxWebhookReceived:
            channels[MUX_CHANNEL] = {
                "address": "{mux_event_type}",
                "title": f"exchange {MUX_WEBHOOKS_EXCHANGE}",
                "description": "Every verified Mux webhook; routing key = Mux's event type.",
                "parameters": {
                    "mux_event_type": {
                        "description": "Mux's event type",
                        "examples": ["video.live_stream.active", "video.asset.ready"],
                    }
                },
                "messages": {message_name(cls): ref},
                "bindings": _exchange(MUX_WEBHOOKS_EXCHANGE),
            }
            continue
        channels[message_name(cls)] = {
            "address": cls.routing_key(),
            "title": f"{cls.TYPE} v{cls.VERSION} on {LIVE_EVENTS_EXCHANGE}",
            "messages": {message_name(cls): ref},
            "bindings": _exchange(LIVE_EVENTS_EXCHANGE),
        }
    return channels


def _receives(events: list[type[Event]]) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for service, queues in consumers().items():
        for queue, dispatcher, per_instance in queues:
            patterns = [b.key for b in dispatcher.bindings if b.exchange == LIVE]
            mux = [b.key for b in dispatcher.bindings if b.exchange == MUX]
            where = (
                "its instance's exclusive, auto-deleted queue"
                if per_instance
                else f"the durable quorum queue (instances compete; dead letters to "
                f"`{queue}.dlq` via `{DEAD_LETTER_EXCHANGE}`)"
            )
            for cls in events:
                if cls is MuxWebhookReceived:
                    if not mux:
                        continue
                    keys = ", ".join(f"`{k}`" for k in mux)
                elif f"{cls.TYPE}.*" in patterns:
                    keys = f"`{cls.TYPE}.*`"
                else:
                    continue
                ops[f"{queue}.receive.{channel_id(cls)}"] = {
                    "action": "receive",
                    "summary": f"{service} consumes {message_name(cls)}",
                    "description": f"Queue `{queue}` ({where}), bound with {keys}.",
                    "channel": {"$ref": f"#/channels/{channel_id(cls)}"},
                    "messages": [
                        {"$ref": f"#/channels/{channel_id(cls)}/messages/{message_name(cls)}"}
                    ],
                }
    return ops


def _sends() -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for service, classes in publishers().items():
        for cls in sorted(classes, key=message_name):
            exchange = MUX_WEBHOOKS_EXCHANGE if cls is MuxWebhookReceived else LIVE_EVENTS_EXCHANGE
            ops[f"{service}.send.{channel_id(cls)}"] = {
                "action": "send",
                "summary": f"{service} publishes {message_name(cls)}",
                "description": (
                    f"Persistent, with publisher confirms, on `{exchange}`; "
                    "`message_id` = the envelope's event_id (consumers dedupe on it)."
                ),
                "channel": {"$ref": f"#/channels/{channel_id(cls)}"},
                "messages": [
                    {"$ref": f"#/channels/{channel_id(cls)}/messages/{message_name(cls)}"}
                ],
            }
    return ops


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document as a dict."""
    by_event, defs = _schemas()
    events = list(by_event)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "livecast events",
            "version": "1",
            "description": (
                "Events between livecast's services on RabbitMQ. Generated from libs/contracts "
                "and the services' consumers by `make asyncapi` (scripts/gen_asyncapi.py); do "
                "not edit. Every message is a JSON envelope (event_id, event_type, occurred_at, "
                "producer, schema_version, correlation_id, payload)."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "pathname": "/",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "Exchange and queue names carry LIVECAST_NAMESPACE as a prefix "
                "(empty in production).",
            }
        },
        "channels": _channels(events),
        "operations": {**_sends(), **_receives(events)},
        "components": {"messages": _messages(by_event), "schemas": defs},
    }


def render() -> str:
    header = "# Generated by scripts/gen_asyncapi.py (make asyncapi) from the code; do not edit.\n"
    return header + yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None, *, write: Callable[[str], None] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/asyncapi.yaml is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            sys.stderr.write("docs/asyncapi.yaml is stale: run `make asyncapi`\n")
            return 1
        return 0
    OUT.parent.mkdir(exist_ok=True)
    (write or OUT.write_text)(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
