"""The simulator serves real video (an ffmpeg test pattern) at the playback URLs it hands out."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from mux_sim.config import SimConfig
from mux_sim.testing import running_simulator


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is installed by `make run`'s set-up"
)
async def test_playlist_and_segments_are_real_hls(tmp_path: Path) -> None:
    async with (
        running_simulator(SimConfig(hls_dir=tmp_path / "hls")) as sim,
        httpx.AsyncClient(base_url=sim.base_url, timeout=60) as http,
    ):
        r = await http.get("/hls/PLAYBACK123.m3u8")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
        lines = r.text.splitlines()
        assert lines[0] == "#EXTM3U"
        assert "#EXT-X-ENDLIST" in lines
        segments = [line for line in lines if line and not line.startswith("#")]
        assert len(segments) >= 10
        assert segments[0] == "/hls/seg/PLAYBACK123/seg000.ts"
        seg = await http.get(segments[0])
        assert seg.status_code == 200
        assert seg.content[0] == 0x47  # MPEG-TS sync byte
        assert (await http.get("/hls/seg/PLAYBACK123/../../etc.ts")).status_code == 404


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="ffmpeg is installed by `make run`'s set-up"
)
async def test_thumbnail_is_a_real_jpeg_of_the_test_pattern(tmp_path: Path) -> None:
    async with (
        running_simulator(SimConfig(hls_dir=tmp_path / "hls")) as sim,
        httpx.AsyncClient(base_url=sim.base_url, timeout=60) as http,
    ):
        r = await http.get("/image/PLAYBACK123/thumbnail.jpg")
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert r.content[:3] == b"\xff\xd8\xff"  # JPEG SOI marker
        assert r.content[-2:] == b"\xff\xd9"  # EOI
        assert len(r.content) > 2000  # a picture, not an empty frame
        again = await http.get("/image/OTHER/thumbnail.jpg")
        assert again.content == r.content
