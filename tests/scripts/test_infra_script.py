"""``scripts/infra.py`` when several checkouts start their MongoDB stand-in at the same moment:
a port another process takes between "found free" and "listening" must not be mistaken for ours."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def infra_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "livecast_infra_script", ROOT / "scripts" / "infra.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "MONGO_DIR", tmp_path / "mongo")
    monkeypatch.setattr(module, "say", lambda _msg: None)
    monkeypatch.delenv("MONGODB_URL", raising=False)
    return module


def test_a_port_taken_meanwhile_is_not_taken_for_our_stand_in(
    infra_script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as other_checkout:
        other_checkout.bind(("127.0.0.1", 0))
        other_checkout.listen()
        taken = other_checkout.getsockname()[1]
        choices = [taken]  # the race: the first port "found free" is somebody else's by now
        real_free_port = infra_script.free_port
        monkeypatch.setattr(
            infra_script,
            "free_port",
            lambda preferred: choices.pop() if choices else real_free_port(preferred),
        )
        url, _ = infra_script.ensure_mongodb()
    try:
        port = int((infra_script.MONGO_DIR / "port").read_text())
        assert port != taken
        assert f"127.0.0.1:{port}/" in url
        pid = int((infra_script.MONGO_DIR / "nx.pid").read_text())
        assert infra_script.listens(pid, port)
        assert infra_script.running_standin() == port
    finally:
        infra_script.stop_standin()


def test_listens_tells_our_socket_from_another_process(infra_script: ModuleType) -> None:
    with socket.socket() as mine:
        mine.bind(("127.0.0.1", 0))
        mine.listen()
        port = mine.getsockname()[1]
        assert infra_script.listens(os.getpid(), port)
        assert not infra_script.listens(os.getppid(), port)
    assert sys.platform != "linux" or not infra_script.listens(os.getpid(), port)
