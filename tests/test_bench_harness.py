"""``make bench`` works: the harness runs a benchmark in a subprocess and writes its table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.infra import InfraUrls

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def test_bench_run_writes_json_and_markdown_with_the_servers(
    infra: InfraUrls, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "RABBITMQ_URL": infra.amqp,
        "MONGODB_URL": infra.mongo,
        "LIVECAST_MONGO_SERVER": infra.mongo_server,
        "BENCH_QUICK": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "publish", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((tmp_path / "results.json").read_text())
    (row,) = data["results"]
    assert row["benchmark"] == "publish"
    assert row["value"] > 0 and row["baseline_value"] > 0
    assert row["ratio"] == pytest.approx(row["value"] / row["baseline_value"], rel=1e-2)
    assert "RabbitMQ" in data["servers"]["rabbitmq"]
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| publish |" in table
    assert infra.mongo_server in table


def test_unknown_benchmark_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "no_such_bench", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr


def test_a_partial_run_replaces_every_row_of_the_benchmarks_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.run import _merge_previous

    previous = [
        {"benchmark": "chat_fanout", "metric": "old"},
        {"benchmark": "chat_memory", "metric": "old"},
        {"benchmark": "chatter", "metric": "kept: another benchmark"},
        {"benchmark": "notifier", "metric": "kept"},
    ]
    (tmp_path / "results.json").write_text(json.dumps({"results": previous}))
    merged = _merge_previous(
        tmp_path / "results.json", ["chat"], [{"benchmark": "chat_fanout", "metric": "new"}]
    )
    assert sorted((r["benchmark"], r["metric"]) for r in merged) == [
        ("chat_fanout", "new"),
        ("chatter", "kept: another benchmark"),
        ("notifier", "kept"),
    ]


def test_load_curves_are_written_as_png_and_linked_from_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.plots import Curve, plot_load_curves
    from bench.run import render_markdown

    path = plot_load_curves(
        tmp_path / "viewers.png",
        title="t",
        levels=[1, 2, 4],
        curves={
            "ours": Curve([10, 20, 19], [5, 6, 9], shed_pct=[0, 0, 30]),
            "floor": Curve([30, 60, 90], [1, 1, 2]),
        },
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = {
        "finished": "now",
        "machine": {"cpu": "cpu", "cores": 2, "python": "3.11"},
        "servers": {"rabbitmq": "RabbitMQ", "mongodb": "db"},
    }
    row = {
        "benchmark": "viewers",
        "metric": "m",
        "unit": "req/s",
        "value": 1.0,
        "baseline_name": "b",
        "baseline_value": 2.0,
        "ratio": 0.5,
        "goal": 0.5,
        "met": True,
        "details": {"plot": "viewers.png"},
    }
    assert "![viewers](viewers.png)" in render_markdown(meta, [row])
