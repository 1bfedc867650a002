"""Baseline servers the benchmarks compare against (run as separate processes)."""

from __future__ import annotations

import hashlib
import hmac
import os
import time

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from contracts.viewer import JoinLiveStreamResponse
from servicekit.auth import CurrentAccount, JwtVerifier
from servicekit.health import Readiness
from servicekit.http import create_service_app


def viewer_floor() -> FastAPI:
    """viewer-svc's join/leave routes with the same framework, middleware and JWT check, and
    the database call replaced by nothing: the framework floor."""
    app = create_service_app(title="floor", readiness=lambda _: Readiness())
    app.state.jwt_verifier = JwtVerifier(secret=os.environ["AUTH_JWT_SECRET"])
    body = JoinLiveStreamResponse(
        playback_url="https://stream.mux.com/x.m3u8", viewer_count=1, status="active"
    )

    @app.post("/live/{stream_id}/join", response_model=JoinLiveStreamResponse)
    async def join(stream_id: str, account: CurrentAccount) -> JoinLiveStreamResponse:
        return body

    @app.post("/live/{stream_id}/leave", status_code=204)
    async def leave(stream_id: str, account: CurrentAccount) -> Response:
        return Response(status_code=204)

    return app


def verify_only() -> FastAPI:
    """The webhook ceiling: read the body, verify the Mux signature (HMAC), answer 200."""
    app = FastAPI()
    secret = os.environ["MUX_WEBHOOK_SECRET"].split(",")[0].encode()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/webhooks/mux")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        parts = dict(
            p.split("=", 1) for p in request.headers.get("mux-signature", "").split(",") if "=" in p
        )
        want = hmac.new(
            secret, f"{parts.get('t', '')}.".encode() + body, hashlib.sha256
        ).hexdigest()
        fresh = abs(time.time() - int(parts.get("t", "0") or 0)) < 300
        if not (fresh and hmac.compare_digest(want, parts.get("v1", ""))):
            return JSONResponse({"error": "invalid_signature"}, 401)
        return JSONResponse({"received": True})

    return app
