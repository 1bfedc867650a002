"""Types shared by several contracts."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Generic, TypeGuard, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)


def _json_integer(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("an integer (not a boolean or a string)")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("an integer")
        return int(value)
    return value


def _iso_text(value: object) -> object:
    if isinstance(value, str) and value.strip().replace(".", "", 1).lstrip("+-").isdigit():
        raise ValueError("a date-time in ISO 8601 form, e.g. 2026-01-01T00:00:00Z")
    if isinstance(value, int | float):
        raise ValueError("a date-time in ISO 8601 form, e.g. 2026-01-01T00:00:00Z")
    return value


#: The characters an account id may use: ASCII letters and digits and ``. _ - | @ : + =``.
#: Enough for what identity providers issue as ``sub``: Auth0 (``auth0|5f7c...``,
#: ``google-oauth2|1043...``, ``samlp|acme|jo@acme.com``), Google and GitHub numeric ids, UUIDs
#: (Cognito, Keycloak), Firebase uids, Entra pairwise subs (base64url), Apple
#: (``001234.9f8e....0123``), e-mail addresses as ids, Bluesky DIDs (``did:plc:abc``). No
#: spaces, controls, ``/``, ``%`` or other characters that change meaning in a URL path, a log
#: line or a compound key; not made of dots only (``.``/``..`` are path segments).
ACCOUNT_ID_CHARS = "A-Za-z0-9._@|:+=-"
#: Longest account id (characters). Auth0 and Entra subs stay far below it.
ACCOUNT_ID_MAX = 128
_NOT_DOT = ACCOUNT_ID_CHARS.replace(".", "")
#: ``ACCOUNT_ID_CHARS`` with at least one character that is not a dot.
ACCOUNT_ID_PATTERN = f"^[{ACCOUNT_ID_CHARS}]*[{_NOT_DOT}][{ACCOUNT_ID_CHARS}]*$"
_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)

#: An account id: the JWT ``sub``, and every account id in a path or a body. Opaque to us
#: beyond :data:`ACCOUNT_ID_PATTERN` and :data:`ACCOUNT_ID_MAX` (refused: 401 for a token's
#: ``sub``, 422 in a request).
AccountId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ACCOUNT_ID_MAX, pattern=ACCOUNT_ID_PATTERN),
]


def is_account_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a well-formed account id (see :data:`AccountId`)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= ACCOUNT_ID_MAX
        and _ACCOUNT_ID.fullmatch(value) is not None
    )


def compound_key(*parts: str, sep: str = "\x1f") -> str:
    """One string key for a tuple of ids (``(stream_id, account_id)``, ``(follower, followee)``)
    such that distinct tuples never give the same key, whatever the parts contain.

    Parts are joined with ``sep`` (default ``\\x1f``); inside a part, ``%`` and ``sep`` are
    percent-encoded (``%25``, ``%1F``), so a ``sep`` in the key is always a separator. Parts
    that contain neither (every valid :data:`AccountId` with the default ``sep``) appear
    unchanged, so keys written before this rule keep their meaning.

    Raises:
        ValueError: no parts, or ``sep`` is not one ASCII character other than ``%``, a letter
            or a digit.
    """
    if not parts:
        raise ValueError("a compound key needs at least one part")
    if len(sep) != 1 or not sep.isascii() or sep.isalnum() or sep == "%":
        raise ValueError(f"unusable separator {sep!r}")
    escaped = f"%{ord(sep):02X}"
    return sep.join(p.replace("%", "%25").replace(sep, escaped) for p in parts)


#: An integer of a request body as JSON Schema's ``integer``: ``5`` and ``5.0``; never ``true``
#: or ``"5"`` (pydantic's lax mode took both; issue 17: ``{"interval_s": false}`` was accepted).
#: Inside an optional type put the bounds first: ``Annotated[int, Field(ge=1), JSON_INTEGER]``.
JSON_INTEGER = BeforeValidator(_json_integer)
JsonInt = Annotated[int, JSON_INTEGER]
#: A timestamp given as ISO 8601 text with a UTC offset (``2026-01-01T00:00:00Z``); numbers
#: (``0.5``, which pydantic would read as seconds since the epoch) are refused.
IsoDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
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
    """Base of REST bodies: strict about unknown fields in requests. Integer fields of request
    bodies are :data:`JsonInt` and booleans ``strict=True``: ``false`` is not ``0`` and ``1`` is
    not ``true`` (issue 17: ``{"interval_s": false}`` was accepted)."""

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
