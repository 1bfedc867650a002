"""Live presence kept in memory per instance, and the exact merge of every instance's (no I/O).

A *session* is ``(account, session_id)`` in one stream (a tab, a player, a chat socket). Each
instance keeps, per stream, the sessions it has seen (last seen, epoch ms) and the sessions it
was told ended (ended at, epoch ms: a ``leave``, a closed chat socket, or ``*`` for every
session of an account: a ban). It writes them as one :class:`Sheet` per (stream, instance) in
batches; any instance merges the sheets of a stream:

    a session is live  iff  its latest "seen" over all sheets is within the presence timeout
                            and later than its latest "ended" (or the account's ``*``)
    the count          =    the number of distinct accounts with a live session

A request may reach any instance (the same session heart-beating on two instances is two
entries for one session; a ``leave`` on another instance outranks them by time), so the merge
is exact whichever instance answers, as of the sheets' last writes. An instance that crashes
leaves its sheet behind; its sessions stop counting one presence timeout after they were last
seen, exactly as if their viewers had gone silent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Session = tuple[str, str]  # (account_id, session_id)
EVERY_SESSION = "*"  # an "ended" entry for (account, "*") ends all of the account's sessions
#: Sessions (and ends) an instance keeps per account and stream; beyond it the least recently
#: seen (ended) one is forgotten. Session ids are the client's: without a bound one account
#: minting a new id per request grows the instance's memory and its sheet (one MongoDB
#: document, 16 MB at most: about 120,000 entries) without limit. Forgetting one of an
#: account's sessions never changes the count while it has newer ones (a forgotten session that
#: still heart-beats is seen again); a forgotten end may let that session, if another instance
#: saw it earlier, count until its timeout: only an account with this many ends at once.
MAX_SESSIONS_PER_ACCOUNT = 32


@dataclass(frozen=True, slots=True)
class Sheet:
    """One instance's presence in one stream as written to (and read from) the board."""

    stream_id: str
    instance_id: str
    seen: dict[Session, int] = field(default_factory=dict)  # last seen, epoch ms
    ended: dict[Session, int] = field(default_factory=dict)  # ended at, epoch ms
    #: the stored version this was read from (a conditional rewrite by another instance)
    rev: str = field(default="", compare=False)

    @property
    def empty(self) -> bool:
        return not self.seen and not self.ended

    def next_expiry_ms(self, timeout_ms: int) -> int:
        """When the first entry of the sheet stops mattering (epoch ms)."""
        return min([*self.seen.values(), *self.ended.values()], default=0) + timeout_ms

    def pruned(self, now_ms: int, timeout_ms: int) -> Sheet:
        """The sheet without entries older than the timeout (they count for nothing)."""
        cutoff = now_ms - timeout_ms
        return Sheet(
            self.stream_id,
            self.instance_id,
            {k: t for k, t in self.seen.items() if t >= cutoff},
            {k: t for k, t in self.ended.items() if t >= cutoff},
            rev=self.rev,
        )


def live_accounts(sheets: Iterable[Sheet], now_ms: int, timeout_ms: int) -> set[str]:
    """Distinct accounts with a live session over all sheets (see the module docstring)."""
    seen: dict[Session, int] = {}
    ended: dict[Session, int] = {}
    for sheet in sheets:
        for key, t in sheet.seen.items():
            if t > seen.get(key, -1):
                seen[key] = t
        for key, t in sheet.ended.items():
            if t > ended.get(key, -1):
                ended[key] = t
    cutoff = now_ms - timeout_ms
    return {
        account
        for (account, session), t in seen.items()
        if t >= cutoff
        and t > ended.get((account, session), -1)
        and t > ended.get((account, EVERY_SESSION), -1)
    }


