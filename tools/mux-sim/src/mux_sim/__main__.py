"""``python -m mux_sim``: run the simulator (flags, or ``MUXSIM_*`` environment variables)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from mux_sim.app import create_app
from mux_sim.config import Knobs, SimConfig


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"MUXSIM_{name}")
    file = os.environ.get(f"MUXSIM_{name}_FILE")
    if value is None and file:
        with open(file) as fh:
            value = fh.read().strip()
    return value if value is not None else default


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mux_sim", description="Local Mux simulator")
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(_env("PORT", "8200") or 8200))
    parser.add_argument("--token-id", default=_env("TOKEN_ID", "sim-token-id"))
    parser.add_argument("--token-secret", default=_env("TOKEN_SECRET", "sim-token-secret"))
    parser.add_argument("--webhook-url", default=_env("WEBHOOK_URL"))
    parser.add_argument("--webhook-secret", default=_env("WEBHOOK_SECRET", "sim-webhook-secret"))
    parser.add_argument("--public-base-url", default=_env("PUBLIC_BASE_URL"))
    parser.add_argument("--hls-dir", default=_env("HLS_DIR"), help="cache of the test pattern")
    parser.add_argument(
        "--reconnect-window",
        type=float,
        default=None,
        help="override every stream's reconnect_window (seconds)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s mux-sim %(levelname)s %(message)s")
    knobs = Knobs(reconnect_window_override_s=args.reconnect_window)
    config = SimConfig(
        token_id=args.token_id,
        token_secret=args.token_secret,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        public_base_url=args.public_base_url or f"http://{args.host}:{args.port}",
        hls_dir=Path(args.hls_dir) if args.hls_dir else None,
        knobs=knobs,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
