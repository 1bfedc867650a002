"""Export JSON Schema for every contract: ``livecast-schemas [OUT_DIR]``.

Writes ``events/<type>.v<N>.json`` (the full envelope with that payload), ``rest/<Model>.json``,
``ws/client.json``, ``ws/server.json`` and ``index.json`` (one combined document whose
``$defs`` hold every model, used to generate the TypeScript types).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import contracts
from contracts.common import ApiModel, ResponseModel
from contracts.envelope import Envelope, known_events
from contracts.ws import client_frame_adapter, server_frame_adapter


def rest_models() -> dict[str, type[BaseModel]]:
    """Every REST request/response model defined in the contracts package, by class name."""
    found: dict[str, type[BaseModel]] = {}
    for module in (
        contracts.stream,
        contracts.moderation,
        contracts.viewer,
        contracts.chat,
        contracts.notification,
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
    sys.stdout.write(f"wrote {len(schemas)} schemas to {args.out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
