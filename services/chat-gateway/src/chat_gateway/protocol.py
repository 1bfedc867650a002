"""The WebSocket protocol, I/O-free: decode client frames, validate chat text, encode frames."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from contracts.chat import MAX_MESSAGE_CHARS
from contracts.text import TextRefused
from contracts.text import clean_text as text_rule
from contracts.ws import ChatError, ClientFrame, Frame, client_frame_adapter

#: Close codes (documented in the README).
UNAUTHORIZED, BANNED, UNKNOWN_STREAM, RATE_LIMITED, TOO_SLOW = 4001, 4003, 4004, 4008, 4009
#: RFC 6455 "try again later": the database was unavailable while the connection was set up.
TRY_AGAIN_LATER = 1013
#: ``chat.error`` reason when a dependency (database, broker) is unavailable: the frame was not
#: handled, the socket stays open, retry after ``retry_after_s``.
UNAVAILABLE = "unavailable"


class ProtocolError(ValueError):
    """A frame the server refuses; ``reason`` goes into ``chat.error``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode(raw: str | bytes) -> ClientFrame:
    """One client frame. Raises ``ProtocolError``: binary, not JSON, unknown type, bad fields."""
    if isinstance(raw, bytes):
        raise ProtocolError("binary_frame", "binary frames are not supported; send JSON text")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ProtocolError("invalid_json", "frame is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ProtocolError("invalid_frame", "a frame is a JSON object with a 'type'")
    try:
        return client_frame_adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first.get("type") == "union_tag_invalid":
            raise ProtocolError("unknown_type", f"unknown frame type {data['type']!r}") from None
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "frame"
        raise ProtocolError("invalid_frame", f"{where}: {first.get('msg')}") from None


def clean_text(text: str) -> str:
    """The message as stored: the shared user-text rule (:func:`contracts.text.clean_text`)
    with the 500-character limit.

    Raises:
        ProtocolError: ``empty``, ``too_long`` or ``control_characters``.
    """
    try:
        return text_rule(text, max_chars=MAX_MESSAGE_CHARS)
    except TextRefused as exc:
        raise ProtocolError(exc.reason, str(exc)) from None


def encode(frame: Frame) -> str:
    """The frame as JSON text (what goes on the wire)."""
    return frame.model_dump_json()


def error_frame(
    exc: ProtocolError,
    client_msg_id: str | None = None,
    retry_after_s: float | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """``chat.error``; ``details``: a refusal's extra fields (``min_follow_minutes``,
    ``may_post_at`` of ``followers_only``)."""
    return encode(
        ChatError(
            reason=exc.reason,
            message=str(exc),
            client_msg_id=client_msg_id,
            retry_after_s=retry_after_s,
            **(details or {}),
        )
    )
