"""stream-svc's REST API (bearer JWT; the caller is the token's ``sub``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Query, Response

from contracts.common import Page, StreamStatus
from contracts.stream import (
    CreateLiveStreamRequest,
    CreateLiveStreamResponse,
    LiveStreamDetails,
    LiveStreamSummary,
    StreamKeyReset,
    UpdateLiveStreamRequest,
)
from servicekit.auth import CurrentAccount, JwtVerifier
from servicekit.errors import ApiError
from servicekit.health import Readiness
from servicekit.http import create_service_app
from stream_svc.adapters.mongo_streams import decode_cursor, encode_cursor
from stream_svc.deps import Deps
from stream_svc.entrypoints import errors, http_blocked_terms, http_moderation
from stream_svc.entrypoints.provider import DepsDep
from stream_svc.entrypoints.views import details, summary
from stream_svc.handlers import streams
from stream_svc.settings import Settings

StatusFilter = Literal["idle", "active", "ended", "all"]


def create_app(settings: Settings, deps: Deps | None = None) -> FastAPI:
    """The stream-svc app; with ``deps`` (tests) nothing connects at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jwt_verifier = JwtVerifier.from_settings(settings)
        if deps is not None:
            app.state.deps, app.state.infra = deps, None
            yield
            return
        from stream_svc.bootstrap import running

        async with running(settings) as (real, infra):
            app.state.deps, app.state.infra = real, infra
            yield

    def readiness(app: FastAPI) -> Readiness:
        infra = getattr(app.state, "infra", None)
        return infra.readiness() if infra is not None else Readiness()

    app = create_service_app(
        title="livecast stream-svc",
        readiness=readiness,
        lifespan=lifespan,
        admission=settings.admission,
    )
    errors.install(app)
    _stream_routes(app)
    http_moderation.routes(app)
    http_blocked_terms.routes(app)
    return app


def _stream_routes(app: FastAPI) -> None:
    @app.post("/live", status_code=201, response_model=CreateLiveStreamResponse)
    async def create(
        body: CreateLiveStreamRequest,
        account: CurrentAccount,
        deps: DepsDep,
        response: Response,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
    ) -> CreateLiveStreamResponse:
        """Create a live stream (Mux live stream with public playback, recording on)."""
        stream, replayed = await streams.create_stream(account, body, idempotency_key, deps)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return CreateLiveStreamResponse(
            stream_id=stream.stream_id,
            stream_key=stream.stream_key or "",
            rtmp_url=deps.config.rtmp_url,
            playback_url=deps.config.playback_url(stream.playback_id),
        )

    @app.get("/live", response_model=Page[LiveStreamSummary])
    async def list_streams(
        _account: CurrentAccount,
        deps: DepsDep,
        status: StatusFilter = "active",
        owner: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> Page[LiveStreamSummary]:
        """List streams, newest first (default: active ones)."""
        statuses = (
            [StreamStatus.IDLE, StreamStatus.ACTIVE, StreamStatus.ENDED]
            if status == "all"
            else [StreamStatus(status)]
        )
        try:
            after = decode_cursor(cursor) if cursor else None
        except ValueError:
            raise ApiError(422, "validation_error", "invalid cursor") from None
        found = await deps.streams.page(
            statuses=statuses, owner_id=owner, limit=limit + 1, after=after
        )
        page, more = found[:limit], len(found) > limit
        next_cursor = encode_cursor(page[-1].created_at, page[-1].stream_id) if more else None
        return Page[LiveStreamSummary](
            items=[summary(s, deps.config) for s in page], next_cursor=next_cursor
        )

    @app.get("/live/{stream_id}", response_model=LiveStreamDetails)
    async def get(stream_id: str, account: CurrentAccount, deps: DepsDep) -> LiveStreamDetails:
        """A stream's details; ``stream_key`` and ``rtmp_url`` only for its owner."""
        return details(await streams.visible_stream(stream_id, deps), deps.config, caller=account)

    @app.patch("/live/{stream_id}", response_model=LiveStreamDetails)
    async def update(
        stream_id: str, body: UpdateLiveStreamRequest, account: CurrentAccount, deps: DepsDep
    ) -> LiveStreamDetails:
        """Owner: change the title, description or thumbnail (viewers see it without reload)."""
        return details(
            await streams.update_stream(stream_id, account, body, deps), deps.config, caller=account
        )

    @app.put("/live/{stream_id}/start", response_model=LiveStreamDetails)
    async def start(stream_id: str, account: CurrentAccount, deps: DepsDep) -> LiveStreamDetails:
        """Owner: go live (idle -> active); followers are notified."""
        return details(
            await streams.start_stream(stream_id, account, deps), deps.config, caller=account
        )

    @app.put("/live/{stream_id}/end", response_model=LiveStreamDetails)
    async def end(stream_id: str, account: CurrentAccount, deps: DepsDep) -> LiveStreamDetails:
        """Owner: end the stream (active -> ended) and tell Mux it is complete."""
        return details(
            await streams.end_stream(stream_id, account, deps), deps.config, caller=account
        )

    @app.post("/live/{stream_id}/reset-stream-key", response_model=StreamKeyReset)
    async def reset_key(stream_id: str, account: CurrentAccount, deps: DepsDep) -> StreamKeyReset:
        """Owner: a new stream key (the old one stops working at once); 409 once the stream
        has ended (its Mux live stream is disabled: no key of it streams again)."""
        stream = await streams.reset_stream_key(stream_id, account, deps)
        return StreamKeyReset(
            stream_id=stream.stream_id,
            stream_key=stream.stream_key or "",
            rtmp_url=deps.config.rtmp_url,
        )

    @app.delete("/live/{stream_id}", status_code=204)
    async def delete(stream_id: str, account: CurrentAccount, deps: DepsDep) -> Response:
        """Owner: delete on Mux and here (a tombstone stays)."""
        await streams.delete_stream(stream_id, account, deps)
        return Response(status_code=204)
