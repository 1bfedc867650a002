"""Types shared by several contracts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: An account id: the JWT ``sub``. Opaque to us.
AccountId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
#: Our stream id (also the Mux live stream's ``passthrough``).
StreamId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
#: One viewing session of an account (a tab, a player, a chat socket): presence is kept per
#: session, and an account counts as watching while at least one of its sessions is live.
SessionId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]


class StreamStatus(StrEnum):
    """Lifecycle of a live stream. Forward-only: ``idle -> active -> ended``; ``deleted`` is
    terminal from any state."""

    IDLE = "idle"
    ACTIVE = "active"
    ENDED = "ended"
    DELETED = "deleted"

    @property
    def rank(self) -> int:
        """Position in the forward-only order; a state never moves to a lower rank."""
        return _RANK[self]

    def can_move_to(self, target: StreamStatus) -> bool:
        """Whether the forward-only machine allows ``self -> target``."""
        return target.rank > self.rank


_RANK = {
    StreamStatus.IDLE: 0,
    StreamStatus.ACTIVE: 1,
    StreamStatus.ENDED: 2,
    StreamStatus.DELETED: 3,
}


class ApiModel(BaseModel):
    """Base of REST bodies: strict about unknown fields in requests."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResponseModel(BaseModel):
    """Base of REST responses: tolerant readers on the client side. Every field is always sent
    (a null rather than a missing key), which the serialization schema says."""

    model_config = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True)


T = TypeVar("T")


class Page(ResponseModel, Generic[T]):
    """A page of a cursor-paginated list. ``next_cursor`` is opaque; ``None`` on the last page."""

    items: list[T]
    next_cursor: str | None = None


class ErrorBody(ResponseModel):
    """Every 4xx/5xx response body."""

    error: str = Field(description="machine-readable code, e.g. 'not_found'")
    message: str = Field(description="what is wrong, for a person")
    details: list[dict[str, object]] | dict[str, object] | None = None
