"""Mux webhook signatures: ``Mux-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]``.

The signature is HMAC-SHA256 of ``"{t}.{raw body}"`` with the endpoint's signing secret,
hex-encoded. Any ``v1`` matching any configured secret is accepted (secret rotation, and Mux
may send several signatures), compared in constant time. The header is untrusted text: only
ASCII digits make a timestamp, and signatures are compared as bytes, so anything in it
(non-ASCII bytes, ``²``, other schemes) is refused, never an error. The timestamp must be within the
tolerance of now, in both directions (stale replays and clock-skewed futures are refused).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from servicekit.parsing import ascii_int, constant_time_equal


class SignatureError(Exception):
    """Why a signature was refused (the message is safe to return to the caller).

    ``reason`` is one of :data:`REASONS` (a bounded metric label).
    """

    def __init__(self, message: str, reason: str = "mismatch") -> None:
        super().__init__(message)
        self.reason = reason


#: Every ``SignatureError.reason``.
REASONS = ("missing", "malformed", "mismatch", "stale", "future")


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def parse_header(header: str | None) -> ParsedSignature:
    """Split ``t=...,v1=...`` into its timestamp and ``v1`` signatures.

    Raises:
        SignatureError: missing or malformed header.
    """
    if not header:
        raise SignatureError("missing Mux-Signature header", "missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        value = value.strip()
        if key == "t" and (t := ascii_int(value, max_digits=12)) is not None:
            timestamp = t
        elif key == "v1" and value:
            signatures.append(value.lower())
    if timestamp is None or not signatures:
        raise SignatureError("malformed Mux-Signature header (need t= and v1=)", "malformed")
    return ParsedSignature(timestamp, tuple(signatures))


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(
    header: str | None, body: bytes, secrets: Sequence[str], *, now: float, tolerance_s: float
) -> int:
    """Check the signature of ``body``; return its timestamp.

    Raises:
        SignatureError: missing/malformed header, no matching signature, or a timestamp
            outside ``now ± tolerance_s``.
    """
    parsed = parse_header(header)
    matched = False
    for secret in secrets:
        want = expected_signature(secret, parsed.timestamp, body)
        for got in parsed.signatures:
            matched |= constant_time_equal(want, got)
    if not matched:
        raise SignatureError("signature does not match")
    age = now - parsed.timestamp
    if age > tolerance_s:
        raise SignatureError(
            f"timestamp is {int(age)} s old (tolerance {int(tolerance_s)} s)", "stale"
        )
    if age < -tolerance_s:
        raise SignatureError(
            f"timestamp is {int(-age)} s in the future (tolerance {int(tolerance_s)} s)", "future"
        )
    return parsed.timestamp
