"""The simulator's HTTP surface.

``/video/v1/live-streams...``: the Mux Video API subset (HTTP Basic auth with the token id and
secret, Mux's status codes and error body ``{"error": {"type", "messages"}}``).
``/_sim/...``: operator endpoints (no auth; a local tool): drive the encoder, change knobs,
inject API faults, read the delivery log, wait for deliveries to settle.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from mux_sim.config import Knobs, SimConfig
from mux_sim.hls import TestPattern
from mux_sim.state import Environment, LiveStream, NotFound
from mux_sim.webhooks import Deliverer


class Fault(BaseModel):
    status: int = Field(ge=400, le=599)
    count: int = Field(default=1, ge=1)


class Simulator:
    """Everything one running simulator holds (available as ``app.state.sim``)."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.deliverer = Deliverer(
            config.webhook_url, config.webhook_secret, config.environment_id, config.knobs
        )
        self.env = Environment(
            self.deliverer.emit,
            reconnect_override=lambda: self.config.knobs.reconnect_window_override_s,
            asset_ready_delay=lambda: self.config.knobs.asset_ready_delay_s,
        )
        self.faults: list[int] = []
        self.api_calls: list[tuple[str, str]] = []

    def set_knobs(self, knobs: Knobs) -> None:
        self.config.knobs = knobs
        self.deliverer.knobs = knobs


def mux_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "messages": [message]}}, status_code=status)


