"""``POST /webhooks/mux``: verify, store, acknowledge; publication follows through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import Counter

from servicekit.errors import ApiError
from servicekit.health import Readiness
from servicekit.http import create_service_app, serve_directly
from servicekit.logs import correlation_id
from webhook_ingest.bootstrap import Deps, build_deps
from webhook_ingest.domain.event import BadWebhook
from webhook_ingest.domain.signature import SignatureError
from webhook_ingest.handlers import receive_webhook
from webhook_ingest.settings import Settings

VERIFY_FAILURES = Counter(
    "livecast_webhook_verify_failures_total",
    "Mux webhooks refused for their signature, by reason (missing, malformed, mismatch, stale, "
    "future)",
    ["reason"],
)


def create_app(settings: Settings, deps: Deps | None = None) -> FastAPI:
    """The webhook-ingest app; ``deps`` (tests) replaces the real adapters and skips I/O."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if deps is not None:
            app.state.deps, app.state.infra = deps, None
            yield
            return
        app.state.deps, app.state.infra = await build_deps(settings)
        try:
            yield
        finally:
            await app.state.infra.close()

    def readiness(app: FastAPI) -> Readiness:
        infra = getattr(app.state, "infra", None)
        return infra.readiness() if infra is not None else Readiness()

    app = create_service_app(
        title="livecast webhook-ingest",
        readiness=readiness,
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
        admission=settings.admission,
    )

    @app.post(
        "/webhooks/mux",
        response_model=None,  # served directly: the dict is the body, documented here
        responses={
            200: {
                "description": "stored before this answer (or a repeat of a stored event id)",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["received", "id", "type", "duplicate"],
                            "properties": {
                                "received": {"type": "boolean"},
                                "id": {"type": "string"},
                                "type": {"type": "string"},
                                "duplicate": {"type": "boolean"},
                            },
                        }
                    }
                },
            },
            400: {"description": "not a Mux event"},
            401: {"description": "missing or invalid Mux-Signature"},
        },
        # the route reads its header and dependencies itself, and is served directly
        # (servicekit.http.serve_directly); its header is documented here
        openapi_extra={
            "parameters": [
                {
                    "name": "mux-signature",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Mux's signature header: t=<unix seconds>,v1=<hex HMAC-SHA256>",
                }
            ]
        },
    )
    async def mux_webhook(request: Request) -> dict[str, Any]:
        """Receive a Mux webhook (Mux signature, no JWT)."""
        deps: Deps = request.app.state.deps
        body = await request.body()
        try:
            received = await receive_webhook(
                body,
                request.headers.get("mux-signature"),
                secrets=deps.secrets,
                tolerance_s=deps.tolerance_s,
                now=deps.clock(),
                inbox=deps.inbox,
                kick=deps.kick,
                correlation_id=correlation_id(),
            )
        except SignatureError as exc:
            VERIFY_FAILURES.labels(exc.reason).inc()
            raise ApiError(401, "invalid_signature", str(exc)) from None
        except BadWebhook as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        return {
            "received": True,
            "id": received.mux_event_id,
            "type": received.event_type,
            "duplicate": received.duplicate,
        }

    serve_directly(app, mux_webhook)  # the hot path: past FastAPI's router (issue 18)
    return app
