"""stream-svc is the one authority on a stream's lifecycle (issue 16, section 4): no other
service consumes raw Mux webhooks, so none can act on a stream stream-svc ended or deleted (a late
``video.live_stream.active``) or miss one whose events carry no passthrough."""

from __future__ import annotations

from typing import Any

from chat_gateway.entrypoints.consumers import fanout_dispatcher, projection_dispatcher
from notifier.entrypoints.consumers import build_dispatcher as notifier_dispatcher
from servicekit.broker import MUX
from servicekit.consumer import EventDispatcher
from stream_svc.entrypoints.consumers import build_dispatcher as stream_dispatcher
from viewer_svc.entrypoints.consumers import build_dispatcher as viewer_dispatcher


def _unused() -> Any:
    raise AssertionError("not called while building bindings")


def mux_bindings(dispatcher: EventDispatcher) -> list[str]:
    return [b.key for b in dispatcher.bindings if b.exchange == MUX]


def test_only_stream_svc_consumes_mux_webhooks() -> None:
    others = {
        "viewer-svc": viewer_dispatcher(_unused),
        "notifier": notifier_dispatcher(_unused, _unused),
        "chat-gateway projection": projection_dispatcher(_unused, _unused),
        "chat-gateway fan-out": fanout_dispatcher(_unused, _unused),
    }
    assert {name: mux_bindings(d) for name, d in others.items()} == {n: [] for n in others}
    assert set(mux_bindings(stream_dispatcher(_unused))) == {"video.live_stream.*", "video.asset.*"}
