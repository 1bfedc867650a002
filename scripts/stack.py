#!/usr/bin/env python3
"""Run the whole livecast system locally (what ``make run`` runs).

Brings up (or reuses) RabbitMQ and MongoDB via ``scripts/infra.py``, then starts the Mux simulator
(unless ``MUX_TOKEN_ID``/``MUX_TOKEN_SECRET`` are set), the five services with two chat-gateway
instances, and the nginx gateway. Waits for every ``/readyz``, prints where everything is, and
supervises: a service that dies is restarted. Ctrl-C (or SIGTERM) stops everything it started,
and nothing else.

    python scripts/stack.py [--port-offset N] [--namespace PREFIX] [--reconnect-window S]

Logs: ``.infra/stack[-N]/logs/<process>.log`` (JSON lines).
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import json
import os
import pwd
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import infra  # noqa: E402  (scripts/infra.py, stdlib only)

PY = sys.executable


def say(msg: str) -> None:
    print(f"stack: {msg}", flush=True)


@dataclass
class Proc:
    name: str
    cmd: list[str]
    env: dict[str, str]
    ready_url: str
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")  # noqa: SIM115 (owned by the child)
        self.popen = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive() and self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (local URLs only)
            return bool(200 <= resp.status < 300)
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def secret(state: Path, name: str, env_name: str) -> Path:
    """A secret as a file: ``ENV_FILE`` if set; ``ENV`` written to a file of this stack; else one
    generated once under ``.infra/secrets`` (shared by every local stack and ``make token``)."""
    if os.environ.get(f"{env_name}_FILE"):
        return Path(os.environ[f"{env_name}_FILE"])
    if os.environ.get(env_name):
        path = state / "secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.environ[env_name])
    else:
        path = ROOT / ".infra" / "secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
    path.chmod(0o600)
    return path


def infra_env() -> dict[str, str]:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "infra.py"), "up"], check=False)
    if result.returncode != 0:
        raise SystemExit(1)
    values = {}
    for line in (ROOT / ".infra" / "env").read_text().splitlines():
        key, _, raw = line.removeprefix("export ").partition("=")
        values[key] = raw.strip("'")
    return values


#: Two file descriptors per proxied WebSocket (client and upstream): 65,536 connections hold
#: 2 x 20,000 idle chat sockets with room to spare (issue 17; figures in deploy/README.md).
NGINX_WORKER_CONNECTIONS = 65_536
NGINX_OPEN_FILES = 2 * NGINX_WORKER_CONNECTIONS


def _nginx_workers() -> int:
    """Enough workers for the descriptors above where a worker may not raise its own limit
    (no ``CAP_SYS_RESOURCE``: each keeps the hard limit this process has)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard >= NGINX_OPEN_FILES:
        return 1
    needed = 4 * 20_000 + 2_000  # 2 instances x 20,000 sockets x (client + upstream), spare
    return max(1, min(8, -(-needed // max(hard - 1_000, 1_000))))


def render_nginx(state: Path, ports: dict[str, int]) -> Path:
    template = (ROOT / "deploy" / "nginx" / "livecast.conf.template").read_text()
    values = {
        "STREAM_SVC": f"127.0.0.1:{ports['stream']}",
        "VIEWER_SVC": f"127.0.0.1:{ports['viewer']}",
        "WEBHOOK_INGEST": f"127.0.0.1:{ports['ingest']}",
        "NOTIFIER": f"127.0.0.1:{ports['notifier']}",
        "CHAT_HTTP_A": f"127.0.0.1:{ports['chat_a']}",
        "CHAT_HTTP_B": f"127.0.0.1:{ports['chat_b']}",
        "CHAT_WS_A": f"127.0.0.1:{ports['chat_a_ws']}",
        "CHAT_WS_B": f"127.0.0.1:{ports['chat_b_ws']}",
        "MUX_SIM": f"127.0.0.1:{ports['sim']}",
        "LISTEN": f"127.0.0.1:{ports['gateway']}",
        "ACCESS_LOG": nginx_string(state / "logs" / "gateway-access.log"),
        "WEB_ROOT": nginx_string(ROOT / "clients" / "web"),
        "MUX_DATA_ENV_KEY": mux_data_env_key(),
    }
    for key, value in values.items():
        template = template.replace("${" + key + "}", value)
    nginx_dir = state / "nginx"
    for sub in ("tmp", "logs"):
        (nginx_dir / sub).mkdir(parents=True, exist_ok=True)
    (state / "logs").mkdir(parents=True, exist_ok=True)
    conf = nginx_dir / "nginx.conf"
    tmp = nginx_dir / "tmp"
    q = nginx_string
    conf.write_text(
        worker_user()
        + f'worker_processes {_nginx_workers()};\ndaemon off;\npid "{q(nginx_dir / "nginx.pid")}";\n'
        + f'error_log "{q(state / "logs" / "gateway-error.log")}" warn;\n'
        + f"worker_rlimit_nofile {NGINX_OPEN_FILES};\n"
        + f"events {{ worker_connections {NGINX_WORKER_CONNECTIONS}; }}\n"
        + "http {\n"
        + f'  client_body_temp_path "{q(tmp / "body")}"; proxy_temp_path "{q(tmp / "proxy")}";\n'
        + f'  fastcgi_temp_path "{q(tmp / "fcgi")}"; uwsgi_temp_path "{q(tmp / "uwsgi")}";\n'
        + f'  scgi_temp_path "{q(tmp / "scgi")}";\n'
        + "  server_tokens off;\n"
        + template
        + "\n}\n"
    )
    return conf


def mux_data_env_key() -> str:
    """``MUX_DATA_ENV_KEY`` from the environment, for the web client's Mux Player (served in
    ``/app/config.json``); empty when unset (no Mux Data beacons). Mux's environment keys are
    letters and digits: anything else is refused rather than written into the nginx config."""
    key = os.environ.get("MUX_DATA_ENV_KEY", "").strip()
    if not re.fullmatch(r"[A-Za-z0-9]{0,64}", key):
        raise SystemExit("stack: MUX_DATA_ENV_KEY must be the letters and digits of a Mux Data key")
    return key


def nginx_string(path: Path) -> str:
    """``path`` for inside a double-quoted nginx string: a checkout may sit in a folder whose
    name has spaces, quotes or non-ASCII letters. nginx expands ``$`` in ``alias`` and
    ``access_log`` and has no escape for it, so such a path is refused with a clear message."""
    text = str(path)
    if "$" in text:
        raise SystemExit(
            f"stack: nginx cannot serve from a path containing '$' ({text}): clone elsewhere"
        )
    return text.replace("\\", "\\\\").replace('"', '\\"')


def worker_user() -> str:
    """nginx started as root serves files from workers running as ``nobody``, which cannot
    enter a checkout in a private (0700) folder: the workers run as the user who ran the stack.
    Not root: nginx ignores the directive (with a warning), and the workers are that user."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};\n"


def ports_for(offset: int) -> dict[str, int]:
    base = {
        "gateway": 8080,
        "stream": 8101,
        "viewer": 8102,
        "ingest": 8104,
        "notifier": 8105,
        "chat_a": 8110,
        "chat_a_ws": 8111,
        "chat_b": 8120,
        "chat_b_ws": 8121,
        "sim": 8200,
    }
    return {k: v + offset for k, v in base.items()}


def check_ports(ports: dict[str, int], offset: int) -> None:
    """Refuse to start, naming the port, when one of the stack's ports is taken (another
    checkout's ``make run``, most often), instead of a service dying with a traceback."""
    for name, port in ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                free = offset + 200
                raise SystemExit(
                    f"stack: port {port} ({name}) on 127.0.0.1 is already in use: is another "
                    "livecast stack running (make run in another checkout)? Stop it, or run this "
                    f"one beside it on other ports: STACK_PORT_OFFSET={free} make run"
                ) from None


def default_namespace(namespace: str, offset: int) -> str:
    """A stack on other ports shares the broker with the first: it gets its own exchanges and
    queues, or the two stacks' services would take each other's events."""
    return namespace or (f"stack{offset}." if offset else "")


def build(args: argparse.Namespace) -> tuple[list[Proc], dict[str, int], Path, bool]:
    ports = ports_for(args.port_offset)
    state = ROOT / ".infra" / ("stack" if args.port_offset == 0 else f"stack-{args.port_offset}")
    logs = state / "logs"
    env = {
        **os.environ,
        **infra_env(),
        "LIVECAST_NAMESPACE": args.namespace,
        "LOG_LEVEL": "INFO",
        "LIVECAST_ENV": "dev",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AUTH_JWT_SECRET", None)
    env["AUTH_JWT_SECRET_FILE"] = str(secret(state, "jwt_secret", "AUTH_JWT_SECRET"))
    env.pop("MUX_WEBHOOK_SECRET", None)
    env["MUX_WEBHOOK_SECRET_FILE"] = str(secret(state, "mux_webhook_secret", "MUX_WEBHOOK_SECRET"))
    real_mux = bool(os.environ.get("MUX_TOKEN_ID") or os.environ.get("MUX_TOKEN_ID_FILE"))
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    procs: list[Proc] = []

    def svc(
        name: str, module: str, port: int, extra: dict[str, str], ready_path: str = "/readyz"
    ) -> None:
        procs.append(
            Proc(
                name,
                [PY, "-m", module],
                {**env, "HTTP_PORT": str(port), **extra},
                f"http://127.0.0.1:{port}{ready_path}",
                logs / f"{name}.log",
            )
        )

    mux_env: dict[str, str] = {}
    if not real_mux:
        token_id = secret(state, "mux_token_id", "MUXSIM_TOKEN_ID")
        token_secret = secret(state, "mux_token_secret", "MUXSIM_TOKEN_SECRET")
        sim = [
            PY,
            "-m",
            "mux_sim",
            "--port",
            str(ports["sim"]),
            "--public-base-url",
            gateway,
            "--hls-dir",
            str(ROOT / ".infra" / "hls"),
        ]
        if args.reconnect_window is not None:
            sim += ["--reconnect-window", str(args.reconnect_window)]
        procs.append(
            Proc(
                "mux-sim",
                sim,
                {
                    **env,
                    "MUXSIM_TOKEN_ID_FILE": str(token_id),
                    "MUXSIM_TOKEN_SECRET_FILE": str(token_secret),
                    "MUXSIM_WEBHOOK_URL": f"{gateway}/webhooks/mux",
                    "MUXSIM_WEBHOOK_SECRET_FILE": env["MUX_WEBHOOK_SECRET_FILE"],
                },
                f"http://127.0.0.1:{ports['sim']}/_sim/health",
                logs / "mux-sim.log",
            )
        )
        mux_env = {
            "MUX_API_URL": f"http://127.0.0.1:{ports['sim']}",
            "MUX_TOKEN_ID_FILE": str(token_id),
            "MUX_TOKEN_SECRET_FILE": str(token_secret),
            "STREAM_PLAYBACK_BASE_URL": f"{gateway}/hls",
            "STREAM_THUMBNAIL_BASE_URL": f"{gateway}/image",
        }
    svc("webhook-ingest", "webhook_ingest", ports["ingest"], {})
    svc("stream-svc", "stream_svc", ports["stream"], mux_env)
    svc("viewer-svc", "viewer_svc", ports["viewer"], {})
    svc("notifier", "notifier", ports["notifier"], {})
    for name, http, ws in (
        ("chat-gateway-a", "chat_a", "chat_a_ws"),
        ("chat-gateway-b", "chat_b", "chat_b_ws"),
    ):
        svc(
            name,
            "chat_gateway",
            ports[http],
            {"CHAT_WS_PORT": str(ports[ws]), "CHAT_INSTANCE_ID": name},
        )
    nginx = infra.ensure_tool("nginx")
    if infra.ensure_tool("ffmpeg", required=False) is None:
        say("ffmpeg could not be installed: the simulator will serve no video")
    conf = render_nginx(state, ports)
    procs.append(
        Proc(
            "gateway",
            [str(nginx), "-p", str(conf.parent), "-c", str(conf)],
            env,
            f"{gateway}/healthz",
            logs / "gateway.log",
        )
    )
    return procs, ports, state, real_mux


def banner(ports: dict[str, int], state: Path, real_mux: bool, offset: int) -> None:
    g = f"http://127.0.0.1:{ports['gateway']}"
    at = "" if offset == 0 else f" STACK_PORT_OFFSET={offset}"
    demo = "" if offset == 0 else f"STACK_PORT_OFFSET={offset} "
    lines = [
        "",
        f"livecast is up. API gateway: {g}   web client: {g}/app/",
        f"  WebSocket chat:   ws://127.0.0.1:{ports['gateway']}/ws/live/<stream_id>?token=<jwt>",
        f"  Mux webhooks:     {g}/webhooks/mux",
        f"  logs:             {state / 'logs'}",
        "",
        "Get a local token (valid 24 h) into $TOKEN:",
        f"  export TOKEN=$(make -s token ACCOUNT=alice{at})",
        "Create a stream:",
        f"  curl -s -X POST {g}/live -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
        '-d \'{"title": "My first stream"}\'',
        "",
        "OBS settings: Settings > Stream > Service: Custom; Server = rtmp_url and Stream Key = stream_key "
        "from that response.",
    ]
    if real_mux:
        lines.append("  (Mux credentials are set: this talks to the real Mux API.)")
    else:
        sim = f"http://127.0.0.1:{ports['sim']}"
        lines += [
            "  The Mux simulator runs in place of Mux: it has no RTMP ingest. Simulate the encoder with",
            f"  curl -X POST {sim}/_sim/passthrough/<stream_id>/connect   (and .../disconnect);",
            f"  players get a generated test pattern at {g}/hls/<playback_id>.m3u8.",
            f"  A scripted walk through the product: {demo}make demo",
        ]
    lines.append("\nCtrl-C stops everything started here.")
    print("\n".join(lines), flush=True)


def supervise(procs: list[Proc], stop_requested: list[bool], on_restart: Callable[[], None]) -> int:
    """Restart a process that dies (``on_restart`` after each: ``ready.json`` keeps the pids)."""
    while not stop_requested[0]:
        for proc in procs:
            if proc.alive() or stop_requested[0]:
                continue
            code = proc.popen.returncode if proc.popen else None
            now = time.monotonic()
            proc.restarts = [t for t in proc.restarts if t > now - 60] + [now]
            if len(proc.restarts) > 5:
                say(f"{proc.name} keeps dying (exit {code}); stopping. Last lines of {proc.log}:")
                print(_tail(proc.log), flush=True)
                return 1
            say(f"{proc.name} exited (code {code}); restarting it")
            proc.start()
            on_restart()
        time.sleep(0.5)
    return 0


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/stack.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port-offset", type=int, default=int(os.environ.get("STACK_PORT_OFFSET", "0"))
    )
    parser.add_argument("--namespace", default=os.environ.get("LIVECAST_NAMESPACE", ""))
    parser.add_argument(
        "--reconnect-window",
        type=float,
        default=None,
        help="the simulator's reconnect window for every stream (seconds)",
    )
    parser.add_argument("--ready-timeout", type=float, default=120)
    args = parser.parse_args(argv)
    args.namespace = default_namespace(args.namespace, args.port_offset)
    check_ports(ports_for(args.port_offset), args.port_offset)
    stop_requested = [False]

    def request_stop(*_: object) -> None:
        stop_requested[0] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    procs, ports, state, real_mux = build(args)
    say(f"starting {len(procs)} processes (logs in {state / 'logs'})")
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + args.ready_timeout
    pending = list(procs)
    code = 0
    while pending and not stop_requested[0]:
        for proc in list(pending):
            if ready(proc.ready_url):
                say(f"{proc.name:<15} ready  {proc.ready_url.rsplit('/', 1)[0]}")
                pending.remove(proc)
            elif not proc.alive():
                say(
                    f"{proc.name} exited during start-up (code {proc.popen.returncode if proc.popen else '?'}):"
                )
                print(_tail(proc.log), flush=True)
                stop_requested[0], code = True, 1
        if time.monotonic() > deadline:
            say(f"not ready after {args.ready_timeout:.0f} s: {', '.join(p.name for p in pending)}")
            stop_requested[0], code = True, 1
        time.sleep(0.25)
    if not stop_requested[0]:

        def write_ready() -> None:
            (state / "ready.json").write_text(
                json.dumps(
                    {"ports": ports, "pids": {p.name: p.popen.pid for p in procs if p.popen}},
                    indent=2,
                )
            )

        write_ready()
        banner(ports, state, real_mux, args.port_offset)
        say("ready")
        code = supervise(procs, stop_requested, on_restart=write_ready)
    say("stopping")
    for proc in procs:
        proc.stop(signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(p.alive() for p in procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in procs:
        proc.stop(signal.SIGKILL)
    (state / "ready.json").unlink(missing_ok=True)
    say("stopped")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
