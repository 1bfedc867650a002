"""The simulated Mux environment: live streams, assets and the encoder lifecycle.

Live stream lifecycle as Mux runs it (and sends webhooks for):
``created`` -> encoder connects: ``connected``, ``recording``, ``active`` (a live asset is
created: ``video.asset.created``) -> encoder drops: ``disconnected`` -> the encoder does not
come back within ``reconnect_window`` seconds: ``idle``, and the recording is finalised:
``video.asset.live_stream_completed``, ``video.asset.ready``. A reconnect inside the window goes
back to ``active`` on the same asset. ``complete`` ends the recording at once.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ALPHABET = string.ascii_letters + string.digits

Emit = Callable[[str, str, dict[str, Any]], object]


def mux_id(n: int = 43) -> str:
    """An id shaped like Mux's (base62)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def stream_key() -> str:
    return "-".join(secrets.token_hex(n) for n in (4, 2, 2, 2, 6))


class NotFound(Exception):
    pass


@dataclass
class LiveStream:
    id: str
    stream_key: str
    passthrough: str | None
    playback_ids: list[dict[str, str]]
    new_asset_settings: dict[str, Any] | None
    reconnect_window: float
    latency_mode: str
    created_at: int
    status: str = "idle"  # idle | active | disabled
    connected: bool = False
    active_asset_id: str | None = None
    recent_asset_ids: list[str] = field(default_factory=list)
    generation: int = 0  # bumps on every connect/disconnect, cancels stale timers
    seq: int = 0  # creation order (Mux lists newest first; created_at has 1 s resolution)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_mux(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "created_at": str(self.created_at),
            "stream_key": self.stream_key,
            "status": self.status,
            "playback_ids": self.playback_ids,
            "reconnect_window": self.reconnect_window,
            "latency_mode": self.latency_mode,
            "max_continuous_duration": 43200,
            "recent_asset_ids": list(self.recent_asset_ids),
            **self.extra,
        }
        if self.new_asset_settings is not None:
            data["new_asset_settings"] = self.new_asset_settings
        if self.passthrough is not None:
            data["passthrough"] = self.passthrough
        if self.active_asset_id:
            data["active_asset_id"] = self.active_asset_id
        return data


@dataclass
class Asset:
    id: str
    live_stream_id: str
    passthrough: str | None
    playback_ids: list[dict[str, str]]
    created_at: int
    status: str = "preparing"
    started_at: float = field(default_factory=time.monotonic)
    duration: float | None = None

    def to_mux(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "created_at": str(self.created_at),
            "status": self.status,
            "live_stream_id": self.live_stream_id,
            "is_live": self.status == "preparing",
            "playback_ids": self.playback_ids,
            "mp4_support": "none",
            "master_access": "none",
            "video_quality": "plus",
        }
        if self.passthrough is not None:
            data["passthrough"] = self.passthrough
        if self.duration is not None:
            data["duration"] = round(self.duration, 3)
            data["max_stored_resolution"] = "HD"
            data["aspect_ratio"] = "16:9"
        return data


def now_unix() -> int:
    return int(datetime.now(UTC).timestamp())


