"""The web client's vendored libraries (``clients/web/vendor``) are the files their README names:
each listed file exists, matches the recorded sha256 and has its licence beside it; every
module the pages import from ``vendor/`` is listed (issue 21: Mux Player replaced hls.js)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "clients" / "web"
VENDOR = WEB / "vendor"
ROW = re.compile(r"^\| `([^`]+)` \|.*\| [^|]*\(`([^`]+)`\) \| `([0-9a-f]{64})` \|$", re.M)


def listed() -> dict[str, tuple[str, str]]:
    """file -> (licence file, sha256) from the README's table."""
    return {m[1]: (m[2], m[3]) for m in ROW.finditer((VENDOR / "README.md").read_text())}


def test_every_listed_file_matches_its_checksum_and_has_its_licence() -> None:
    rows = listed()
    assert "mux-player.mjs" in rows
    for name, (licence, sha256) in rows.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha256, name
        assert (VENDOR / licence).is_file(), licence


def test_every_vendored_import_of_the_pages_is_listed() -> None:
    imported = {
        m[1]
        for js in (WEB / "js").rglob("*.js")
        for m in re.finditer(r"""import [^;]*?["'](?:\.\./)+vendor/([^"']+)["']""", js.read_text())
    }
    assert imported == {"mux-player.mjs"}
    assert imported <= set(listed())
    scripts = {p.name for p in VENDOR.iterdir() if p.suffix in (".js", ".mjs")}
    assert scripts <= set(listed()), f"vendored but not listed: {scripts - set(listed())}"
