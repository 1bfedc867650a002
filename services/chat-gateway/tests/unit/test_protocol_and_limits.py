from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_gateway.protocol import ProtocolError, clean_text, decode
from contracts.ws import ChatSend, Ping
from servicekit.ratelimit import AbuseCounter, Budget, MemoryRateBudgets


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00", "binary_frame"),
        ("{nope", "invalid_json"),
        ("[1]", "invalid_frame"),
        ('{"no": "type"}', "invalid_frame"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "chat.send", "message": "hi"}', "invalid_frame"),
        ('{"type": "chat.send", "client_msg_id": "c1", "text": "hi"}', "invalid_frame"),
        ('{"type": "chat.send", "client_msg_id": "", "message": "hi"}', "invalid_frame"),
        ('{"type": "ping", "extra": 1}', "invalid_frame"),
    ],
)
def test_bad_frames_are_refused_with_a_reason(raw: str | bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        decode(raw)
    assert exc.value.reason == reason


def test_good_frames_decode_to_their_types() -> None:
    assert isinstance(
        decode('{"type": "chat.send", "client_msg_id": "c1", "message": "hi"}'), ChatSend
    )
    assert decode('{"type": "ping", "nonce": "n"}') == Ping(nonce="n")


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("  hello  ", "hello"),
        ("é" * 500, "é" * 500),
        ("multi\u200dunicode 👩‍💻", "multi\u200dunicode 👩‍💻"),
    ],
)
def test_text_is_trimmed_and_accepted(text: str, result: str) -> None:
    assert clean_text(text) == result


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("x" * 501, "too_long"),
        ("bell\x07", "control_characters"),
        ("line\nbreak", "control_characters"),
    ],
)
def test_bad_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        clean_text(text)
    assert exc.value.reason == reason


def test_a_budget_allows_a_burst_then_refills() -> None:
    budget = Budget(burst=3, rate=1.0)
    tat = None
    for _ in range(3):
        tat, wait = budget.decide(tat, 0)
        assert wait == 0
    assert budget.decide(tat, 0) == (None, pytest.approx(1.0))
    assert budget.decide(tat, 500) == (None, pytest.approx(0.5))
    assert budget.decide(tat, 1000)[1] == 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=8),
    st.sampled_from([0.5, 1.0, 2.0, 20.0]),
    st.lists(st.integers(min_value=0, max_value=3000), max_size=60),
)
def test_no_window_passes_more_than_the_burst_plus_the_refill(
    burst: int, rate: float, gaps: list[int]
) -> None:
    budget = Budget(burst=burst, rate=rate)
    tat, now, passed = None, 0, []
    for gap in gaps:
        now += gap
        new_tat, wait = budget.decide(tat, now)
        if new_tat is not None:
            tat = new_tat
            passed.append(now)
        else:
            assert wait > 0
    for i, start in enumerate(passed):
        for j in range(i, len(passed)):
            window_ms = passed[j] - start
            assert j - i + 1 <= burst + window_ms // budget.interval_ms


class TestRateBudgetChargesArrivalTime:
    """Issue 17: messages held back by a stalled database were processed as a burst and
    emptied the budget of a sender who sent one a second. The service charges each message at
    its arrival time (``ChatService.post(arrived_at=...)``, stamped by the socket reader)."""

    async def test_a_backlog_handled_at_once_is_charged_when_it_arrived(self) -> None:
        budgets = MemoryRateBudgets(Budget(burst=5, rate=1.0))
        arrivals_ms = [t * 1000 for t in range(20)]  # one a second during a 20 s stall
        assert [await budgets.take("a", t) for t in arrivals_ms] == [0.0] * 20

    async def test_the_same_backlog_charged_at_processing_time_was_refused(self) -> None:
        budgets = MemoryRateBudgets(Budget(burst=5, rate=1.0))
        handled_at_ms = 25_000  # all 20 handled in the same instant
        waits = [await budgets.take("a", handled_at_ms) for _ in range(20)]
        assert waits[:5] == [0.0] * 5
        assert all(w > 0 for w in waits[5:])


def test_abuse_counts_refusals_inside_the_window() -> None:
    clock = Clock()
    abuse = AbuseCounter(limit=3, window_s=10, clock=clock)
    assert not abuse.refused()
    assert not abuse.refused()
    clock.t = 11  # the first two fall out of the window
    assert not abuse.refused()
    assert not abuse.refused()
    assert abuse.refused()
