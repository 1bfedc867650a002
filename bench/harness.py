"""Benchmark harness: every ``bench/bench_*.py`` module defines ``async def run(ctx)``.

Each benchmark measures a figure *and its baseline in the same run* (same process tree, same
machine state) and reports the ratio, so results are comparable across machines. The harness
records the machine, the broker and the database server with every result.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BenchContext", "BenchResult", "Stopwatch", "percentile"]


@dataclass
class BenchResult:
    """One figure beside its baseline.

    ``ratio`` is ``value / baseline`` when ``higher_is_better`` (throughput), else
    ``baseline / value`` (latency, memory, CPU per item): above 1 is always better than the
    baseline. ``goal`` is the minimum ratio the issue asks for, if any.
    """

    benchmark: str
    metric: str
    unit: str
    value: float
    baseline_name: str
    baseline_value: float
    higher_is_better: bool = True
    goal: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.value / self.baseline_value if self.baseline_value else float("inf")
        return self.baseline_value / self.value if self.value else float("inf")

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.ratio >= self.goal

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = round(self.ratio, 3)
        data["met"] = self.met
        return data


@dataclass
class BenchContext:
    """What a benchmark gets: infrastructure URLs, a unique namespace, descriptions, and the
    folder its plots go to (the one ``RESULTS.md`` is written to)."""

    amqp_url: str
    mongo_url: str
    mongo_server: str
    namespace: str = field(default_factory=lambda: f"bench{uuid.uuid4().hex[:8]}.")
    quick: bool = False
    out_dir: Path = field(default_factory=lambda: Path(__file__).parent / "results")

    @classmethod
    def from_env(cls) -> BenchContext:
        return cls(
            amqp_url=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/"),
            mongo_url=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017/"),
            mongo_server=os.environ.get("LIVECAST_MONGO_SERVER", "MONGODB_URL"),
            quick=os.environ.get("BENCH_QUICK") == "1",
            out_dir=Path(os.environ.get("BENCH_OUT") or Path(__file__).parent / "results"),
        )

    def service_env(self, **extra: str) -> dict[str, str]:
        """Environment of a service process started by a benchmark: this run's broker, database
        and namespace, quiet logs; ``extra`` adds or overrides variables."""
        return {
            "RABBITMQ_URL": self.amqp_url,
            "MONGODB_URL": self.mongo_url,
            "LIVECAST_NAMESPACE": self.namespace,
            "LOG_LEVEL": "WARNING",
            **extra,
        }

    def scale(self, full: int, quick: int) -> int:
        """``quick`` in a quick run (``BENCH_QUICK=1``), else ``full``."""
        return quick if self.quick else full


class Stopwatch:
    """Wall time and process CPU time of a block."""

    def __enter__(self) -> Stopwatch:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0–100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo").read().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


BenchFn = Callable[[BenchContext], Awaitable[list[BenchResult]]]


def dump(results: list[BenchResult]) -> str:
    return json.dumps([r.to_json() for r in results])
