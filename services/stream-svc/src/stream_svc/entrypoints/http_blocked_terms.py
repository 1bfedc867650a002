"""Blocked-term routes of stream-svc (``/live/{stream_id}/blocked-terms``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Path, Response
from fastapi.responses import JSONResponse

from contracts.blocked_terms import BlockedTermChange, BlockedTermRequest, BlockedTermView
from servicekit.auth import CurrentAccount
from stream_svc.domain.model import BlockedTerm
from stream_svc.entrypoints.provider import DepsDep
from stream_svc.handlers import blocked_terms

TermIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^bt_[0-9a-f]{1,60}$")]


def _view(t: BlockedTerm) -> BlockedTermView:
    return BlockedTermView(
        term_id=t.term_id, term=t.term, by=t.by, at=t.at, expires_at=t.expires_at
    )


def routes(app: FastAPI) -> None:
    @app.get("/live/{stream_id}/blocked-terms", response_model=list[BlockedTermView])
    async def list_blocked_terms(
        stream_id: str, account: CurrentAccount, deps: DepsDep
    ) -> list[BlockedTermView]:
        """Owner or moderator: the blocked terms in force, oldest first."""
        return [_view(t) for t in await blocked_terms.list_terms(stream_id, account, deps)]

    @app.post("/live/{stream_id}/blocked-terms", status_code=201, response_model=BlockedTermChange)
    async def add_blocked_term(
        stream_id: str,
        body: BlockedTermRequest,
        account: CurrentAccount,
        deps: DepsDep,
        response: Response,
    ) -> BlockedTermChange:
        """Owner or moderator: block a term (at most 1,000 per stream; logged). 200 with
        ``changed: false`` when it is blocked already."""
        term, changed = await blocked_terms.add_term(
            stream_id, body.term, body.duration_s, account, deps
        )
        response.status_code = 201 if changed else 200
        return BlockedTermChange(**_view(term).model_dump(), changed=changed)

    @app.delete(
        "/live/{stream_id}/blocked-terms/{term_id}",
        status_code=204,
        responses={200: {"description": "was not blocked (``changed: false``)"}},
    )
    async def remove_blocked_term(
        stream_id: str, term_id: TermIdPath, account: CurrentAccount, deps: DepsDep
    ) -> Response:
        """Owner or moderator: unblock a term (logged); 200 ``changed: false`` if it was not
        blocked (any more), 404 for an id that never was a term of the stream."""
        if await blocked_terms.remove_term(stream_id, term_id, account, deps):
            return Response(status_code=204)
        return JSONResponse({"term_id": term_id, "changed": False}, status_code=200)
