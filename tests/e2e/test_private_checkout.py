"""The stack from a checkout in a private (0700) folder whose path has spaces, non-ASCII letters
and more bytes than a Unix socket path may hold: the gateway serves the web client and the
simulator's HLS from it (nginx's workers used to run as ``nobody`` and answer 403)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from testkit.stack import OFFSET, ROOT, Stack, running_stack
from testkit.wait import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    private = tmp_path_factory.mktemp("private")
    private.chmod(0o700)
    root = private / "my clone é" / ("long-folder-name-" * 4) / "livecast"
    assert len(str(root).encode()) > 107
    for part in ("scripts", "deploy", "clients"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("node_modules"))
    # +50: between the shared test stack's ports (OFFSET) and the next stack's
    with running_stack(OFFSET + 50, root=root) as stack:
        yield stack


async def test_the_web_client_and_video_are_served_from_a_private_folder(
    private_stack: Stack,
) -> None:
    stack = private_stack
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=20) as api:
        page = await api.get("/app/")
        assert page.status_code == 200, page.text
        assert "<html" in page.text
        script = await api.get("/app/js/app.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")

        r = await api.post("/live", json={"title": "private"}, headers=stack.auth("streamer"))
        assert r.status_code == 201, r.text
        created = r.json()
        async with httpx.AsyncClient(base_url=stack.sim, timeout=20) as sim:
            sid = created["stream_id"]
            assert (await sim.post(f"/_sim/passthrough/{sid}/connect")).status_code == 200

        async def playing() -> bool:
            playlist = await api.get(httpx.URL(created["playback_url"]).path)
            return playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")

        await eventually(playing, within=30)
        playlist = (await api.get(httpx.URL(created["playback_url"]).path)).text
        media = next(line for line in playlist.splitlines() if line and not line.startswith("#"))
        base = httpx.URL(created["playback_url"]).join(media)
        segment = await api.get(base.path)
        assert segment.status_code == 200
        assert segment.content
