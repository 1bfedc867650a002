"""The in-memory presence of several instances, merged from their sheets, against a reference
that keeps one global log of events: a session is live iff its latest event (a sighting on any
instance, its end, or its account's ban) is a sighting within the presence timeout."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from viewer_svc.domain.presence import EVERY_SESSION, LivePresence, Sheet, live_accounts

TIMEOUT_MS = 30_000
INSTANCES = ["i1", "i2", "i3"]
STREAMS = ["s1", "s2"]

OP = st.one_of(
    st.tuples(
        st.sampled_from(["touch", "end"]),
        st.sampled_from(INSTANCES),
        st.sampled_from(STREAMS),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["http:default", "http:tab2", "chat:c1"]),
    ),
    st.tuples(st.just("ban"), st.sampled_from(INSTANCES), st.sampled_from(STREAMS), st.just("a")),
    st.tuples(st.just("expire"), st.sampled_from(INSTANCES)),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=20_000)),
)


class Reference:
    def __init__(self) -> None:
        # (stream, account, session) -> (time, "seen" | "ended") of its latest event
        self.latest: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.bans: dict[tuple[str, str], int] = {}

    def count(self, stream: str, now: int) -> int:
        live = set()
        for (s, account, _), (t, kind) in self.latest.items():
            banned_at = self.bans.get((s, account), -1)
            if s == stream and kind == "seen" and t >= now - TIMEOUT_MS and t > banned_at:
                live.add(account)
        return len(live)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(OP, max_size=60))
def test_merged_sheets_count_what_the_global_event_log_counts(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    instances = {i: LivePresence(i) for i in INSTANCES}
    ref = Reference()
    now = 1_000_000
    for op in ops:
        now += 1  # every event at its own instant
        if op[0] == "advance":
            now += op[1]
        elif op[0] == "expire":
            instances[op[1]].expire(now, TIMEOUT_MS)
        elif op[0] == "ban":
            _, inst, stream, account = op
            instances[inst].end_account(stream, account, now)
            ref.bans[(stream, account)] = now
        else:
            kind, inst, stream, account, session = op
            if kind == "touch":
                instances[inst].touch(stream, account, session, now)
                ref.latest[(stream, account, session)] = (now, "seen")
            else:
                instances[inst].end(stream, account, session, now)
                ref.latest[(stream, account, session)] = (now, "ended")
        for stream in STREAMS:
            sheets = [p.sheet(stream) for p in instances.values()]
            assert len(live_accounts(sheets, now, TIMEOUT_MS)) == ref.count(stream, now), stream


def test_a_sheet_left_by_a_crashed_instance_counts_until_its_sessions_time_out() -> None:
    left_behind = Sheet("s1", "crashed", {("a", "http:t1"): 1_000, ("b", "http:t1"): 5_000})
    alive = Sheet("s1", "alive", {("b", "chat:c1"): 20_000})
    assert live_accounts([left_behind, alive], 25_000, TIMEOUT_MS) == {"a", "b"}
    assert live_accounts([left_behind, alive], 31_001, TIMEOUT_MS) == {"b"}  # a: 30 s unseen
    assert live_accounts([left_behind, alive], 50_001, TIMEOUT_MS) == set()
    pruned = left_behind.pruned(31_001, TIMEOUT_MS)
    assert pruned.seen == {("b", "http:t1"): 5_000}


def test_a_leave_on_another_instance_outranks_older_sightings_only() -> None:
    a, b = LivePresence("i1"), LivePresence("i2")
    a.touch("s1", "alice", "http:tab", 1_000)
    assert not b.end("s1", "alice", "http:tab", 2_000)  # b never saw it: still recorded
    assert live_accounts([a.sheet("s1"), b.sheet("s1")], 2_001, TIMEOUT_MS) == set()
    a.touch("s1", "alice", "http:tab", 3_000)  # the same tab again, later
    assert live_accounts([a.sheet("s1"), b.sheet("s1")], 3_001, TIMEOUT_MS) == {"alice"}
    b.end_account("s1", "alice", 4_000)  # banned
    assert b.sheet("s1").ended[("alice", EVERY_SESSION)] == 4_000
    assert live_accounts([a.sheet("s1"), b.sheet("s1")], 4_001, TIMEOUT_MS) == set()


def test_an_account_keeps_its_most_recently_seen_sessions_up_to_the_bound() -> None:
    live = LivePresence("i1", max_sessions_per_account=2)
    live.touch("s1", "a", "x", 1)
    live.touch("s1", "a", "y", 2)
    live.touch("s1", "b", "z", 3)  # another account: its own bound
    live.touch("s1", "a", "x", 4)  # x is seen again: y is now the least recent
    live.touch("s1", "a", "w", 5)
    assert live.sheet("s1").seen == {("a", "x"): 4, ("a", "w"): 5, ("b", "z"): 3}
    for i in range(10):
        live.end("s1", "a", f"gone{i}", 10 + i)
    assert live.sheet("s1").ended == {("a", "gone8"): 18, ("a", "gone9"): 19}
    live.end_account("s1", "a", 30)  # a ban outranks the account's other ends
    assert live.sheet("s1").ended == {("a", EVERY_SESSION): 30}
    assert live.sheet("s1").seen == {("b", "z"): 3}
    live.expire(40_000, TIMEOUT_MS)
    assert live.sheet("s1").empty and live.streams() == []


BOUNDED_OP = st.one_of(
    st.tuples(
        st.sampled_from(["touch", "end"]),
        st.sampled_from(STREAMS),
        st.sampled_from(["a", "b"]),
        st.sampled_from(["s0", "s1", "s2", "s3", "s4"]),
    ),
    st.tuples(st.just("ban"), st.sampled_from(STREAMS), st.sampled_from(["a", "b"])),
    st.tuples(st.just("drop"), st.sampled_from(STREAMS)),
    st.tuples(st.just("expire"), st.integers(min_value=1, max_value=40_000)),
)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(BOUNDED_OP, max_size=60), bound=st.integers(min_value=1, max_value=3))
def test_each_account_keeps_its_most_recent_sessions_and_ends_within_the_bound(
    ops: list[tuple],  # type: ignore[type-arg]
    bound: int,
) -> None:
    """Against a model: per stream and account, each book (seen, ended) holds the ``bound``
    most recently written sessions, none older than the timeout (a ban's ``*`` replaces the
    account's ends)."""
    live = LivePresence("i1", max_sessions_per_account=bound)
    books: dict[str, dict[tuple[str, str], dict[str, int]]] = {"seen": {}, "ended": {}}
    now = 1_000_000

    def put(book: str, stream: str, account: str, session: str) -> None:
        held = books[book].setdefault((stream, account), {})
        held.pop(session, None)
        held[session] = now
        while len(held) > bound:
            del held[next(iter(held))]

    for op in ops:
        now += 1
        if op[0] == "touch":
            _, stream, account, session = op
            live.touch(stream, account, session, now)
            put("seen", stream, account, session)
            books["ended"].get((stream, account), {}).pop(session, None)
        elif op[0] == "end":
            _, stream, account, session = op
            live.end(stream, account, session, now)
            books["seen"].get((stream, account), {}).pop(session, None)
            put("ended", stream, account, session)
        elif op[0] == "ban":
            _, stream, account = op
            live.end_account(stream, account, now)
            books["seen"].pop((stream, account), None)
            books["ended"].pop((stream, account), None)
            put("ended", stream, account, EVERY_SESSION)
        elif op[0] == "drop":
            live.drop_stream(op[1])
            for book in books.values():
                for key in [k for k in book if k[0] == op[1]]:
                    del book[key]
        else:
            now += op[1]
            live.expire(now, TIMEOUT_MS)
            for book in books.values():
                for held in book.values():
                    for session in [s for s, t in held.items() if t < now - TIMEOUT_MS]:
                        del held[session]
        for stream in STREAMS:
            sheet = live.sheet(stream)
            for name, entries in (("seen", sheet.seen), ("ended", sheet.ended)):
                expected = {
                    (account, session): t
                    for (s, account), held in books[name].items()
                    if s == stream
                    for session, t in held.items()
                }
                assert entries == expected, (name, stream)
    for stream in live.streams():
        assert not live.sheet(stream).empty
