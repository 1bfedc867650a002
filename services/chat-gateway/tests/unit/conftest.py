"""Shared by the hub's unit tests."""

from __future__ import annotations

from typing import Any

from chat_gateway.domain.room import RoomState
from chat_gateway.hub import Hub


def quiet_hub(**options: Any) -> Hub:
    """A hub over an empty store: every room known (owner ``owner``), no message stored, no
    number ever missing; ``options`` are :class:`Hub`'s own (``stalled_sync_s``, ...)."""

    async def load(stream_id: str) -> RoomState:
        return RoomState(stream_id, owner_id="owner")

    async def current(_: str) -> int:
        return 0

    async def fetch(_: str, lo: int, hi: int) -> dict[int, str | None]:
        return {}

    async def fill(_: str, seqs: list[int]) -> None:
        return None

    return Hub(load_state=load, current_seq=current, fetch_range=fetch, fill_gaps=fill, **options)