class Environment:
    """Live streams and assets of one simulated Mux environment; ``emit`` sends webhooks."""

    def __init__(
        self,
        emit: Emit,
        *,
        reconnect_override: Callable[[], float | None],
        asset_ready_delay: Callable[[], float],
    ) -> None:
        self.streams: dict[str, LiveStream] = {}
        self.assets: dict[str, Asset] = {}
        self._emit = emit
        self._reconnect_override = reconnect_override
        self._asset_ready_delay = asset_ready_delay
        self._timers: set[asyncio.Task[None]] = set()
        self._seq = 0

    # ---- API ------------------------------------------------------------------------------

    def create(self, body: dict[str, Any]) -> LiveStream:
        policies = body.get("playback_policies") or body.get("playback_policy") or []
        if isinstance(policies, str):
            policies = [policies]
        nas = body.get("new_asset_settings")
        if isinstance(nas, dict):
            nas = dict(nas)
            asset_policies = nas.pop("playback_policy", None) or nas.get("playback_policies")
            if asset_policies is not None:
                nas["playback_policies"] = (
                    [asset_policies] if isinstance(asset_policies, str) else asset_policies
                )
        latency = body.get("latency_mode") or ("low" if body.get("low_latency") else "standard")
        stream = LiveStream(
            id=mux_id(),
            stream_key=stream_key(),
            passthrough=body.get("passthrough"),
            playback_ids=[{"id": mux_id(), "policy": p} for p in policies],
            new_asset_settings=nas,
            reconnect_window=float(body.get("reconnect_window", 60)),
            latency_mode=latency,
            created_at=now_unix(),
            extra={k: body[k] for k in ("test", "audio_only") if k in body},
        )
        self._seq += 1
        stream.seq = self._seq
        self.streams[stream.id] = stream
        self._emit("video.live_stream.created", "live_stream", stream.to_mux())
        return stream

    def get(self, live_stream_id: str) -> LiveStream:
        try:
            return self.streams[live_stream_id]
        except KeyError:
            raise NotFound(live_stream_id) from None

    def delete(self, live_stream_id: str) -> None:
        stream = self.get(live_stream_id)
        if stream.connected:
            self._end_recording(stream)
        del self.streams[live_stream_id]
        self._emit("video.live_stream.deleted", "live_stream", stream.to_mux())

    def complete(self, live_stream_id: str) -> None:
        stream = self.get(live_stream_id)
        if stream.status == "active":
            stream.connected = False
            self._go_idle(stream)

    def disable(self, live_stream_id: str) -> None:
        stream = self.get(live_stream_id)
        if stream.status == "active":
            stream.connected = False
            self._emit("video.live_stream.disconnected", "live_stream", stream.to_mux())
            self._go_idle(stream)
        stream.status = "disabled"
        self._emit("video.live_stream.disabled", "live_stream", stream.to_mux())

    def enable(self, live_stream_id: str) -> None:
        stream = self.get(live_stream_id)
        if stream.status == "disabled":
            stream.status = "idle"
            self._emit("video.live_stream.enabled", "live_stream", stream.to_mux())

    def reset_stream_key(self, live_stream_id: str) -> LiveStream:
        stream = self.get(live_stream_id)
        stream.stream_key = stream_key()
        self._emit("video.live_stream.updated", "live_stream", stream.to_mux())
        return stream

    # ---- encoder ---------------------------------------------------------------------------

    def connect(self, live_stream_id: str) -> LiveStream:
        """An encoder starts pushing with the stream key."""
        stream = self.get(live_stream_id)
        if stream.status == "disabled":
            raise PermissionError("live stream is disabled")
        if stream.connected:
            return stream
        stream.connected = True
        stream.generation += 1
        self._emit("video.live_stream.connected", "live_stream", stream.to_mux())
        self._emit("video.live_stream.recording", "live_stream", stream.to_mux())
        if stream.active_asset_id is None:
            asset = Asset(
                id=mux_id(),
                live_stream_id=stream.id,
                passthrough=(stream.new_asset_settings or {}).get("passthrough"),
                playback_ids=[
                    {"id": mux_id(), "policy": p}
                    for p in (stream.new_asset_settings or {}).get("playback_policies", ["public"])
                ],
                created_at=now_unix(),
            )
            self.assets[asset.id] = asset
            stream.active_asset_id = asset.id
            stream.recent_asset_ids.append(asset.id)
            stream.status = "active"
            self._emit("video.live_stream.active", "live_stream", stream.to_mux())
            self._emit("video.asset.created", "asset", asset.to_mux())
        else:
            stream.status = "active"
            self._emit("video.live_stream.active", "live_stream", stream.to_mux())
        return stream

    def disconnect(self, live_stream_id: str) -> LiveStream:
        """The encoder stops; after the reconnect window without a reconnect the stream idles."""
        stream = self.get(live_stream_id)
        if not stream.connected:
            return stream
        stream.connected = False
        stream.generation += 1
        self._emit("video.live_stream.disconnected", "live_stream", stream.to_mux())
        window = self._reconnect_override()
        window = stream.reconnect_window if window is None else window
        self._later(window, stream, stream.generation, self._go_idle)
        return stream

    # ---- internals -------------------------------------------------------------------------

    def _later(
        self, delay: float, stream: LiveStream, generation: int, fn: Callable[[LiveStream], None]
    ) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            if stream.generation == generation and stream.id in self.streams:
                fn(stream)

        task = asyncio.get_running_loop().create_task(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    def _go_idle(self, stream: LiveStream) -> None:
        if stream.status != "active":
            return
        stream.status = "idle"
        self._emit("video.live_stream.idle", "live_stream", stream.to_mux())
        self._end_recording(stream)

    def _end_recording(self, stream: LiveStream) -> None:
        asset_id = stream.active_asset_id
        stream.active_asset_id = None
        if asset_id is None:
            return
        asset = self.assets[asset_id]
        asset.duration = max(0.0, time.monotonic() - asset.started_at)
        self._emit("video.asset.live_stream_completed", "asset", asset.to_mux())

        async def ready() -> None:
            await asyncio.sleep(self._asset_ready_delay())
            asset.status = "ready"
            self._emit("video.asset.ready", "asset", asset.to_mux())

        task = asyncio.get_running_loop().create_task(ready())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def close(self) -> None:
        for task in list(self._timers):
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
