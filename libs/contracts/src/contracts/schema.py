"""Export JSON Schema for every contract: ``livecast-schemas [OUT_DIR]``.

Writes ``events/<type>.v<N>.json`` (the full envelope with that payload), ``rest/<Model>.json``,
``ws/client.json``, ``ws/server.json``, ``index.json`` (the list of files) and ``api.json`` (one
document whose ``$defs`` hold every REST body and WebSocket frame, the input of
``clients/types/api.ts``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

import contracts
from contracts.chat import ChatMessage
from contracts.common import ApiModel, ErrorBody, Page, ResponseModel
from contracts.envelope import Envelope, known_events
from contracts.moderation import ModerationLogEntry
from contracts.notification import FollowingEntry, NotificationView
from contracts.stream import LiveStreamSummary
from contracts.ws import ClientFrame, ServerFrame, client_frame_adapter, server_frame_adapter


def rest_models() -> dict[str, type[BaseModel]]:
    """Every REST request/response model defined in the contracts package, by class name."""
    found: dict[str, type[BaseModel]] = {}
    for module in (
        contracts.stream,
        contracts.moderation,
        contracts.viewer,
        contracts.chat,
        contracts.followers,
        contracts.notification,
        contracts.blocked_terms,
        contracts.pins,
    ):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, ApiModel | ResponseModel)
                and value not in (ApiModel, ResponseModel)
                and value.__module__ == module.__name__
            ):
                found[value.__name__] = value
    return dict(sorted(found.items()))


def all_schemas() -> dict[str, dict[str, Any]]:
    """Relative file name -> JSON Schema."""
    out: dict[str, dict[str, Any]] = {}
    for (event_type, version), cls in sorted(known_events().items()):
        schema = Envelope[cls].model_json_schema()  # type: ignore[valid-type]
        schema["title"] = f"{event_type}.v{version}"
        out[f"events/{event_type}.v{version}.json"] = schema
    for name, model in rest_models().items():
        out[f"rest/{name}.json"] = model.model_json_schema()
    out["ws/client.json"] = client_frame_adapter.json_schema()
    out["ws/server.json"] = server_frame_adapter.json_schema()
    return out


def _frames(union: Any) -> list[type[BaseModel]]:
    """The frame classes of a discriminated union ``Annotated[A | B | ..., Field(...)]``."""
    return list(get_args(get_args(union)[0]))


def _drop_titles(node: Any) -> None:
    """Drop ``title`` from a schema and its subschemas (not from a ``properties`` mapping, where
    ``title`` may be a field's name)."""
    if isinstance(node, list):
        for value in node:
            _drop_titles(value)
    elif isinstance(node, dict):
        node.pop("title", None)
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _drop_titles(sub)
            else:
                _drop_titles(value)


def api_schema() -> dict[str, Any]:
    """One document whose ``$defs`` hold every REST body, page, error and WebSocket frame
    (requests and client frames as accepted, responses and server frames as sent), plus the
    ``ClientFrame``/``ServerFrame`` unions: the input of the TypeScript types."""
    pages: list[type[BaseModel]] = [
        Page[LiveStreamSummary],
        Page[ChatMessage],
        Page[NotificationView],
        Page[ModerationLogEntry],
        Page[FollowingEntry],
    ]
    inputs: list[type[BaseModel]] = [
        m for m in rest_models().values() if issubclass(m, ApiModel)
    ] + _frames(ClientFrame)
    outputs: list[type[BaseModel]] = [
        m for m in rest_models().values() if not issubclass(m, ApiModel)
    ] + [*pages, ErrorBody, *_frames(ServerFrame)]
    _, schema = models_json_schema(
        [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs],
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = {
        name.replace("Page_", "Page").rstrip("_"): value for name, value in schema["$defs"].items()
    }
    for frame in _frames(ClientFrame):  # the discriminator: a client must always send it
        required = defs[frame.__name__].setdefault("required", [])
        required[:0] = [] if "type" in required else ["type"]
    for name, union in (("ClientFrame", ClientFrame), ("ServerFrame", ServerFrame)):
        defs[name] = {
            "title": name,
            "description": f"Any {name[:6].lower()} -> {'server' if name[0] == 'C' else 'client'} "
            "WebSocket frame of WS /ws/live/{stream_id}, discriminated by `type`.",
            "oneOf": [{"$ref": f"#/$defs/{m.__name__}"} for m in _frames(union)],
        }
    for name, value in defs.items():
        _drop_titles(value)  # property titles would become one type alias per field
        value["title"] = name
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "LivecastApi",
        "description": "Every REST body and WebSocket frame of livecast, by name.",
        "type": "object",
        "properties": {name: {"$ref": f"#/$defs/{name}"} for name in sorted(defs)},
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }
    # references to the renamed generic pages (Page_X_ -> PageX)
    text = re.sub(r"#/\$defs/Page_(\w+?)_\"", r'#/$defs/Page\1"', json.dumps(document))
    result: dict[str, Any] = json.loads(text)
    return result


def main(argv: list[str] | None = None) -> int:
    """Write every schema under the output directory (default ``./schemas``)."""
    parser = argparse.ArgumentParser(prog="livecast-schemas", description=__doc__)
    parser.add_argument("out", nargs="?", default="schemas", type=Path)
    args = parser.parse_args(argv)
    schemas = all_schemas()
    for rel, schema in schemas.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    index = {"$schema": "https://json-schema.org/draft/2020-12/schema", "files": sorted(schemas)}
    (args.out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    (args.out / "api.json").write_text(json.dumps(api_schema(), indent=2) + "\n")
    sys.stdout.write(f"wrote {len(schemas)} schemas to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
