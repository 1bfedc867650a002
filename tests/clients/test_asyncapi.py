"""``docs/asyncapi.yaml`` is generated from the code, is valid AsyncAPI 3.0 and must not go stale."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from faststream.specification.asyncapi.v3_0_0.schema import ApplicationSchema

from contracts import make_envelope
from contracts.envelope import known_events
from contracts.stream import StreamStarted
from contracts.webhook import MuxWebhookReceived

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "asyncapi.yaml"


def doc() -> dict[str, Any]:
    data = yaml.safe_load(DOC.read_text())
    assert isinstance(data, dict)
    return data


def test_checked_in_document_matches_the_code() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_asyncapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_is_an_asyncapi_3_document_whose_references_all_resolve() -> None:
    data = doc()
    assert data["asyncapi"] == "3.0.0"
    ApplicationSchema.model_validate(data)

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(data):
        node: Any = data
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved {ref}"
            node = node[part]


def test_every_event_has_its_channel_routing_key_and_a_publisher() -> None:
    data = doc()
    sends = {op["channel"]["$ref"] for op in data["operations"].values() if op["action"] == "send"}
    for (event_type, version), cls in known_events().items():
        if not cls.__module__.startswith("contracts."):
            continue  # an event class some test defined in this process
        channel = "mux.webhooks" if cls is MuxWebhookReceived else f"{event_type}.v{version}"
        assert channel in data["channels"], channel
        if channel != "mux.webhooks":
            assert data["channels"][channel]["address"] == cls.routing_key()
        assert f"#/channels/{channel}" in sends, f"nobody publishes {channel}"


def test_consumers_are_the_services_bindings() -> None:
    ops = doc()["operations"]
    receives = {name for name, op in ops.items() if op["action"] == "receive"}
    assert "notifier.receive.stream.started.v1" in receives
    assert "notifier.receive.mux.webhooks" not in receives  # stream-svc is the one authority
    assert "stream-svc.receive.mux.webhooks" in receives
    assert "chat-gateway.fanout.{instance_id}.receive.chat.message_posted.v1" in receives
    assert "viewer-svc.receive.chat.message_posted.v1" not in receives
    assert "video.asset.*" in ops["stream-svc.receive.mux.webhooks"]["description"]


def test_a_real_envelope_validates_against_its_payload_schema() -> None:
    data = doc()
    envelope = make_envelope(
        StreamStarted(
            stream_id="s1",
            owner_id="o",
            title="t",
            playback_url="https://p",
            started_at=datetime.now(UTC),
        ),
        producer="stream-svc",
        correlation_id=uuid.uuid4().hex,
    )
    payload = data["components"]["messages"]["stream.started.v1"]["payload"]
    schema = {**data, **payload}
    jsonschema.validate(envelope.model_dump(mode="json"), schema)
    bad = envelope.model_dump(mode="json")
    del bad["payload"]["stream_id"]
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("an envelope without stream_id validated")
