"""Golden samples: one stored payload per released event version, parsed with today's models.

A change that breaks an old payload fails here. Deleting a sample is a breaking change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import Envelope, known_events, parse_envelope
from contracts.envelope import UnknownEventError

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("*.json"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_sample_parses_into_its_event_class(path: Path) -> None:
    raw = json.loads(path.read_text())
    envelope = parse_envelope(path.read_bytes())
    cls = known_events()[(raw["event_type"], raw["schema_version"])]
    assert isinstance(envelope.payload, cls)
    assert f"{envelope.event_type}.v{envelope.schema_version}" == path.stem
    # every field in the sample survives the round trip
    dumped = envelope.payload.model_dump(mode="json")
    for key, value in raw["payload"].items():
        assert key in dumped, f"{path.name}: field {key} dropped by the model"
        assert json.loads(json.dumps(dumped[key])) == value or isinstance(value, str)


def test_every_event_has_a_golden_sample() -> None:
    have = {p.stem for p in SAMPLE_FILES}
    want = {
        f"{t}.v{v}"
        for (t, v), cls in known_events().items()
        if cls.__module__.startswith("contracts.")  # not events defined by tests
    }
    assert want <= have, f"events without a sample: {sorted(want - have)}"


def test_envelope_round_trips_through_json() -> None:
    path = SAMPLES / "stream.started.v1.json"
    envelope = parse_envelope(path.read_bytes())
    again = parse_envelope(envelope.model_dump_json())
    assert again == envelope
    assert isinstance(again, Envelope)


def test_unknown_event_type_is_refused() -> None:
    raw = json.loads((SAMPLES / "stream.started.v1.json").read_text())
    raw["event_type"] = "stream.exploded"
    with pytest.raises(UnknownEventError):
        parse_envelope(raw)


def test_payload_missing_a_required_field_is_refused() -> None:
    raw = json.loads((SAMPLES / "stream.started.v1.json").read_text())
    del raw["payload"]["owner_id"]
    with pytest.raises(ValidationError):
        parse_envelope(raw)


def test_unknown_payload_fields_are_ignored_by_tolerant_readers() -> None:
    raw = json.loads((SAMPLES / "viewer.joined.v1.json").read_text())
    raw["payload"]["new_optional_field"] = 1
    assert parse_envelope(raw).payload.model_dump()["account_id"] == "acct_bob"


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"event_type": "x"}'])
def test_malformed_envelopes_are_refused(body: bytes) -> None:
    with pytest.raises((UnknownEventError, ValidationError)):
        parse_envelope(body)
