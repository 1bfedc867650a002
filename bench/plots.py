"""Curves, not points: throughput and p99 latency against offered load, ours beside the baseline,
written as a PNG next to ``RESULTS.md`` (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Curve", "plot_load_curves"]


@dataclass(frozen=True, slots=True)
class Curve:
    """One series measured at every load level.

    Args:
        throughput: successful operations per second at each level.
        p99_ms: the 99th percentile latency of the successful operations, milliseconds.
        shed_pct: the share of answers that were load shedding (503), percent, if any.
    """

    throughput: Sequence[float]
    p99_ms: Sequence[float]
    shed_pct: Sequence[float] | None = None


def plot_load_curves(
    path: Path,
    *,
    title: str,
    levels: Sequence[int],
    curves: Mapping[str, Curve],
    xlabel: str = "concurrent connections (closed loop)",
    throughput_label: str = "successful requests/s",
    latency_label: str = "p99 latency of successful requests, ms",
) -> Path:
    """Two panels (throughput, p99 on a log scale) against ``levels`` on a log-2 axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 8), sharex=True)
    shedding = {n: c.shed_pct for n, c in curves.items() if c.shed_pct and any(c.shed_pct)}
    shed_axis = top.twinx() if shedding else None
    for name, curve in curves.items():
        (line,) = top.plot(levels, curve.throughput, marker="o", label=name)
        bottom.plot(levels, curve.p99_ms, marker="o", color=line.get_color(), label=name)
        if shed_axis is not None and name in shedding:
            shed_axis.plot(levels, shedding[name], linestyle=":", color=line.get_color())
    if shed_axis is not None:
        shed_axis.set_ylabel("answers shed with 503, % (dotted)")
        shed_axis.set_ylim(0, 100)
    top.set_title(title)
    top.set_ylabel(throughput_label)
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="best")
    bottom.set_ylabel(latency_label)
    bottom.set_yscale("log")
    bottom.set_xscale("log", base=2)
    bottom.set_xticks(list(levels))
    bottom.set_xticklabels([str(x) for x in levels])
    bottom.set_xlabel(xlabel)
    bottom.grid(True, which="both", alpha=0.3)
    bottom.legend(loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
