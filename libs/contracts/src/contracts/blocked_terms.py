"""Blocked terms of a stream's chat (Twitch "blocked terms", Owncast's chat filter, GetStream's
blocklists): owned by stream-svc, applied by chat-gateway.

A term is what users see, folded: :func:`fold` (NFKC, then case folding, then NFKC again: the
Unicode ``NFKC_Casefold`` idea, UAX #15 and #44) is applied to the term and to every message, so
full-width letters (``ＢＡＤ``), ligatures (``ﬁ``), compatibility forms and case do not slip
past. Runs of whitespace are one space. A term matches whole words unless it carries a ``*``
wildcard at its start (``*word``: any word ending with it), its end (``word*``: any word
starting with it) or both (``*word*``: anywhere). ``*`` elsewhere is refused. Between 2 and 100
characters (as users count them, wildcards aside); at most :data:`MAX_TERMS` per stream.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, ClassVar

from pydantic import AfterValidator, AwareDatetime, Field

from contracts.common import JSON_INTEGER, AccountId, ApiModel, ResponseModel, StreamId
from contracts.envelope import Event
from contracts.text import TextRefused, clean_text, is_visible, visible_length

__all__ = [
    "MAX_TERMS",
    "BlockedTermAdded",
    "BlockedTermChange",
    "BlockedTermRemoved",
    "BlockedTermRequest",
    "BlockedTermView",
    "fold",
    "normalize_term",
]

#: Most active blocked terms one stream may have.
MAX_TERMS = 1000
MIN_TERM_CHARS, MAX_TERM_CHARS = 2, 100
_SPACES = re.compile(r"\s+")


def _unseen(ch: str) -> str:
    """What an invisible code point looks like: nothing for zero-width ones (format characters
    such as ``U+200B``/``U+200D``/``U+2060``/``U+00AD``, variation selectors, the combining
    grapheme joiner), a space for blanks that take room (Hangul fillers, Braille blank)."""
    if ch.isspace() or is_visible(ch):
        return ch
    return "" if unicodedata.category(ch) in ("Cf", "Cc", "Mn", "Cs") else " "


def fold(text: str) -> str:
    """What matching compares: NFKC, case-folded, NFKC again (case folding can leave text that
    is not NFKC), invisible code points (taken first) as users see them (zero-width ones dropped, so
    ``b\u200dad`` is ``bad``; blank ones as a space), whitespace runs as one space.

    >>> fold("ＢＡＤ ﬁsh")
    'bad fish'
    >>> fold("b\u200bA\u00adD")
    'bad'
    """
    if not text.isascii():  # first, so that NFKC composes what an invisible character split
        text = "".join(map(_unseen, text))
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", folded)


def normalize_term(term: str) -> str:
    """The term as stored and matched: :func:`fold` of the cleaned text (contracts.text), with
    its wildcards kept at the ends.

    Raises:
        TextRefused: ``empty``, ``control_characters``, ``too_long`` (over 100 characters),
            ``too_short`` (under 2), ``wildcard`` (a ``*`` not at an end, or nothing but
            wildcards).
    """
    text = fold(clean_text(term, max_chars=MAX_TERM_CHARS + 2)).strip()
    core = text.removeprefix("*").removesuffix("*").strip()
    if "*" in core:
        raise TextRefused("wildcard", "a '*' wildcard may only be at the start or the end")
    length = visible_length(core)
    if length < MIN_TERM_CHARS:
        raise TextRefused("too_short", f"a blocked term has at least {MIN_TERM_CHARS} characters")
    if length > MAX_TERM_CHARS:
        raise TextRefused("too_long", f"a blocked term has at most {MAX_TERM_CHARS} characters")
    return ("*" if text.startswith("*") else "") + core + ("*" if text.endswith("*") else "")


class BlockedTermAdded(Event):
    """An owner or moderator blocked ``term`` (normalized, see :func:`normalize_term`) in the
    stream's chat, until ``expires_at`` (``None``: until removed). Adding the same term again
    with another expiry is a new ``BlockedTermAdded`` for the same ``term_id``: the newest
    ``at`` wins."""

    TYPE: ClassVar[str] = "moderation.blocked_term_added"

    stream_id: StreamId
    term_id: str
    term: str
    by: AccountId
    at: AwareDatetime
    expires_at: AwareDatetime | None = None


class BlockedTermRemoved(Event):
    """The blocked term ``term_id`` of the stream was removed (newest ``at`` wins)."""

    TYPE: ClassVar[str] = "moderation.blocked_term_removed"

    stream_id: StreamId
    term_id: str
    term: str
    by: AccountId
    at: AwareDatetime


def _normalized(term: str) -> str:
    try:
        return normalize_term(term)
    except TextRefused as exc:
        raise ValueError(str(exc)) from None


class BlockedTermRequest(ApiModel):
    """``POST /live/{stream_id}/blocked-terms``: block ``term`` (2-100 characters, optional
    ``*`` at either end), for ``duration_s`` seconds if given (else until removed)."""

    term: Annotated[str, Field(max_length=1000), AfterValidator(_normalized)]
    duration_s: Annotated[int, Field(ge=1, le=365 * 24 * 3600), JSON_INTEGER] | None = None


class BlockedTermView(ResponseModel):
    """One blocked term (``GET /live/{stream_id}/blocked-terms``, owner and moderators)."""

    term_id: str
    term: str
    by: AccountId
    at: AwareDatetime
    expires_at: AwareDatetime | None = None


class BlockedTermChange(BlockedTermView):
    """``POST /live/{stream_id}/blocked-terms`` response: 201 with ``changed: true`` when the
    term was added (or given another expiry: a new duration counts from now), 200 with
    ``changed: false`` when the same term is in force already on the same terms (both without
    expiry, or the same ``duration_s``: a repeat does not extend it); then nothing is logged
    or announced and the term in force is returned."""

    changed: bool
