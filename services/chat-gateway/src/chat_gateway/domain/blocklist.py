"""A room's blocked terms and the compiled matcher that checks messages against them. No I/O.

Terms arrive normalized (contracts.blocked_terms: folded, optional ``*`` at either end); each
message is folded the same way (:func:`contracts.blocked_terms.fold`) before matching. Whole
words by default: a term matches where no word character (``\\w``, Unicode) touches it on a
side without a wildcard, except a side in a script written without spaces (Han, kana, Thai, Lao,
Khmer, Myanmar), which has no word boundary to find. All terms are compiled into **one** regular
expression: the terms of each of the four wildcard shapes form a trie written as nested
alternations (the "trie regex" technique), so the engine walks each position through a trie
instead of trying 1,000 alternatives one after the other. Compiled once per set of terms and
shared by rooms holding the same set (an LRU cache), and rebuilt when a term expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import regex

from contracts.blocked_terms import fold

__all__ = ["BlockedTerm", "Blocklist", "compile_terms"]


@dataclass(frozen=True, slots=True)
class BlockedTerm:
    """A term's latest state: ``active`` false once removed; newest ``at`` wins."""

    term_id: str
    term: str
    active: bool
    at: datetime
    expires_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.active and (self.expires_at is None or self.expires_at > now)


def _trie(words: list[str]) -> str:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True
    return _node_regex(root)


def _char(ch: str) -> str:
    return r"\s+" if ch == " " else re.escape(ch)


def _node_regex(node: dict[str, Any]) -> str:
    """The regex of a trie node. A chain of nodes with one child each (most of a long term) is
    written in one pass, not one call and one string copy per character: building the
    pattern of 1,000 terms of 100 characters took longer than compiling it."""
    out: list[str] = []
    while len(node) == 1 and "" not in node:  # a chain: one child, no term ends here
        ((ch, node),) = node.items()
        out.append(_char(ch))
    ends = "" in node
    branches = [_char(ch) + _node_regex(child) for ch, child in sorted(node.items()) if ch]
    if branches:  # more than one, or one where a term also ends (the chain loop took the rest)
        out.append("(?:" + "|".join(branches) + ")" + ("?" if ends else ""))
    return "".join(out)


#: Scripts written without spaces between words (scriptio continua): there a term has no word
#: boundary to look for, so its side in such a script matches whatever touches it (else
#: ``坏蛋`` would never be found in ``你是坏蛋吗``, nor ``ばか`` in ``おまえはばかだ``).
_UNSPACED = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")


def _unspaced(ch: str) -> bool:
    return _UNSPACED.match(ch) is not None


@lru_cache(maxsize=256)
def compile_terms(terms: frozenset[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``terms`` (normalized), ``None`` for no terms."""
    shapes: dict[tuple[bool, bool], list[str]] = {}
    for term in terms:
        left, right = term.startswith("*"), term.endswith("*") and len(term) > 1
        core = term.removeprefix("*").removesuffix("*")
        if core:
            left, right = left or _unspaced(core[0]), right or _unspaced(core[-1])
            shapes.setdefault((left, right), []).append(core)
    parts = [
        ("" if left else r"(?<!\w)") + "(?:" + _trie(words) + ")" + ("" if right else r"(?!\w)")
        for (left, right), words in sorted(shapes.items())
    ]
    return re.compile("|".join(parts)) if parts else None


@dataclass
class Blocklist:
    """A room's blocked terms (merged last-write-wins by ``at``) with its matcher."""

    terms: dict[str, BlockedTerm] = field(default_factory=dict)
    _pattern: re.Pattern[str] | None = None
    _valid_until: datetime | None = None  # next expiry: rebuild then
    _built: bool = False

    def set(self, term: BlockedTerm) -> bool:
        """Merge a change; ``True`` if it is newer than what the room knew."""
        current = self.terms.get(term.term_id)
        if current is not None and current.at >= term.at:
            return False
        self.terms[term.term_id] = term
        self._built = False
        return True

    def matcher(self, now: datetime) -> re.Pattern[str] | None:
        if not self._built or (self._valid_until is not None and now >= self._valid_until):
            live = [t for t in self.terms.values() if t.in_force(now)]
            self._pattern = compile_terms(frozenset(t.term for t in live))
            expiries = [t.expires_at for t in live if t.expires_at is not None]
            self._valid_until = min(expiries) if expiries else None
            self._built = True
        return self._pattern

    def blocks(self, text: str, now: datetime) -> bool:
        """Whether ``text`` (as users see it) contains a term in force at ``now``."""
        pattern = self.matcher(now)
        return pattern is not None and pattern.search(fold(text)) is not None
