"""Where the test run's RabbitMQ and MongoDB are.

Order: the environment's ``RABBITMQ_URL``/``MONGODB_URL`` (``make test`` sets them after
``scripts/infra.py up``); else, when a Docker daemon answers, real ``rabbitmq`` and ``mongo``
containers through testcontainers; else ``scripts/infra.py up`` is run here (local broker and
the nx-27017 stand-in). A missing Docker daemon is not an error: it only picks the path.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InfraUrls", "docker_available", "provide_infra", "repo_root"]


@dataclass(frozen=True, slots=True)
class InfraUrls:
    amqp: str
    mongo: str
    mongo_server: str
    source: str


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "scripts" / "infra.py").exists():
            return parent
    return Path.cwd()


def docker_available() -> bool:
    """True when a Docker daemon answers (not merely when the client is installed)."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
    except Exception:
        return False
    return True


def _from_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, raw = line.removeprefix("export ").partition("=")
            values[key] = shlex.split(raw)[0] if raw else ""
    return values


@contextlib.contextmanager
def provide_infra() -> Iterator[InfraUrls]:
    amqp, mongo = os.environ.get("RABBITMQ_URL"), os.environ.get("MONGODB_URL")
    if amqp and mongo:
        server = os.environ.get("LIVECAST_MONGO_SERVER", "MONGODB_URL")
        yield InfraUrls(amqp, mongo, server, "environment")
        return
    if os.environ.get("LIVECAST_TESTCONTAINERS", "auto") != "never" and docker_available():
        from testcontainers.mongodb import MongoDbContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with (
            RabbitMqContainer("rabbitmq:3.13-alpine") as rabbit,
            MongoDbContainer("mongo:7.0") as mongodb,
        ):
            params = rabbit.get_connection_params()
            url = f"amqp://guest:guest@{params.host}:{params.port}/"
            yield InfraUrls(
                url, mongodb.get_connection_url(), "mongo:7.0 (testcontainers)", "docker"
            )
        return
    root = repo_root()
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(root / "scripts" / "infra.py"), "up"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"could not bring infrastructure up: {result.stderr.strip()}")
    values = _from_env_file(root / ".infra" / "env")
    yield InfraUrls(
        values["RABBITMQ_URL"], values["MONGODB_URL"], values["LIVECAST_MONGO_SERVER"], "infra.py"
    )
