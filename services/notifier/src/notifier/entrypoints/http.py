"""notifier's REST API: follows and the inbox (bearer JWT)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response

from contracts.common import Page
from contracts.notification import (
    FollowerCount,
    FollowingEntry,
    FollowResult,
    MarkReadRequest,
    MarkReadResult,
    NotificationView,
    UnreadCount,
)
from notifier import handlers
from notifier.deps import Deps
from notifier.domain.model import FollowRateLimited, SelfFollow
from notifier.inbox_watch import MAX_WAIT_S, wake
from notifier.settings import Settings
from servicekit import parsing
from servicekit.admission import parked
from servicekit.auth import AccountIdPath, CurrentAccount, JwtVerifier
from servicekit.errors import ApiError
from servicekit.health import Readiness
from servicekit.http import create_service_app
from servicekit.mongo import from_ms


async def get_deps(request: Request) -> Deps:
    """The app's dependencies (``async``: a plain function costs a thread hop a request)."""
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _decode(cursor: str, *types: type) -> list[Any]:
    try:
        return parsing.decode_cursor(cursor, *types)
    except parsing.Unparsable:
        raise ApiError(422, "validation_error", "invalid cursor") from None


def _since(follow: dict[str, Any]) -> Any:
    """When the current follow began (``since_ms``; follows stored before it: ``since``)."""
    return from_ms(follow["since_ms"]) if "since_ms" in follow else follow["since"]


async def _wait_unless_gone(request: Request, changed: asyncio.Event, wait_s: float) -> bool:
    """Wait until ``changed`` is set or ``wait_s`` passes; ``True`` if the client went away
    first (a closed tab must not hold a waiter, nor delay a shutdown, for the whole wait)."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    woken = asyncio.ensure_future(changed.wait())
    gone = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({woken, gone}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (woken, gone):
            task.cancel()
        await asyncio.gather(woken, gone, return_exceptions=True)
    return gone.done() and not gone.cancelled()


def create_app(settings: Settings, deps: Deps | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jwt_verifier = JwtVerifier.from_settings(settings)
        if deps is not None:
            app.state.deps, app.state.infra = deps, None
            yield
            return
        from notifier.bootstrap import running

        async with running(settings) as (real, infra, worker):
            app.state.deps, app.state.infra, app.state.worker = real, infra, worker
            yield

    def readiness(app: FastAPI) -> Readiness:
        infra = getattr(app.state, "infra", None)
        return infra.readiness() if infra is not None else Readiness()

    app = create_service_app(
        title="livecast notifier",
        readiness=readiness,
        lifespan=lifespan,
        admission=settings.admission,
    )

    @app.put("/users/{account_id}/follow", response_model=FollowResult)
    async def follow(
        account_id: AccountIdPath, account: CurrentAccount, deps: DepsDep
    ) -> dict[str, Any]:
        """Follow an account (repeating changes nothing); 429 with ``Retry-After`` when the
        caller follows too fast."""
        try:
            changed = await handlers.follow(account, account_id, deps)
        except SelfFollow as exc:
            raise ApiError(422, "validation_error", str(exc)) from None
        except FollowRateLimited as exc:
            retry = max(1, math.ceil(exc.retry_after_s))
            raise ApiError(
                429,
                "rate_limited",
                str(exc),
                headers={"Retry-After": str(retry)},
                retry_after_s=retry,
            ) from None
        return {"account_id": account_id, "following": True, "changed": changed}

    @app.delete("/users/{account_id}/follow", status_code=204)
    async def unfollow(
        account_id: AccountIdPath, account: CurrentAccount, deps: DepsDep
    ) -> Response:
        """Stop following."""
        await handlers.unfollow(account, account_id, deps)
        return Response(status_code=204)

    @app.get("/users/{account_id}/followers/count", response_model=FollowerCount)
    async def followers(
        account_id: AccountIdPath, _account: CurrentAccount, deps: DepsDep
    ) -> dict[str, Any]:
        """How many accounts follow this one."""
        return {
            "account_id": account_id,
            "followers": await deps.follows.followers_count(account_id),
        }

    @app.get("/me/following", response_model=Page[FollowingEntry])
    async def following(
        account: CurrentAccount, deps: DepsDep, limit: Limit = 50, cursor: Cursor = None
    ) -> dict[str, Any]:
        """The accounts you follow, by id."""
        after = _decode(cursor, str)[0] if cursor else None
        found = await deps.follows.following(account, limit=limit + 1, after=after)
        page = found[:limit]
        return {
            "items": [{"account_id": d["followee_id"], "since": _since(d)} for d in page],
            "next_cursor": parsing.encode_cursor(page[-1]["followee_id"])
            if len(found) > limit
            else None,
        }

    @app.get("/notifications", response_model=Page[NotificationView])
    async def inbox(
        account: CurrentAccount,
        deps: DepsDep,
        unread: bool = False,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[NotificationView]:
        """Your notifications, newest first."""
        after = tuple(_decode(cursor, int, str)) if cursor else None
        found = await deps.inbox.page(account, unread=unread, limit=limit + 1, after=after)  # type: ignore[arg-type]
        page = found[:limit]
        items = [
            NotificationView(
                notification_id=d["_id"],
                kind=d["kind"],
                title=d["title"],
                body=d["body"],
                data=d.get("data") or {},
                created_at=d["created_at"],
                read=d["read"],
            )
            for d in page
        ]
        nxt = (
            parsing.encode_cursor(page[-1]["created_ms"], page[-1]["_id"])
            if len(found) > limit
            else None
        )
        return Page[NotificationView](items=items, next_cursor=nxt)

    @app.get("/notifications/unread-count", response_model=UnreadCount)
    async def unread_count(
        account: CurrentAccount,
        deps: DepsDep,
        request: Request,
        known: Annotated[int | None, Query(ge=0)] = None,
        wait_s: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
    ) -> dict[str, int]:
        """How many of your notifications are unread. Long poll: with ``known`` (the count
        you have) and ``wait_s``, answers when the count differs from ``known``, or after
        ``wait_s`` seconds with the count as it is then."""
        if known is None or wait_s == 0:
            return {"unread": await deps.unread_count(account)}
        with deps.watch.watching(account) as waiter:
            count = await deps.unread_count(account)
            if count != known or waiter is None:
                return {"unread": count}
            async with parked(request.scope) as parking:
                gone = await _wait_unless_gone(request, waiter.event, wait_s)
                if gone or waiter.count is not None:
                    parking.readmit = False  # the answer is at hand: no more work
        if gone:  # nobody to answer
            return {"unread": count}
        if waiter.count is not None:  # the waker read the new count
            return {"unread": waiter.count}
        return {"unread": await deps.unread_count(account)}

    @app.post("/notifications/read", response_model=MarkReadResult)
    async def mark_read(
        body: MarkReadRequest, account: CurrentAccount, deps: DepsDep
    ) -> dict[str, int]:
        """Mark some (``ids``, yours only) or ``all`` of your notifications read."""
        if body.all == bool(body.ids):
            raise ApiError(422, "validation_error", "give either 'ids' or 'all': true")
        changed = await deps.inbox.mark_read(account, None if body.all else body.ids)
        if changed:  # this account's other tabs on this instance
            await wake(deps.watch, [account], deps.inbox.unread_counts)
        return {"marked": changed}

    return app
