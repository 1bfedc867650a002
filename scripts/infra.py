#!/usr/bin/env python3
"""Bring up the infrastructure the services and tests need, reusing what is already up.

    python3 scripts/infra.py up      # RabbitMQ + MongoDB; writes .infra/env; idempotent
    python3 scripts/infra.py up --tools   # ... and nginx, ffmpeg, chromium (Debian's packages)
    python3 scripts/infra.py down    # stop the MongoDB stand-in this checkout started
    python3 scripts/infra.py status

RabbitMQ: ``RABBITMQ_URL`` if set (must be reachable); else the local server on 5672, started
(``rabbitmq-server -detached``) if installed and down, installed from Debian's packages if
missing. MongoDB: ``MONGODB_URL`` if set; else the pinned ``nx-27017`` stand-in (a MongoDB
wire-protocol server on SQLite, installed in the virtualenv by ``uv sync``) started in the
background on a free port, its data under the git-ignored ``.infra/mongo``.

Standard library only: it runs before anything else is installed. Each failure is one line.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".infra"
MONGO_DIR = STATE / "mongo"
#: how benchmarks name the database server when it is our stand-in (pinned in pyproject.toml)
STANDIN = "nx-27017 0.8.1 (SQLite stand-in)"
ENV_FILE = STATE / "env"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def say(msg: str) -> None:
    print(f"infra: {msg}", flush=True)


def fail(msg: str) -> None:
    print(f"infra: error: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.25)
    return False


def amqp_handshake(host: str, port: int) -> bool:
    """True when an AMQP 0-9-1 server answers the protocol header (not just an open port)."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            sock.settimeout(3)
            data = sock.recv(8)
            return data[:1] == b"\x01"  # a Connection.Start method frame
    except OSError:
        return False


def host_port(url: str, default_port: int) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or default_port


# ---- RabbitMQ -------------------------------------------------------------------------------


