"""viewer-svc's REST API: join, heartbeat, leave (bearer JWT)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from contracts.viewer import JoinLiveStreamResponse
from servicekit.auth import CurrentAccount, JwtVerifier
from servicekit.errors import error_body
from servicekit.health import Readiness
from servicekit.http import create_service_app
from viewer_svc import handlers
from viewer_svc.deps import Deps
from viewer_svc.domain.model import Banned, StreamOver, UnknownStream
from viewer_svc.settings import Settings


async def get_deps(request: Request) -> Deps:
    """The app's dependencies (``async``: a plain function costs a thread hop a request)."""
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
StreamIdPath = Annotated[str, Path(min_length=1, max_length=64)]
SessionQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="this tab's or player's session (any id it keeps for its lifetime); "
        "leave ends only this session. Without one, all such callers share one session.",
    ),
]


def create_app(settings: Settings, deps: Deps | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jwt_verifier = JwtVerifier.from_settings(settings)
        if deps is not None:
            app.state.deps, app.state.infra = deps, None
            yield
            return
        from viewer_svc.bootstrap import running

        async with running(settings) as (real, infra):
            app.state.deps, app.state.infra = real, infra
            yield

    def readiness(app: FastAPI) -> Readiness:
        infra = getattr(app.state, "infra", None)
        return infra.readiness() if infra is not None else Readiness()

    app = create_service_app(
        title="livecast viewer-svc",
        readiness=readiness,
        lifespan=lifespan,
        admission=settings.admission,
    )

    @app.exception_handler(UnknownStream)
    async def unknown(_: Request, exc: UnknownStream) -> JSONResponse:
        return JSONResponse(error_body("not_found", str(exc)), 404)

    @app.exception_handler(StreamOver)
    async def over(_: Request, exc: StreamOver) -> JSONResponse:
        return JSONResponse(error_body("conflict", str(exc), status=exc.status.value), 409)

    @app.exception_handler(Banned)
    async def banned(_: Request, exc: Banned) -> JSONResponse:
        expires = exc.expires_at.isoformat() if exc.expires_at else None
        return JSONResponse(error_body("forbidden", str(exc), banned_until=expires), 403)

    @app.post("/live/{stream_id}/join", response_model=JoinLiveStreamResponse)
    async def join(
        stream_id: StreamIdPath,
        account: CurrentAccount,
        deps: DepsDep,
        session_id: SessionQuery = None,
    ) -> JoinLiveStreamResponse:
        """Start watching: playback URL, current viewer count, status."""
        return await handlers.join(stream_id, account, deps, session_id)

    @app.post("/live/{stream_id}/heartbeat", response_model=JoinLiveStreamResponse)
    async def heartbeat(
        stream_id: StreamIdPath,
        account: CurrentAccount,
        deps: DepsDep,
        session_id: SessionQuery = None,
    ) -> JoinLiveStreamResponse:
        """Still watching (send every 10 s; unseen for the presence timeout means gone)."""
        return await handlers.heartbeat(stream_id, account, deps, session_id)

    @app.post("/live/{stream_id}/leave", status_code=204)
    async def leave(
        stream_id: StreamIdPath,
        account: CurrentAccount,
        deps: DepsDep,
        session_id: SessionQuery = None,
    ) -> Response:
        """Stop watching in this session (no-op without a join); other sessions of the account
        (tabs, chat sockets) keep it counted."""
        await handlers.leave(stream_id, account, deps, session_id)
        return Response(status_code=204)

    return app