_FAULT_KINDS = {
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


def create_app(config: SimConfig | None = None) -> FastAPI:
    """The simulator app. Webhook delivery runs in the app's lifespan."""
    sim = Simulator(config or SimConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sim.deliverer.start()
        yield
        await sim.env.close()
        await sim.deliverer.close()

    app = FastAPI(title="Mux simulator", lifespan=lifespan)
    app.state.sim = sim

    @app.exception_handler(NotFound)
    async def not_found(_: Request, __: NotFound) -> JSONResponse:
        return mux_error(
            404,
            "not_found",
            "The requested resource either doesn't exist or you don't have access to it.",
        )

    async def api_guard(request: Request) -> None:
        auth = request.headers.get("authorization", "")
        ok = False
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                # bytes, not str: compare_digest raises on non-ASCII text
                ok = hmac.compare_digest(
                    user.encode(), sim.config.token_id.encode()
                ) and hmac.compare_digest(password.encode(), sim.config.token_secret.encode())
            except (binascii.Error, UnicodeDecodeError):
                ok = False
        if not ok:
            raise HTTPException(401, "Unauthorized request")
        sim.api_calls.append((request.method, request.url.path))
        if sim.faults:
            status = sim.faults.pop(0)
            raise HTTPException(status, f"simulated {status}")

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        kind = {401: "unauthorized", 404: "not_found", 400: "invalid_parameters"}.get(
            exc.status_code, _FAULT_KINDS.get(exc.status_code, "error")
        )
        return mux_error(exc.status_code, kind, str(exc.detail))

    api = [Depends(api_guard)]

    def one(stream: LiveStream, status: int = 200) -> JSONResponse:
        return JSONResponse({"data": stream.to_mux()}, status_code=status)

    @app.post("/video/v1/live-streams", dependencies=api)
    async def create(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise HTTPException(400, "request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "request body must be an object")
        window = body.get("reconnect_window", 60)
        if not isinstance(window, int | float) or not 0.1 <= window <= 1800:
            raise HTTPException(400, "reconnect_window must be between 0.1 and 1800")
        return one(sim.env.create(body), 201)

    @app.get("/video/v1/live-streams", dependencies=api)
    async def list_streams(
        limit: int = 25, page: int = 1, stream_key: str | None = None, status: str | None = None
    ) -> JSONResponse:
        if not 1 <= limit <= 100 or page < 1:
            raise HTTPException(400, "limit must be 1-100 and page >= 1")
        streams = sorted(sim.env.streams.values(), key=lambda s: s.seq, reverse=True)
        if stream_key:
            streams = [s for s in streams if s.stream_key == stream_key]
        if status:
            streams = [s for s in streams if s.status == status]
        chunk = streams[(page - 1) * limit : page * limit]
        return JSONResponse({"data": [s.to_mux() for s in chunk]})

    @app.get("/video/v1/live-streams/{live_stream_id}", dependencies=api)
    async def get(live_stream_id: str) -> JSONResponse:
        return one(sim.env.get(live_stream_id))

    @app.delete("/video/v1/live-streams/{live_stream_id}", dependencies=api)
    async def delete(live_stream_id: str) -> Response:
        sim.env.delete(live_stream_id)
        return Response(status_code=204)

    @app.put("/video/v1/live-streams/{live_stream_id}/complete", dependencies=api)
    async def complete(live_stream_id: str) -> JSONResponse:
        sim.env.complete(live_stream_id)
        return JSONResponse({"data": {}})

    @app.put("/video/v1/live-streams/{live_stream_id}/disable", dependencies=api)
    async def disable(live_stream_id: str) -> JSONResponse:
        sim.env.disable(live_stream_id)
        return JSONResponse({"data": {}})

    @app.put("/video/v1/live-streams/{live_stream_id}/enable", dependencies=api)
    async def enable(live_stream_id: str) -> JSONResponse:
        sim.env.enable(live_stream_id)
        return JSONResponse({"data": {}})

    @app.post("/video/v1/live-streams/{live_stream_id}/reset-stream-key", dependencies=api)
    async def reset_key(live_stream_id: str) -> JSONResponse:
        return one(sim.env.reset_stream_key(live_stream_id), 201)

    _operator_routes(app, sim)
    _hls_routes(app, TestPattern(sim.config.hls_dir))
    return app


def _hls_routes(app: FastAPI, pattern: TestPattern) -> None:
    @app.get("/hls/{playback_id}.m3u8")
    async def playlist(playback_id: str) -> Response:
        path = await pattern.ensure()
        if path is None:
            return JSONResponse(
                {"error": "unavailable", "message": "the simulator needs ffmpeg to serve video"},
                503,
            )
        body = path.read_text().replace("seg", f"/hls/seg/{playback_id}/seg")
        return Response(
            body, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/image/{_playback_id}/thumbnail.jpg")
    async def thumbnail(_playback_id: str) -> Response:
        """Mux's ``https://image.mux.com/{playback_id}/thumbnail.jpg``: a real JPEG, a frame of
        the test pattern every playback id plays."""
        path = await pattern.thumbnail()
        if path is None:
            return JSONResponse(
                {"error": "unavailable", "message": "the simulator needs ffmpeg to serve images"},
                503,
            )
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=60"})

    @app.get("/hls/seg/{_playback_id}/{name}")
    async def segment(_playback_id: str, name: str) -> Response:
        path = pattern.segment(name)
        if path is None:
            raise NotFound(name)
        return FileResponse(path, media_type="video/mp2t")


def _operator_routes(app: FastAPI, sim: Simulator) -> None:
    @app.get("/_sim/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/_sim/live-streams")
    async def all_streams() -> dict[str, Any]:
        return {"data": [s.to_mux() for s in sim.env.streams.values()]}

    @app.post("/_sim/live-streams/{live_stream_id}/connect")
    async def connect(live_stream_id: str) -> dict[str, Any]:
        try:
            return {"data": sim.env.connect(live_stream_id).to_mux()}
        except PermissionError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/_sim/live-streams/{live_stream_id}/disconnect")
    async def disconnect(live_stream_id: str) -> dict[str, Any]:
        return {"data": sim.env.disconnect(live_stream_id).to_mux()}

    @app.post("/_sim/stream-keys/{key}/connect")
    async def connect_with_key(key: str) -> dict[str, Any]:
        """An encoder connects with a stream key, as RTMP ingest authenticates it: an unknown
        (for example reset) key is refused with 403, a disabled stream with 409."""
        found = next(
            (
                s
                for s in sim.env.streams.values()
                if hmac.compare_digest(s.stream_key.encode(), key.encode())
            ),
            None,
        )
        if found is None:
            raise HTTPException(403, "unknown stream key")
        return await connect(found.id)

    def by_passthrough(passthrough: str) -> str:
        for stream in sim.env.streams.values():
            if stream.passthrough == passthrough:
                return stream.id
        raise NotFound(passthrough)

    @app.post("/_sim/passthrough/{passthrough}/connect")
    async def connect_by_passthrough(passthrough: str) -> dict[str, Any]:
        """Connect the encoder of the live stream whose passthrough is ``passthrough`` (our
        stream id), so tools need not know Mux's id."""
        return await connect(by_passthrough(passthrough))

    @app.post("/_sim/passthrough/{passthrough}/disconnect")
    async def disconnect_by_passthrough(passthrough: str) -> dict[str, Any]:
        return await disconnect(by_passthrough(passthrough))

    @app.get("/_sim/assets/{asset_id}")
    async def asset(asset_id: str) -> dict[str, Any]:
        found = sim.env.assets.get(asset_id)
        if found is None:
            raise NotFound(asset_id)
        return {"data": found.to_mux()}

    @app.get("/_sim/config")
    async def get_config() -> Knobs:
        return sim.config.knobs

    @app.post("/_sim/config")
    async def set_config(changes: dict[str, Any]) -> Knobs:
        try:
            knobs = Knobs.model_validate({**sim.config.knobs.model_dump(), **changes})
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        sim.set_knobs(knobs)
        return knobs

    @app.post("/_sim/faults")
    async def faults(fault: Fault) -> dict[str, Any]:
        sim.faults.extend([fault.status] * fault.count)
        return {"pending_faults": sim.faults}

    @app.get("/_sim/deliveries")
    async def deliveries() -> dict[str, Any]:
        return {"data": [d.summary() for d in sim.deliverer.log]}

    @app.post("/_sim/webhooks/settle")
    async def settle(timeout: float = 30.0) -> JSONResponse:
        settled = await sim.deliverer.settle(timeout)
        return JSONResponse({"settled": settled}, status_code=200 if settled else 504)
