"""Retries are replays: the one rule for every request that carries an ``Idempotency-Key`` (or,
on the chat socket, a ``client_msg_id``). Source: IETF draft-ietf-httpapi-idempotency-key-header.

* **The duplicate check comes first.** A use case looks up what the key stored *before* it
  applies rate limits, slow mode or anything else that may say no now: a replay returns the
  original result whatever those say at the time of the retry.
* **Same key, different request: refused.** Each stored result keeps the
  :func:`fingerprint` of the request that made it; a retry whose fingerprint differs is refused
  with 422 ``idempotency_key_reused`` (:class:`IdempotencyKeyReused`), nothing is changed.
  Results stored before fingerprints existed (no fingerprint) are replayed.
* **A replay equals the first answer.** Times are cut to the database's precision where they
  are made (:func:`db_time`: MongoDB stores milliseconds), so what was answered is what is
  stored and what a replay reads back.

Each service keeps the key with its own result in one atomic write (the message, the gift, the
create request); this module is the rule they all apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from servicekit.errors import ApiError

__all__ = ["FINGERPRINT", "IdempotencyKeyReused", "db_time", "fingerprint", "replay_allowed"]

#: The field under which a stored result keeps its request's fingerprint.
FINGERPRINT = "request_fp"


class IdempotencyKeyReused(ApiError):
    """422 ``idempotency_key_reused``: the key was used before with a different request."""

    def __init__(self, key: str | None = None) -> None:
        super().__init__(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key (client_msg_id on the chat socket) was already used with a "
            "different request; "
            "use a new key for a new request",
        )
        self.key = key


def fingerprint(request: object) -> str:
    """A stable digest of a request (JSON-able values; dicts in any key order): sha256 hex."""
    raw = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def replay_allowed(
    stored: Mapping[str, Any] | None, request_fp: str, key: str | None = None
) -> bool:
    """Whether ``stored`` (the result a key stored, or ``None``) is to be replayed.

    Returns:
        ``False`` when nothing was stored (go on and do the request), ``True`` when the same
        request was stored (answer with it).

    Raises:
        IdempotencyKeyReused: the key stored a different request.
    """
    if stored is None:
        return False
    previous = stored.get(FINGERPRINT)
    if previous is not None and previous != request_fp:
        raise IdempotencyKeyReused(key)
    return True


def db_time(moment: datetime | None = None) -> datetime:
    """``moment`` (default: now, UTC) cut to whole milliseconds, the precision MongoDB keeps."""
    moment = moment or datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
