"""Generate ``clients/types/api.ts`` from ``libs/contracts`` (JSON Schema -> TypeScript).

    python scripts/gen_types.py           # rewrite clients/types/api.ts
    python scripts/gen_types.py --check   # exit 1 if the checked-in file is stale

The JSON Schema comes from ``contracts.schema.api_schema()`` (every REST body and WebSocket
frame); ``json-schema-to-typescript`` (pinned in ``clients/types/package-lock.json``) turns it
into TypeScript. The npm package is installed on first use with ``npm ci``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from contracts.schema import api_schema

ROOT = Path(__file__).resolve().parents[1]
TYPES = ROOT / "clients" / "types"
OUT = TYPES / "api.ts"
BANNER = (
    "/* Generated from libs/contracts by `make types` (scripts/gen_types.py); do not edit.\n"
    " * Every REST body and WebSocket frame of livecast. Times are ISO 8601 strings. */"
)


def json2ts() -> Path:
    binary = TYPES / "node_modules" / ".bin" / "json2ts"
    if not binary.exists():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("gen_types: npm is needed (Debian: apt-get install npm)")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TYPES, check=True
        )
    return binary


def generate() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        schema, out = Path(tmp) / "api.json", Path(tmp) / "api.ts"
        schema.write_text(json.dumps(api_schema(), indent=2))
        subprocess.run(
            [
                str(json2ts()),
                "-i",
                str(schema),
                "-o",
                str(out),
                "--additionalProperties",
                "false",
                "--bannerComment",
                BANNER,
            ],
            check=True,
        )
        return out.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if api.ts is stale")
    args = parser.parse_args()
    fresh = generate()
    if args.check:
        if not OUT.exists() or OUT.read_text() != fresh:
            print(f"{OUT.relative_to(ROOT)} is stale: run 'make types' and commit it")
            return 1
        print(f"{OUT.relative_to(ROOT)} is up to date")
        return 0
    OUT.write_text(fresh)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
