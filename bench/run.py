"""``python -m bench.run [NAME ...]``: run benchmarks, write ``bench/results/``.

Each ``bench/bench_<name>.py`` runs in its own subprocess (a crash or leak in one does not
touch the others). Results go to ``bench/results/results.json`` and
``bench/results/RESULTS.md`` with the machine, the broker and the database server they ran on;
a result whose details name a ``plot`` (a PNG the benchmark wrote beside them, see
``bench/plots.py``) is linked from it. ``BENCH_QUICK=1`` asks each
benchmark for a short run (used by the test that checks the harness works).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import BenchContext, BenchResult, dump, machine

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


async def _servers(ctx: BenchContext) -> dict[str, str]:
    import aio_pika
    from pymongo import AsyncMongoClient

    from servicekit.mongo import server_description

    out = {"mongodb": ctx.mongo_server}
    try:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            ctx.mongo_url, serverSelectionTimeoutMS=3000
        )
        out["mongodb"] = f"{ctx.mongo_server} [buildInfo: {await server_description(client)}]"
        await client.close()
    except Exception as exc:
        out["mongodb"] += f" (unreachable: {type(exc).__name__})"
    try:
        conn = await aio_pika.connect(ctx.amqp_url)
        props = conn.transport.connection.server_properties if conn.transport else {}
        product = props.get("product", b"RabbitMQ")
        version = props.get("version", b"?")
        out["rabbitmq"] = f"{_s(product)} {_s(version)}"
        await conn.close()
    except Exception as exc:
        out["rabbitmq"] = f"unreachable: {type(exc).__name__}"
    return out


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def run_one(name: str) -> int:
    """Child process: run one benchmark, print its results as one JSON line."""
    module = importlib.import_module(f"bench.bench_{name}")
    ctx = BenchContext.from_env()
    results: list[BenchResult] = asyncio.run(module.run(ctx))
    sys.stdout.write("BENCH-RESULTS " + dump(results) + "\n")
    return 0


def render_markdown(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Run {meta['finished']} on {meta['machine']['cpu']} ({meta['machine']['cores']} cores), "
        f"Python {meta['machine']['python']}.",
        f"Broker: {meta['servers'].get('rabbitmq')}. Database: {meta['servers'].get('mongodb')}.",
        "",
        "Ratio > 1 is better than the baseline (throughput: value/baseline; latency, memory and "
        "CPU: baseline/value). Baselines run in the same process tree in the same run.",
        "",
        "| benchmark | metric | value | baseline | baseline value | ratio | goal | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['benchmark']} | **failed** | {r['error']} | | | | | |")
            continue
        goal = "" if r.get("goal") is None else f"≥{r['goal']:.3g}×"
        met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
        lines.append(
            f"| {r['benchmark']} | {r['metric']} | {r['value']:.4g} {r['unit']} | "
            f"{r['baseline_name']} | {r['baseline_value']:.4g} {r['unit']} | "
            f"{r['ratio']:.3g}× | {goal} | {met} |"
        )
    plots = sorted({str(r["details"]["plot"]) for r in rows if r.get("details", {}).get("plot")})
    if plots:
        lines += ["", "## Load curves", ""]
        lines += [f"![{Path(p).stem}]({p})" for p in plots]
    details = [r for r in rows if r.get("details")]
    if details:
        lines += ["", "## Details", ""]
        for r in details:
            lines.append(f"- **{r['benchmark']} / {r['metric']}**: " + json.dumps(r["details"]))
    return "\n".join(lines) + "\n"


def _merge_previous(
    path: Path, names: list[str], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Keep earlier results of benchmarks not run this time (a partial run updates its rows)."""
    try:
        previous = json.loads(path.read_text()).get("results", [])
    except (OSError, ValueError):
        return rows

    def ran(row: dict[str, Any]) -> bool:  # bench_chat.py writes chat_fanout, chat_memory, ...
        name = str(row.get("benchmark"))
        return any(name == n or name.startswith(f"{n}_") for n in names)

    kept = [r for r in previous if not ran(r)]
    return sorted(kept + rows, key=lambda r: str(r.get("benchmark")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {discover()})")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    if args.one:
        return run_one(args.one)
    names = args.names or discover()
    unknown = sorted(set(names) - set(discover()))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; have {discover()}")
    ctx = BenchContext.from_env()
    meta: dict[str, Any] = {"machine": machine(), "servers": asyncio.run(_servers(ctx))}
    rows: list[dict[str, Any]] = []
    failed = False
    for name in names:
        print(f"bench: {name} ...", flush=True)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.run", "--one", name],
            env={**os.environ, "BENCH_OUT": str(args.out)},
            capture_output=True,
            text=True,
            timeout=args.timeout,
            check=False,
        )
        line = next(
            (ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-RESULTS ")), None
        )
        if proc.returncode != 0 or line is None:
            failed = True
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
            rows.append({"benchmark": name, "error": tail})
            print(f"bench: {name} FAILED: {tail}", flush=True)
            continue
        for r in json.loads(line.removeprefix("BENCH-RESULTS ")):
            rows.append(r)
            print(
                f"bench: {name}/{r['metric']}: {r['value']:.4g} {r['unit']} vs "
                f"{r['baseline_name']} {r['baseline_value']:.4g} -> {r['ratio']}x"
                + (
                    f" (goal {r['goal']}x: {'met' if r['met'] else 'NOT met'})" if r["goal"] else ""
                ),
                flush=True,
            )
        print(f"bench: {name} took {time.monotonic() - started:.1f}s", flush=True)
    meta["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = _merge_previous(args.out / "results.json", names, rows)
    (args.out / "results.json").write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    (args.out / "RESULTS.md").write_text(render_markdown(meta, rows))
    print(f"bench: wrote {args.out / 'RESULTS.md'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
