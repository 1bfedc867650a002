"""Parsing untrusted request text (headers, query strings, cursors): refuse cleanly, never raise
anything else.

Python's own predicates are wider than the wire formats they are used to check:
``"²".isdigit()`` is true yet ``int("²")`` raises; ``hmac.compare_digest`` raises ``TypeError`` on
non-ASCII ``str``; ``json.loads`` raises ``RecursionError`` on deep nesting; ``int`` refuses
more than 4,300 digits. Every parser of request input uses these helpers, which accept only the
ASCII forms the formats define and turn every other input into ``None`` or :class:`Unparsable`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from datetime import datetime
from typing import Any

__all__ = [
    "Unparsable",
    "ascii_int",
    "constant_time_equal",
    "decode_cursor",
    "encode_cursor",
    "parse_aware_datetime",
]

_DIGITS = re.compile(r"[0-9]{1,18}")


class Unparsable(ValueError):
    """The input is not in the expected form (the message is safe to return to the caller)."""


def ascii_int(value: str | bytes | None, *, max_digits: int = 18) -> int | None:
    """The non-negative integer written as 1 to ``max_digits`` (at most 18) ASCII digits, else
    ``None`` (signs, spaces, Unicode digits such as ``²`` or ``١`` and longer numbers are refused).
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if len(value) > min(max_digits, 18) or _DIGITS.fullmatch(value) is None:
        return None
    return int(value)


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    """``hmac.compare_digest`` for any text: compares UTF-8 bytes (surrogates escaped), so a
    non-ASCII value is simply unequal instead of raising ``TypeError``."""
    return hmac.compare_digest(_bytes(a), _bytes(b))


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def encode_cursor(*parts: str | int) -> str:
    """An opaque page cursor holding ``parts`` (strings and ints): URL-safe base64 of JSON."""
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> list[Any]:
    """The parts of a cursor made by :func:`encode_cursor`, checked against ``types``
    (``str`` or ``int``; one per part).

    Raises:
        Unparsable: not base64, not UTF-8 JSON, not a list of that many parts of those types.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        parts = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise Unparsable("invalid cursor") from None
    if not isinstance(parts, list) or len(parts) != len(types):
        raise Unparsable("invalid cursor")
    for part, kind in zip(parts, types, strict=True):
        # bool is an int subclass; a cursor never holds one
        if not isinstance(part, kind) or isinstance(part, bool):
            raise Unparsable("invalid cursor")
    return parts


def parse_aware_datetime(value: str) -> datetime:
    """An ISO 8601 date-time with a UTC offset (``Z`` accepted).

    Raises:
        Unparsable: not ISO 8601, or without an offset.
    """
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        raise Unparsable(f"not an ISO 8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise Unparsable("the date-time has no UTC offset")
    return parsed
