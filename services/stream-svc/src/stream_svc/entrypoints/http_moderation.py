"""Moderation and usage routes of stream-svc."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, Response
from fastapi.responses import JSONResponse

from contracts.common import IsoDatetime, Page
from contracts.moderation import (
    AddModeratorRequest,
    BanChange,
    BanLifted,
    BanRequest,
    BanView,
    ModerationLogEntry,
    ModeratorChange,
    ModeratorView,
)
from contracts.stream import AccountUsage, StreamUsage
from servicekit import parsing
from servicekit.auth import AccountIdPath, CurrentAccount
from servicekit.errors import ApiError
from stream_svc.entrypoints.provider import DepsDep
from stream_svc.handlers import moderation, usage
from stream_svc.handlers.streams import owned_stream


def _cursor(at: datetime, action_id: str) -> str:
    return parsing.encode_cursor(at.isoformat(), action_id)


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, action_id = parsing.decode_cursor(cursor, str, str)
        return parsing.parse_aware_datetime(at), action_id
    except parsing.Unparsable:
        raise ApiError(422, "validation_error", "invalid cursor") from None


WindowStart = Annotated[IsoDatetime | None, Query(alias="from")]
WindowEnd = Annotated[IsoDatetime | None, Query(alias="to")]


def _unchanged(body: ModeratorChange | BanLifted) -> Response:
    return JSONResponse(body.model_dump(mode="json"), status_code=200)


def routes(app: FastAPI) -> None:
    @app.post("/live/{stream_id}/moderators", status_code=201, response_model=ModeratorChange)
    async def add_moderator(
        stream_id: str,
        body: AddModeratorRequest,
        account: CurrentAccount,
        deps: DepsDep,
        response: Response,
    ) -> dict[str, Any]:
        """Owner: make an account a moderator."""
        added = await moderation.add_moderator(stream_id, body.account_id, account, deps)
        response.status_code = 201 if added else 200
        return {"account_id": body.account_id, "moderator": True, "changed": added}

    @app.delete(
        "/live/{stream_id}/moderators/{account_id}",
        status_code=204,
        responses={200: {"model": ModeratorChange, "description": "was no moderator"}},
    )
    async def remove_moderator(
        stream_id: str, account_id: AccountIdPath, account: CurrentAccount, deps: DepsDep
    ) -> Response:
        """Owner: remove a moderator (200 with ``changed: false`` if they were none)."""
        if await moderation.remove_moderator(stream_id, account_id, account, deps):
            return Response(status_code=204)
        return _unchanged(ModeratorChange(account_id=account_id, moderator=False, changed=False))

    @app.get("/live/{stream_id}/moderators", response_model=list[ModeratorView])
    async def list_moderators(
        stream_id: str, account: CurrentAccount, deps: DepsDep
    ) -> list[ModeratorView]:
        """Owner: the stream's moderators."""
        await owned_stream(stream_id, account, deps)
        return [
            ModeratorView(account_id=m.account_id, added_by=m.added_by, added_at=m.added_at)
            for m in await deps.moderation.moderators(stream_id)
        ]

    @app.post("/live/{stream_id}/bans", status_code=201, response_model=BanChange)
    async def ban(
        stream_id: str, body: BanRequest, account: CurrentAccount, deps: DepsDep, response: Response
    ) -> BanChange:
        """Owner or moderator: ban an account (with ``duration_s``: a timeout); 200 with
        ``changed: false`` when the same ban is already in force."""
        ban, changed = await moderation.ban(
            stream_id,
            moderation.BanRequest(body.account_id, body.duration_s, body.reason),
            account,
            deps,
        )
        response.status_code = 201 if changed else 200
        return BanChange(
            account_id=ban.account_id,
            by=ban.by,
            at=ban.at,
            expires_at=ban.expires_at,
            reason=ban.reason,
            changed=changed,
        )

    @app.delete(
        "/live/{stream_id}/bans/{account_id}",
        status_code=204,
        responses={200: {"model": BanLifted, "description": "was not banned"}},
    )
    async def unban(
        stream_id: str, account_id: AccountIdPath, account: CurrentAccount, deps: DepsDep
    ) -> Response:
        """Owner or moderator: lift a ban or timeout (200 with ``changed: false`` if none)."""
        if await moderation.unban(stream_id, account_id, account, deps):
            return Response(status_code=204)
        return _unchanged(BanLifted(account_id=account_id, banned=False, changed=False))

    @app.get("/live/{stream_id}/bans", response_model=list[BanView])
    async def list_bans(stream_id: str, account: CurrentAccount, deps: DepsDep) -> list[BanView]:
        """Owner or moderator: active bans and timeouts."""
        await moderation.require_moderator(stream_id, account, deps)
        return [
            BanView(
                account_id=b.account_id, by=b.by, at=b.at, expires_at=b.expires_at, reason=b.reason
            )
            for b in await deps.moderation.bans(stream_id, deps.clock())
        ]

    @app.get("/live/{stream_id}/moderation-log", response_model=Page[ModerationLogEntry])
    async def moderation_log(
        stream_id: str,
        account: CurrentAccount,
        deps: DepsDep,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> Page[ModerationLogEntry]:
        """Owner or moderator: every moderation action, newest first."""
        await moderation.require_moderator(stream_id, account, deps)
        after = _parse_cursor(cursor) if cursor else None
        found = await deps.moderation.history(stream_id, limit=limit + 1, after=after)
        page = found[:limit]
        items = [
            ModerationLogEntry(
                action_id=a.action_id,
                action=a.action,
                account_id=a.account_id,
                by=a.by,
                at=a.at,
                expires_at=a.expires_at,
                reason=a.reason,
                detail=a.detail,
                message_id=a.message_id,
            )
            for a in page
        ]
        more = len(found) > limit
        return Page[ModerationLogEntry](
            items=items, next_cursor=_cursor(page[-1].at, page[-1].action_id) if more else None
        )

    @app.get("/live/{stream_id}/usage", response_model=StreamUsage)
    async def stream_usage(
        stream_id: str,
        account: CurrentAccount,
        deps: DepsDep,
        start: WindowStart = None,
        end: WindowEnd = None,
    ) -> dict[str, Any]:
        """Owner: minutes streamed, recordings, viewer-minutes and the estimated Mux cost,
        optionally in ``[from, to)``."""
        _check_window(start, end)
        return await usage.stream_usage(stream_id, account, deps, start, end)

    @app.get("/me/usage", response_model=AccountUsage)
    async def my_usage(
        account: CurrentAccount, deps: DepsDep, start: WindowStart = None, end: WindowEnd = None
    ) -> dict[str, Any]:
        """The caller's usage over all their streams, optionally in ``[from, to)``."""
        _check_window(start, end)
        return await usage.account_usage(account, start, end, deps)


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start and end and end <= start:
        raise ApiError(422, "validation_error", "'to' must be after 'from'")
