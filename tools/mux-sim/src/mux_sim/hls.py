"""Real video at the playback URLs the simulator hands out: an HLS test pattern (colour bars,
a running clock and a tone) generated once, locally, with ffmpeg, and served for every playback
id. Without ffmpeg the playlist answers 503 saying so."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

PLAYLIST = "index.m3u8"
THUMBNAIL = "thumbnail.jpg"
OVERLAY = (
    "drawtext=text='livecast mux-sim %{pts\\:hms}':x=20:y=20:fontsize=28:fontcolor=white"
    ":box=1:boxcolor=black@0.5"
)


class TestPattern:
    def __init__(self, directory: Path | None = None, seconds: int = 60) -> None:
        self.dir = directory or Path(tempfile.gettempdir()) / "mux-sim-hls"
        self.seconds = seconds
        self._lock = asyncio.Lock()

    @property
    def available(self) -> bool:
        return shutil.which("ffmpeg") is not None

    async def ensure(self) -> Path | None:
        """The playlist, generated on first use; ``None`` without ffmpeg or if generation failed."""
        playlist = self.dir / PLAYLIST
        if playlist.exists():
            return playlist
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            return None
        async with self._lock:
            if playlist.exists():
                return playlist
            self.dir.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(dir=self.dir.parent, prefix="hls-"))
            proc = await asyncio.create_subprocess_exec(
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size=640x360:rate=25:duration={self.seconds}",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:sample_rate=44100:duration={self.seconds}",
                "-vf",
                OVERLAY,
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-tune",
                "zerolatency",
                "-g",
                "50",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-f",
                "hls",
                "-hls_time",
                "2",
                "-hls_list_size",
                "0",
                "-hls_playlist_type",
                "vod",
                "-hls_segment_filename",
                str(work / "seg%03d.ts"),
                str(work / PLAYLIST),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                # drawtext needs a font; retry without the overlay
                log.warning(
                    "ffmpeg with overlay failed (%s); retrying without it", err.decode()[-200:]
                )
                return await self._plain(ffmpeg, work)
            self._publish(work)
        return playlist

    async def _plain(self, ffmpeg: str, work: Path) -> Path | None:
        proc = await asyncio.create_subprocess_exec(
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=640x360:rate=25:duration={self.seconds}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=44100:duration={self.seconds}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "50",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "64k",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_list_size",
            "0",
            "-hls_playlist_type",
            "vod",
            "-hls_segment_filename",
            str(work / "seg%03d.ts"),
            str(work / PLAYLIST),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            log.error("ffmpeg could not generate the test pattern: %s", err.decode()[-300:])
            return None
        self._publish(work)
        return self.dir / PLAYLIST

    def _publish(self, work: Path) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        work.rename(self.dir)

    async def thumbnail(self) -> Path | None:
        """A JPEG of the test pattern's first frame (Mux's ``thumbnail.jpg``), made once from the
        generated video; ``None`` without ffmpeg."""
        image = self.dir / THUMBNAIL
        if image.exists():
            return image
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None or await self.ensure() is None:
            return None
        async with self._lock:
            if image.exists():
                return image
            partial = self.dir / f".{THUMBNAIL}.part.jpg"
            proc = await asyncio.create_subprocess_exec(
                ffmpeg,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(self.dir / "seg000.ts"),
                "-frames:v",
                "1",
                "-q:v",
                "4",
                str(partial),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await proc.communicate()
            if proc.returncode != 0:
                log.error("ffmpeg could not make the thumbnail: %s", err.decode()[-300:])
                return None
            partial.rename(image)
        return image

    def segment(self, name: str) -> Path | None:
        if "/" in name or not name.endswith(".ts"):
            return None
        path = self.dir / name
        return path if path.is_file() else None
