"""Run the simulator in-process for tests::

async with running_simulator(SimConfig(webhook_url=url, webhook_secret=s)) as sim:
    api = sim.mux_configuration()          # mux_python.Configuration for the SDK
    sim.simulator.env.connect(live_stream_id)   # or POST {sim.base_url}/_sim/...
    await sim.simulator.deliverer.settle()
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from mux_sim.app import Simulator, create_app
from mux_sim.config import SimConfig


@dataclass
class RunningSimulator:
    base_url: str
    simulator: Simulator

    def mux_configuration(self) -> Any:
        """A ``mux_python.Configuration`` pointed at this simulator with its credentials."""
        import mux_python

        configuration = mux_python.Configuration(host=self.base_url)
        configuration.username = self.simulator.config.token_id
        configuration.password = self.simulator.config.token_secret
        return configuration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_simulator(config: SimConfig | None = None) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on a free local port for the duration of the block."""
    config = config or SimConfig()
    port = free_port()
    config.public_base_url = f"http://127.0.0.1:{port}"
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield RunningSimulator(f"http://127.0.0.1:{port}", app.state.sim)
    finally:
        server.should_exit = True
        await task
