"""Viewer counts arrive in any order; the current count, the peak and viewer-seconds do not
depend on it (within the window of recent counts a stream keeps)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from stream_svc.domain.model import COUNT_WINDOW, LiveStream

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def stream() -> LiveStream:
    return LiveStream(stream_id="s", owner_id="o", title="t", created_at=T0)


def integral(samples: list[tuple[int, int]]) -> float:
    ordered = sorted(samples)
    return sum(n * (later - at) / 1000 for (at, n), (later, _) in pairwise(ordered))


samples_strategy = st.dictionaries(
    st.integers(min_value=0, max_value=3_600_000),
    st.integers(min_value=0, max_value=10_000),
    min_size=1,
    max_size=COUNT_WINDOW,
).map(lambda d: [(T0_MS + t, n) for t, n in d.items()])


@given(samples=samples_strategy, data=st.data())
def test_any_arrival_order_gives_the_same_count_peak_and_viewer_seconds(
    samples: list[tuple[int, int]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(samples))
    s = stream()
    for at, n in shuffled:
        s.add_count(at, n, peak=n)
    newest_at, newest_n = max(samples)
    assert s.viewer_count == newest_n
    assert s.viewer_count_as_of == datetime.fromtimestamp(newest_at / 1000, UTC)
    assert s.peak_viewer_count == max(n for _, n in samples)
    assert abs(s.total_viewer_seconds - integral(samples)) < 1e-6


def test_a_redelivered_count_changes_nothing() -> None:
    s = stream()
    assert s.add_count(T0_MS, 5, peak=5)
    assert s.add_count(T0_MS + 20_000, 9, peak=9)
    assert not s.add_count(T0_MS, 5, peak=5)
    assert s.total_viewer_seconds == 100.0


def test_counts_beyond_the_window_are_folded_and_older_ones_only_raise_the_peak() -> None:
    s = stream()
    samples = [(T0_MS + i * 1000, i % 7) for i in range(COUNT_WINDOW + 10)]
    for at, n in samples:
        s.add_count(at, n, peak=n)
    assert len(s.count_samples) == COUNT_WINDOW
    assert abs(s.total_viewer_seconds - integral(samples)) < 1e-6
    before = s.total_viewer_seconds
    assert s.add_count(T0_MS + 500, 1, peak=50)  # older than the window: the peak only
    assert s.total_viewer_seconds == before
    assert s.peak_viewer_count == 50
    assert s.viewer_count == samples[-1][1]
