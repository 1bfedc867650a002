"""``clients/types/api.ts`` is generated from the contracts and must not go stale."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API_TS = ROOT / "clients" / "types" / "api.ts"


def test_checked_in_types_match_the_contracts() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_types.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def interface(name: str) -> dict[str, str]:
    """Fields of ``export interface <name> {...}`` as name -> TypeScript type."""
    match = re.search(rf"export interface {name} \{{\n(.*?)\n\}}", API_TS.read_text(), re.S)
    assert match, f"no interface {name}"
    body = re.sub(r"/\*\*.*?\*/", "", match.group(1), flags=re.S)
    fields = re.findall(r"^\s*(\w+)(\??): (.+?);$", body, re.M)
    return {f"{n}{opt}": t for n, opt, t in fields}


def test_the_plans_five_interfaces_keep_their_names_and_fields() -> None:
    assert interface("CreateLiveStreamRequest") == {
        "title": "string",
        "description?": "string | null",
        "thumbnail?": "string | null",
    }
    assert interface("CreateLiveStreamResponse") == {
        "stream_id": "string",
        "stream_key": "string",
        "rtmp_url": "string",
        "playback_url": "string",
    }
    assert interface("JoinLiveStreamResponse") == {
        "playback_url": "string",
        "viewer_count": "number",
        "status": '"idle" | "active" | "ended"',
    }
    assert interface("SendLiveChatRequest") == {"message": "string"}
    assert interface("SendGiftRequest") == {"gift_type": "string", "amount": "number"}


def test_frames_are_discriminated_unions() -> None:
    text = API_TS.read_text()
    client = re.search(r"export type ClientFrame =(.*?);", text, re.S)
    assert client
    assert {"ChatSend", "ChatDelete", "SlowModeSet", "FollowersOnlySet", "Ping"} <= set(
        re.findall(r"\w+", client.group(1))
    )
    assert interface("ChatSend")["type"] == '"chat.send"'  # required: it is the discriminator
    assert interface("Hello")["type"] == '"hello"'
    server = re.search(r"export type ServerFrame =(.*?);", text, re.S)
    assert server
    assert {
        "Hello",
        "ChatMessageFrame",
        "GiftFrame",
        "ModerationFrame",
        "FollowersOnlyFrame",
    } <= set(re.findall(r"\w+", server.group(1)))