class LivePresence:
    """This instance's sessions, per stream, in memory. Every change marks its stream in
    ``changed`` for the next batch write."""

    def __init__(
        self, instance_id: str, *, max_sessions_per_account: int = MAX_SESSIONS_PER_ACCOUNT
    ) -> None:
        self.instance_id = instance_id
        self.max_sessions_per_account = max_sessions_per_account
        self._seen: dict[str, dict[Session, int]] = {}
        self._ended: dict[str, dict[Session, int]] = {}
        # per stream and account, its session ids in each book, least recently written first
        # (one id as a plain string: most accounts have one session, and memory is per viewer)
        self._order: dict[int, dict[str, dict[str, str | list[str]]]] = {
            id(self._seen): {},
            id(self._ended): {},
        }
        self.changed: set[str] = set()

    def streams(self) -> list[str]:
        return sorted(self._seen.keys() | self._ended.keys())

    def touch(self, stream_id: str, account_id: str, session_id: str, now_ms: int) -> None:
        """The session is watching now."""
        key = (account_id, session_id)
        self._put(self._seen, stream_id, key, now_ms)
        self._drop(self._ended, stream_id, key)
        self.changed.add(stream_id)

    def end(self, stream_id: str, account_id: str, session_id: str, now_ms: int) -> bool:
        """The session ended (wherever it was seen); ``True`` if this instance had it."""
        had = self._forget(stream_id, (account_id, session_id))
        self._put(self._ended, stream_id, (account_id, session_id), now_ms)
        self.changed.add(stream_id)
        return had

    def end_account(self, stream_id: str, account_id: str, now_ms: int) -> bool:
        """Every session of the account ended (a ban); ``True`` if this instance had one."""
        seen = self._seen.get(stream_id, {})
        keys = [k for k in seen if k[0] == account_id]
        for key in keys:
            self._forget(stream_id, key)
        for key in [k for k in self._ended.get(stream_id, {}) if k[0] == account_id]:
            self._drop(self._ended, stream_id, key)  # outranked by the account's "*"
        self._put(self._ended, stream_id, (account_id, EVERY_SESSION), now_ms)
        self.changed.add(stream_id)
        return bool(keys)

    def drop_stream(self, stream_id: str) -> None:
        """The stream is over: forget it (its sheet is deleted by the next write)."""
        for book in (self._seen, self._ended):
            for key in list(book.get(stream_id, {})):
                self._drop(book, stream_id, key)
        self.changed.add(stream_id)

    def expire(self, now_ms: int, timeout_ms: int) -> int:
        """Forget sessions unseen, and ends older than the timeout; the sessions forgotten."""
        cutoff, expired = now_ms - timeout_ms, 0
        for stream_id in self.streams():
            for book in (self._seen, self._ended):
                entries = book.get(stream_id, {})
                old = [k for k, t in entries.items() if t < cutoff]
                for key in old:
                    self._drop(book, stream_id, key)
                if old:
                    self.changed.add(stream_id)
                if book is self._seen:
                    expired += len(old)
        return expired

    def sheet(self, stream_id: str) -> Sheet:
        return Sheet(
            stream_id,
            self.instance_id,
            dict(self._seen.get(stream_id, {})),
            dict(self._ended.get(stream_id, {})),
        )

    def take_changed(self) -> set[str]:
        changed, self.changed = self.changed, set()
        return changed

    def _forget(self, stream_id: str, key: Session) -> bool:
        return self._drop(self._seen, stream_id, key)

    def _put(
        self, book: dict[str, dict[Session, int]], stream_id: str, key: Session, t: int
    ) -> None:
        """Write ``key`` in ``book``; beyond ``max_sessions_per_account`` the account's least
        recently written one is forgotten."""
        book.setdefault(stream_id, {})[key] = t
        accounts = self._order[id(book)].setdefault(stream_id, {})
        account, session = key
        held = accounts.get(account)
        if held is None:
            accounts[account] = session
            return
        if isinstance(held, str):
            if held == session:
                return
            held = accounts[account] = [held]
        elif session in held:
            held.remove(session)
        held.append(session)
        while len(held) > self.max_sessions_per_account:
            self._drop(book, stream_id, (account, held[0]))

    def _drop(self, book: dict[str, dict[Session, int]], stream_id: str, key: Session) -> bool:
        """Remove ``key`` from ``book``; ``True`` if it was there."""
        entries = book.get(stream_id)
        if entries is None or entries.pop(key, None) is None:
            return False
        if not entries:
            del book[stream_id]
        order = self._order[id(book)]
        accounts = order.get(stream_id, {})
        account, session = key
        held = accounts.get(account)
        if isinstance(held, list):
            held.remove(session)
            if len(held) == 1:
                accounts[account] = held[0]
        elif held == session:
            del accounts[account]
        if not accounts:
            order.pop(stream_id, None)
        return True
