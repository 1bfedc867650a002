"""chat-gateway's HTTP API: history, posting, deleting, slow mode, followers-only mode, pins,
gifts (bearer JWT)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from chat_gateway import pinning
from chat_gateway.adapters.mongo import ConnectionRegistry
from chat_gateway.gifts import catalog_items
from chat_gateway.protocol import ProtocolError
from chat_gateway.service import ChatService, Refused, message_frame
from contracts.chat import (
    ChatConnections,
    ChatMessage,
    GiftCatalogItem,
    GiftReceipt,
    GiftSenderTotal,
    GiftSummary,
    PostedChatMessage,
    SendGiftRequest,
    SendLiveChatRequest,
    SlowModeRequest,
)
from contracts.common import Page
from contracts.followers import FollowersOnlyRequest
from contracts.pins import PinnedMessage, PinRequest
from servicekit.admission import AdmissionLimits
from servicekit.auth import CurrentAccount
from servicekit.errors import error_body
from servicekit.health import Readiness
from servicekit.http import create_service_app

StreamIdPath = Annotated[str, Path(min_length=1, max_length=64)]


def get_service(request: Request) -> ChatService:
    service: ChatService = request.app.state.service
    return service


ServiceDep = Annotated[ChatService, Depends(get_service)]


def create_app(readiness: Readiness, admission: AdmissionLimits | None = None) -> FastAPI:
    """The HTTP app; ``app.state.service``, ``.registry`` and ``.jwt_verifier`` are set by the
    process that runs it (bootstrap)."""
    app = create_service_app(
        title="livecast chat-gateway", readiness=lambda _: readiness, admission=admission
    )

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        headers = (
            {"Retry-After": str(max(1, round(exc.retry_after_s)))} if exc.retry_after_s else None
        )
        extra: dict[str, Any] = {}
        if exc.retry_after_s:
            extra["retry_after_s"] = exc.retry_after_s
        extra |= {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in exc.details.items()
        }
        return JSONResponse(error_body(exc.reason, str(exc), **extra), exc.status, headers=headers)

    @app.exception_handler(ProtocolError)
    async def invalid(_: Request, exc: ProtocolError) -> JSONResponse:
        return JSONResponse(error_body("validation_error", str(exc), reason=exc.reason), 422)

    @app.get("/live/{stream_id}/chats", response_model=Page[ChatMessage])
    async def history(
        stream_id: StreamIdPath,
        _account: CurrentAccount,
        service: ServiceDep,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> Page[ChatMessage]:
        """Chat history, newest first (deleted messages excluded); ``cursor`` pages back."""
        await service.known_state(stream_id)  # 404 for unknown streams
        docs = await service.store.history(stream_id, int(cursor) if cursor else None, limit + 1)
        page = docs[:limit]
        items = [
            ChatMessage(stream_id=stream_id, **message_frame(d).model_dump(exclude={"type"}))
            for d in page
        ]
        return Page[ChatMessage](
            items=items, next_cursor=str(page[-1]["seq"]) if len(docs) > limit else None
        )

    @app.post("/live/{stream_id}/chats", status_code=201, response_model=PostedChatMessage)
    async def post(
        stream_id: StreamIdPath,
        body: SendLiveChatRequest,
        account: CurrentAccount,
        service: ServiceDep,
        response: Response,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=64)] = None,
    ) -> dict[str, Any]:
        """Post a message (same rules as the socket). A retry with the same ``Idempotency-Key``
        returns the original (200, ``Idempotent-Replayed: true``) whatever the limits say now;
        the same key with another message is refused (422 ``idempotency_key_reused``)."""
        arrived = datetime.now(UTC)  # the rate budget charges arrival, not processing, time
        posted = await service.post(stream_id, account, body.message, idempotency_key, arrived)
        if posted.duplicate:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
        return {"message_id": posted.message_id, "seq": posted.seq, "duplicate": posted.duplicate}

    @app.delete("/live/{stream_id}/chats/{message_id}", status_code=204)
    async def delete(
        stream_id: StreamIdPath,
        message_id: Annotated[str, Path(max_length=64)],
        account: CurrentAccount,
        service: ServiceDep,
    ) -> Response:
        """Owner or moderator: delete a message for everyone."""
        await service.delete(stream_id, message_id, account)
        return Response(status_code=204)

    @app.put("/live/{stream_id}/chat/slow-mode", status_code=204)
    async def slow_mode(
        stream_id: StreamIdPath, body: SlowModeRequest, account: CurrentAccount, service: ServiceDep
    ) -> Response:
        """Owner or moderator: one message per ``interval_s`` per viewer (0: off)."""
        await service.set_slow_mode(stream_id, body.interval_s, account)
        return Response(status_code=204)

    @app.put("/live/{stream_id}/chat/followers-only", status_code=204)
    async def followers_only(
        stream_id: StreamIdPath,
        body: FollowersOnlyRequest,
        account: CurrentAccount,
        service: ServiceDep,
    ) -> Response:
        """Owner or moderator: only followers (of at least ``min_follow_minutes``) may post."""
        await service.set_followers_only(stream_id, body.enabled, body.min_follow_minutes, account)
        return Response(status_code=204)

    @app.get("/live/{stream_id}/chat/connections", response_model=ChatConnections)
    async def connections(
        stream_id: StreamIdPath, account: CurrentAccount, service: ServiceDep, request: Request
    ) -> dict[str, Any]:
        """Owner or moderator: who is connected, to which gateway instance."""
        await service.require_moderator(stream_id, account)
        registry: ConnectionRegistry = request.app.state.registry
        docs = await registry.of_stream(stream_id)
        return {
            "items": [
                {
                    "account_id": d["account_id"],
                    "instance": d["instance"],
                    "connected_at": d["connected_at"],
                }
                for d in docs
            ]
        }

    @app.get("/gifts/catalog", response_model=list[GiftCatalogItem])
    async def catalog(_account: CurrentAccount, service: ServiceDep) -> list[GiftCatalogItem]:
        """Gift types: prices (coins), animation (id, tier, display time) and the streak window."""
        return catalog_items(service.streaks.window_s)

    @app.get("/live/{stream_id}/gifts/summary", response_model=GiftSummary)
    async def gifts_summary(
        stream_id: StreamIdPath,
        account: CurrentAccount,
        service: ServiceDep,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> GiftSummary:
        """Owner only: gifts received, totals per sender (top ``limit`` by coins) and overall."""
        totals = await service.gifts_received(stream_id, account)
        return GiftSummary(
            stream_id=stream_id,
            gifts=sum(t.gifts for t in totals),
            coins=sum(t.coins for t in totals),
            senders=[
                GiftSenderTotal(sender_id=t.sender_id, gifts=t.gifts, coins=t.coins)
                for t in totals[:limit]
            ],
        )

    @app.post(
        "/live/{stream_id}/gift",
        status_code=201,
        response_model=GiftReceipt,
        responses={
            200: {
                "model": GiftReceipt,
                "description": "a retry with the same Idempotency-Key: the earlier receipt, "
                "charged once (header Idempotent-Replayed: true)",
            }
        },
    )
    async def gift(
        stream_id: StreamIdPath,
        body: SendGiftRequest,
        account: CurrentAccount,
        service: ServiceDep,
        response: Response,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=128)] = None,
    ) -> GiftReceipt:
        """Send a gift; a retry with the same ``Idempotency-Key`` is charged once."""
        receipt, charged = await service.gift(
            stream_id, account, body.gift_type, body.amount, idempotency_key
        )
        if not charged:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
        return GiftReceipt(**receipt)

    _pin_routes(app)
    return app


def _pin_routes(app: FastAPI) -> None:
    @app.put("/live/{stream_id}/chat/pin", response_model=PinnedMessage)
    async def put_pin(
        stream_id: StreamIdPath, body: PinRequest, account: CurrentAccount, service: ServiceDep
    ) -> PinnedMessage:
        """Owner or moderator: pin a message of the room or an announcement (replacing the
        pin), optionally ``until`` a time (at most a week ahead)."""
        return await pinning.pin(
            service,
            stream_id,
            account,
            message_id=body.message_id,
            text=body.text,
            until=body.until,
        )

    @app.delete(
        "/live/{stream_id}/chat/pin",
        status_code=204,
        responses={200: {"description": "no pin was up (``changed: false``)"}},
    )
    async def delete_pin(
        stream_id: StreamIdPath, account: CurrentAccount, service: ServiceDep
    ) -> Response:
        """Owner or moderator: take the pin down."""
        if await pinning.unpin(service, stream_id, account):
            return Response(status_code=204)
        return JSONResponse({"changed": False}, status_code=200)
