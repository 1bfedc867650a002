"""The one rule for text that users write and others see: chat messages, stream titles and
descriptions, ban reasons. Every service calls :func:`clean_text` (or uses the pydantic types
built on it); no service has a copy.

The rule, in order:

1. **NFC.** The text is normalised to Unicode NFC first, so ``e`` + combining acute is stored
   (and counted) as ``é``.
2. **Bidirectional controls are closed, not leaked.** Embeddings and overrides (``U+202A``–
   ``U+202E``) still open at the end are closed with ``U+202C`` (PDF) and isolates (``U+2066``–
   ``U+2068``) with ``U+2069`` (PDI); a PDF or PDI that closes nothing is dropped. So a message's
   direction controls never reach the text a client renders after it (UAX #9, and the
   "Trojan Source" advice, CVE-2021-42574).
3. **Trimmed** of whitespace at both ends.
4. **Something visible.** Text made only of whitespace and invisible characters (format
   characters Cf such as ``U+200B``, ``U+200D``, ``U+2060``, ``U+FEFF``, and the other default
   ignorable or blank code points such as ``U+3164`` or ``U+2800``) is refused as ``empty``,
   exactly like a blank one.
5. **Counted as users see it**: extended grapheme clusters (UAX #29) that hold at least one
   visible character, so ``é``, an emoji ZWJ family or a flag count one each and invisible
   marks count nothing. Over the limit: ``too_long``.
   A character may carry at most 30 combining marks in a row (non-starters or marks M*; the
   bound of the Stream-Safe Text Format, UAX #15 section 13: no real text needs more); more
   is "Zalgo" text, one character as users count it yet a tower over the lines around it:
   ``too_long``.
6. **No control characters** (Cc, and lone surrogates Cs): ``control_characters``; multi-line fields
   (``multiline=True``, e.g. descriptions) allow ``\\n`` and ``\\t`` (``\\r\\n``, ``\\r``, and
   the Unicode line and paragraph separators ``U+2028``/``U+2029`` and ``U+0085`` become
   ``\\n``). Single-line fields (titles, chat, ban reasons) refuse those separators too: they
   break lines like ``\\n`` does.
"""

from __future__ import annotations

import unicodedata
from functools import partial

import regex
from pydantic import AfterValidator

__all__ = [
    "TextRefused",
    "clean_text",
    "is_visible",
    "optional_text",
    "user_text",
    "visible_length",
]

_GRAPHEME = regex.compile(r"\X")
_OPENERS_EMBED = frozenset("\u202a\u202b\u202d\u202e")  # LRE RLE LRO RLO
_OPENERS_ISOLATE = frozenset("\u2066\u2067\u2068")  # LRI RLI FSI
_PDF, _PDI = "\u202c", "\u2069"
#: Invisible though not Cf: default ignorable code points of other categories, and blanks that
#: render as nothing (Hangul fillers, Braille blank, combining grapheme joiner, variation
#: selectors, Mongolian free variation selectors, Khmer inherent vowels).
_BLANK = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0))
)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Cs"})
#: Line breaks that are not Cc: LINE SEPARATOR, PARAGRAPH SEPARATOR (NEL U+0085 is Cc).
_LINE_SEPARATORS = "\u2028\u2029"
#: Most combining marks (non-starters) in a row: the Stream-Safe Text Format (UAX #15, s. 13).
MAX_COMBINING_RUN = 30


class TextRefused(ValueError):
    """User text that breaks the rule; ``reason`` is ``empty``, ``too_long`` or
    ``control_characters`` (the same codes on every route and on the chat socket)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_visible(ch: str) -> bool:
    """Whether one code point shows something (not whitespace, not a format/control character,
    not a default-ignorable or blank code point)."""
    if ch.isspace() or ch in _BLANK:
        return False
    return unicodedata.category(ch) not in _INVISIBLE_CATEGORIES


def visible_length(text: str) -> int:
    """Characters as users see them: grapheme clusters holding at least one visible code
    point."""
    return sum(1 for g in _GRAPHEME.findall(text) if any(is_visible(ch) for ch in g))


def _close_bidi(text: str) -> str:
    """Drop closers that close nothing; append the closers of what is still open."""
    out: list[str] = []
    stack: list[str] = []  # "e" embedding/override, "i" isolate
    for ch in text:
        if ch in _OPENERS_EMBED:
            stack.append("e")
        elif ch in _OPENERS_ISOLATE:
            stack.append("i")
        elif ch == _PDF:
            if not stack or stack[-1] != "e":
                continue  # a PDF never closes past an isolate (UAX #9 X7)
            stack.pop()
        elif ch == _PDI:
            if "i" not in stack:
                continue
            while stack and stack[-1] == "e":  # PDI closes embeddings inside it (X6a)
                out.append(_PDF)
                stack.pop()
            stack.pop()
        out.append(ch)
    out.extend(_PDF if kind == "e" else _PDI for kind in reversed(stack))
    return "".join(out)


def clean_text(text: str, *, max_chars: int, multiline: bool = False) -> str:
    """The text as stored and shown.

    Args:
        text: what the user sent.
        max_chars: most characters as users see them (:func:`visible_length`).
        multiline: allow line breaks and tabs (descriptions); ``\\r\\n``/``\\r`` become ``\\n``.

    Returns:
        NFC, bidi controls closed, trimmed.

    Raises:
        TextRefused: ``empty`` (nothing visible), ``too_long``, ``control_characters``.
    """
    text = unicodedata.normalize("NFC", text)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        for separator in (*_LINE_SEPARATORS, "\x85"):
            text = text.replace(separator, "\n")
    text = _close_bidi(text.strip()).strip()  # closers go after the trimmed text
    text = unicodedata.normalize("NFC", text)  # a dropped stray closer may let marks compose
    if not any(is_visible(ch) for ch in text):
        raise TextRefused("empty", "the text is empty (it has no visible character)")
    if visible_length(text) > max_chars:
        raise TextRefused("too_long", f"the text is over {max_chars} characters")
    if _longest_combining_run(text) > MAX_COMBINING_RUN:
        raise TextRefused(
            "too_long", f"a character carries more than {MAX_COMBINING_RUN} combining marks"
        )
    allowed = "\n\t" if multiline else ""
    if any(
        (unicodedata.category(ch) in ("Cc", "Cs") or ch in _LINE_SEPARATORS) and ch not in allowed
        for ch in text
    ):
        raise TextRefused(
            "control_characters", "control characters and line breaks are not allowed"
        )
    return text


def _longest_combining_run(text: str) -> int:
    longest = run = 0
    for ch in text:
        combining = unicodedata.combining(ch) or unicodedata.category(ch).startswith("M")
        run = run + 1 if combining else 0
        longest = max(longest, run)
    return longest


def _optional(text: str | None, *, max_chars: int, multiline: bool) -> str | None:
    if text is None:
        return None
    try:
        return clean_text(text, max_chars=max_chars, multiline=multiline)
    except TextRefused as exc:
        if exc.reason == "empty":
            return None
        raise


def user_text(max_chars: int, *, multiline: bool = False) -> AfterValidator:
    """A pydantic validator applying :func:`clean_text` (``Annotated[str, user_text(100)]``)."""
    return AfterValidator(partial(clean_text, max_chars=max_chars, multiline=multiline))


def optional_text(max_chars: int, *, multiline: bool = False) -> AfterValidator:
    """Like :func:`user_text` for optional fields: text with nothing visible becomes ``None``."""
    return AfterValidator(partial(_optional, max_chars=max_chars, multiline=multiline))
