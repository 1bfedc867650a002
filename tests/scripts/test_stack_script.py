"""``scripts/stack.py`` (what ``make run`` runs) from the places a newcomer's clone lands: a
private (0700) folder, a path with spaces, quotes or non-ASCII letters, a long path, and a
second checkout whose stack is already running on the same ports."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_stack_script() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(
        "livecast_stack_script", ROOT / "scripts" / "stack.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stack_script() -> ModuleType:
    return load_stack_script()


#: folder names a clone lands in; the long one makes every path under it longer than a Unix
#: socket path may be (107 bytes), so nothing of the stack may put a socket there
CHECKOUT_NAMES = {
    "spaces": "my streams/live cast",
    "non_ascii": "Vidéos/プロジェクト/livecast",
    "quote_and_backslash": 'it\'s "quoted"\\here',
    "long": "/".join(["a-rather-long-folder-name-for-a-checkout"] * 4),
}


@pytest.fixture(params=sorted(CHECKOUT_NAMES))
def checkout(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A copy of what the gateway configuration needs, in a private (0700) folder."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    root = private / CHECKOUT_NAMES[request.param]
    shutil.copytree(ROOT / "deploy" / "nginx", root / "deploy" / "nginx")
    (root / "clients" / "web").mkdir(parents=True)
    (root / "clients" / "web" / "index.html").write_text("<!doctype html>")
    return root


class TestGatewayConfiguration:
    def test_nginx_accepts_the_configuration_from_any_checkout_path(
        self, stack_script: ModuleType, checkout: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        nginx = stack_script.infra.which("nginx")
        if nginx is None:
            pytest.skip(
                "nginx is not installed (make test installs it: scripts/infra.py up --tools)"
            )
        monkeypatch.setattr(stack_script, "ROOT", checkout)
        state = checkout / ".infra" / "stack-1"
        conf = stack_script.render_nginx(state, stack_script.ports_for(1))
        result = subprocess.run(
            [nginx, "-t", "-p", str(conf.parent), "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        text = conf.read_text()
        assert f'alias "{stack_script.nginx_string(checkout / "clients" / "web")}/";' in text

    def test_workers_run_as_the_user_who_started_the_stack(self, stack_script: ModuleType) -> None:
        # As root, nginx's workers would otherwise be `nobody`, who cannot enter a 0700 folder.
        line = stack_script.worker_user()
        if os.geteuid() == 0:
            assert line == "user root root;\n"
        else:
            assert line == ""  # nginx runs its workers as the starting user already

    def test_a_dollar_in_the_path_is_refused_with_a_message(self, stack_script: ModuleType) -> None:
        with pytest.raises(SystemExit, match=r"path containing '\$'"):
            stack_script.nginx_string(Path("/home/me/$HOME/livecast"))


class TestMuxDataKey:
    """The web client's Mux Data environment key reaches ``/app/config.json`` (issue 21)."""

    def test_the_key_is_written_into_the_page_config(
        self, stack_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MUX_DATA_ENV_KEY", "abc123XYZ")
        conf = stack_script.render_nginx(tmp_path / "state", stack_script.ports_for(1))
        assert """return 200 '{"mux_data_env_key":"abc123XYZ"}';""" in conf.read_text()

    def test_no_key_serves_an_empty_one(
        self, stack_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("MUX_DATA_ENV_KEY", raising=False)
        conf = stack_script.render_nginx(tmp_path / "state", stack_script.ports_for(1))
        assert """return 200 '{"mux_data_env_key":""}';""" in conf.read_text()

    @pytest.mark.parametrize("bad", ["a'b", 'k"}', "key with space", "x" * 65, "$uri"])
    def test_a_key_that_could_break_the_config_is_refused(
        self, stack_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
    ) -> None:
        monkeypatch.setenv("MUX_DATA_ENV_KEY", bad)
        with pytest.raises(SystemExit, match="MUX_DATA_ENV_KEY"):
            stack_script.render_nginx(tmp_path / "state", stack_script.ports_for(1))


class TestSecondStack:
    def test_a_port_in_use_is_named_without_a_traceback(self, tmp_path: Path) -> None:
        offset = 1234
        gateway = 8080 + offset
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", gateway))
            taken.listen()
            result = subprocess.run(
                [sys.executable, str(ROOT / "scripts" / "stack.py"), "--port-offset", str(offset)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=tmp_path,
            )
        assert result.returncode == 1
        assert f"port {gateway} (gateway)" in result.stderr
        assert f"STACK_PORT_OFFSET={offset + 200}" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert not (ROOT / ".infra" / f"stack-{offset}").exists()  # nothing was started

    def test_a_second_stack_gets_its_own_broker_namespace(self, stack_script: ModuleType) -> None:
        assert stack_script.default_namespace("", 0) == ""
        assert stack_script.default_namespace("", 200) == "stack200."
        assert stack_script.default_namespace("mine.", 200) == "mine."


@pytest.mark.parametrize("offset", [0, 200])
def test_the_banner_commands_work_when_pasted_in_order(
    stack_script: ModuleType, offset: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """A newcomer pastes the banner's lines one by one: the token line must leave ``$TOKEN``
    set for the ``curl`` line after it, and ``make demo`` must target this stack's ports (a
    second checkout's demo otherwise walks through the first checkout's stack)."""
    ports = {"gateway": 8080 + offset, "sim": 8200 + offset}
    stack_script.banner(ports, ROOT / ".infra" / "stack", False, offset)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    token_line = next(line for line in lines if "make" in line and " token " in line)
    assert token_line.startswith("export TOKEN=$(make -s token ACCOUNT=")
    assert lines.index(token_line) < next(
        i for i, line in enumerate(lines) if line.startswith("curl") and "$TOKEN" in line
    )
    demo = next(line for line in lines if "make demo" in line)
    if offset:
        assert f"STACK_PORT_OFFSET={offset} make demo" in demo
        assert f"STACK_PORT_OFFSET={offset}" in token_line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: A route of each service, with each kind of method the gateway treats apart.
DOWN_ROUTES = [
    ("GET", "/live"),
    ("POST", "/live"),
    ("TRACE", "/live"),
    ("OPTIONS", "/live/s1/chats"),
    ("POST", "/webhooks/mux"),
    ("TRACE", "/webhooks/mux"),
    ("GET", "/ws/live/s1"),
    ("GET", "/gifts/catalog"),
    ("GET", "/hls/x.m3u8"),
]


@pytest.fixture(scope="module")
def down_gateway(stack_script: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """nginx with the stack's configuration, every upstream port closed."""
    nginx = stack_script.infra.which("nginx")
    if nginx is None:
        pytest.skip("nginx is not installed (make test installs it: scripts/infra.py up)")
    names = ["gateway", "stream", "viewer", "ingest", "notifier", "chat_a", "chat_a_ws"]
    names += ["chat_b", "chat_b_ws", "sim"]
    ports = {name: _free_port() for name in names}
    state = tmp_path_factory.mktemp("down")
    conf = stack_script.render_nginx(state, ports)
    proc = subprocess.Popen(
        [nginx, "-p", str(conf.parent), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{ports['gateway']}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


class TestGatewayWithServicesDown:
    """Every service down (nothing listens on their ports): the gateway answers each route with
    its JSON 503 and ``Retry-After``, never nginx's HTML 502, whatever the method (a TRACE is
    asked of the owning service with OPTIONS first, and that second failure must be JSON too)."""

    @pytest.mark.parametrize(("method", "path"), DOWN_ROUTES)
    def test_a_route_whose_service_is_down_is_a_json_503(
        self, down_gateway: str, method: str, path: str
    ) -> None:
        r = httpx.request(method, f"{down_gateway}{path}", timeout=10)
        assert r.status_code == 503, (r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["error"] == "unavailable"
        assert int(r.headers["retry-after"]) >= 1
        assert len(r.headers.get_list("x-request-id")) == 1