def ensure_rabbitmq() -> str:
    url = os.environ.get("RABBITMQ_URL")
    if url:
        host, port = host_port(url, 5672)
        if not wait_port(host, port, 10):
            fail(f"RABBITMQ_URL is set but {host}:{port} is not reachable")
        say(f"rabbitmq: using RABBITMQ_URL ({host}:{port})")
        return url
    if amqp_handshake("127.0.0.1", 5672):
        say("rabbitmq: already running on 127.0.0.1:5672")
        return DEFAULT_AMQP
    server = shutil.which("rabbitmq-server") or (
        "/usr/sbin/rabbitmq-server" if Path("/usr/sbin/rabbitmq-server").exists() else None
    )
    if server is None:
        install_rabbitmq()
        server = "/usr/sbin/rabbitmq-server"
    say("rabbitmq: starting the local server (rabbitmq-server -detached)")
    subprocess.run([server, "-detached"], check=False, capture_output=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if amqp_handshake("127.0.0.1", 5672):
            say("rabbitmq: up on 127.0.0.1:5672")
            return DEFAULT_AMQP
        time.sleep(0.5)
    fail("rabbitmq-server did not come up on 127.0.0.1:5672 within 90 s (see /var/log/rabbitmq)")
    raise AssertionError


def install_rabbitmq() -> None:
    apt = shutil.which("apt-get")
    if apt is None:
        fail("RabbitMQ is not installed and apt-get is missing: set RABBITMQ_URL to a broker")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    say("rabbitmq: installing Debian's rabbitmq-server (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [*sudo, apt, "install", "-y", "-q", "--no-install-recommends", "rabbitmq-server"]
    if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run([*sudo, apt, "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            fail(f"could not install rabbitmq-server: {last}")


# ---- tools from Debian's packages ---------------------------------------------------------------

#: binary -> Debian package; installed by `up --tools` (make test, make run) when missing.
TOOLS = {"nginx": "nginx", "ffmpeg": "ffmpeg", "chromium": "chromium"}


def which(binary: str) -> str | None:
    found = shutil.which(binary)
    if found is None and Path(f"/usr/sbin/{binary}").exists():
        found = f"/usr/sbin/{binary}"
    return found


def ensure_tool(binary: str, *, required: bool = True) -> str | None:
    """The path of ``binary``, installing its Debian package first if it is missing."""
    found = which(binary)
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is not None:
        package = TOOLS.get(binary, binary)
        say(f"{binary}: installing Debian's {package} (apt-get)")
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        cmd = [*sudo, apt, "install", "-y", "-q", "--no-install-recommends", package]
        if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run([*sudo, apt, "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(cmd, env=env, capture_output=True, check=False)
        found = which(binary)
    if found is None and required:
        fail(
            f"{binary} is missing and could not be installed (Debian package {TOOLS.get(binary, binary)})"
        )
    return found


# ---- MongoDB --------------------------------------------------------------------------------


def free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 200)]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def running_standin() -> int | None:
    """Port of the stand-in this checkout started, if it still runs."""
    try:
        pid = int((MONGO_DIR / "nx.pid").read_text())
        port = int((MONGO_DIR / "port").read_text())
    except (OSError, ValueError):
        return None
    if pid_alive(pid) and port_open("127.0.0.1", port):
        return port
    return None


def standin_binary() -> Path:
    candidates = [ROOT / ".venv" / "bin" / "nx-27017", Path(sys.prefix) / "bin" / "nx-27017"]
    for path in candidates:
        if path.exists():
            return path
    found = shutil.which("nx-27017")
    if found:
        return Path(found)
    fail("nx-27017 is not installed: run `make setup` (uv sync installs the pinned stand-in)")
    raise AssertionError


def ensure_mongodb() -> tuple[str, str]:
    url = os.environ.get("MONGODB_URL")
    if url:
        host, port = host_port(url, 27017)
        if "+srv" not in url and not wait_port(host, port, 10):
            fail(f"MONGODB_URL is set but {host}:{port} is not reachable")
        say(f"mongodb: using MONGODB_URL ({host}:{port})")
        own = running_standin()
        if own is not None and (host, port) == ("127.0.0.1", own):  # .infra/env, sourced
            return url, STANDIN
        return url, os.environ.get("LIVECAST_MONGO_SERVER") or "MONGODB_URL"
    port = running_standin()
    if port is None:
        MONGO_DIR.mkdir(parents=True, exist_ok=True)
        (MONGO_DIR / "data").mkdir(exist_ok=True)
        binary = standin_binary()
        for attempt in range(5):
            # Another checkout starting its own stand-in at the same moment may take the port we
            # found free: only a server that this process started listening counts.
            port = free_port(27117 + 7 * attempt)
            if start_standin(binary, port):
                break
            say(f"mongodb: port {port} was taken meanwhile (another checkout?); trying another")
        else:
            fail(f"nx-27017 did not come up after 5 ports (see {MONGO_DIR / 'nx.log'})")
    else:
        say(f"mongodb: nx-27017 stand-in already running on 127.0.0.1:{port}")
    return f"mongodb://127.0.0.1:{port}/?directConnection=true", STANDIN


def start_standin(binary: Path, port: int) -> bool:
    """Start the stand-in on ``port``; True once it (not another process) listens there."""
    say(f"mongodb: starting the nx-27017 stand-in on 127.0.0.1:{port}")
    log = open(MONGO_DIR / "nx.log", "ab")  # noqa: SIM115 (handed to the child)
    proc = subprocess.Popen(
        [
            str(binary),
            "--data-dir",
            str(MONGO_DIR / "data"),
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--log-file",
            str(MONGO_DIR / "nx.log"),
            "--pid-file",
            str(MONGO_DIR / "nx.daemon.pid"),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=MONGO_DIR,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False  # it could not bind (or died): the port is somebody else's
        if listens(proc.pid, port):
            (MONGO_DIR / "nx.pid").write_text(str(proc.pid))
            (MONGO_DIR / "port").write_text(str(port))
            return True
        time.sleep(0.25)
    proc.terminate()
    fail(f"nx-27017 did not listen on {port} within 30 s (see {MONGO_DIR / 'nx.log'})")
    raise AssertionError


def listens(pid: int, port: int) -> bool:
    """True when process ``pid`` holds a socket listening on TCP ``port`` (Linux ``/proc``;
    elsewhere, an open port is taken as the answer)."""
    proc_net = Path("/proc/net/tcp")
    if not proc_net.exists():
        return port_open("127.0.0.1", port)
    inodes = set()
    for table in (proc_net, Path("/proc/net/tcp6")):
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


def stop_standin() -> None:
    try:
        pid = int((MONGO_DIR / "nx.pid").read_text())
    except (OSError, ValueError):
        say("mongodb: no stand-in started by this checkout")
        return
    if pid_alive(pid):
        os.kill(pid, 15)
        for _ in range(40):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
        say(f"mongodb: stopped nx-27017 (pid {pid})")
    (MONGO_DIR / "nx.pid").unlink(missing_ok=True)


def write_env(amqp: str, mongo: str, server: str) -> None:
    STATE.mkdir(exist_ok=True)
    lines = [
        f"export RABBITMQ_URL='{amqp}'",
        f"export MONGODB_URL='{mongo}'",
        f"export LIVECAST_MONGO_SERVER='{server}'",
    ]
    ENV_FILE.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "up"
    if cmd == "up":
        amqp = ensure_rabbitmq()
        mongo, server = ensure_mongodb()
        write_env(amqp, mongo, server)
        if "--tools" in argv:
            for tool in TOOLS:
                say(f"{tool}: {ensure_tool(tool)}")
        say(f"ready (environment in {ENV_FILE.relative_to(ROOT)})")
    elif cmd == "down":
        stop_standin()
    elif cmd == "status":
        port = running_standin()
        say(f"rabbitmq 127.0.0.1:5672 {'up' if amqp_handshake('127.0.0.1', 5672) else 'down'}")
        say(f"mongodb stand-in {'up on ' + str(port) if port else 'not running'}")
    else:
        fail(f"unknown command {cmd!r}: use up, down or status")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
