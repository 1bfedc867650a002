"""Running an ASGI service process: uvicorn with the kit's logging and graceful shutdown."""

from __future__ import annotations

from typing import Any

import uvicorn

from servicekit.limits import raise_open_files_limit
from servicekit.settings import ServiceSettings

__all__ = ["serve_asgi"]


def serve_asgi(app: Any, settings: ServiceSettings, **kwargs: Any) -> None:
    """Serve ``app`` on ``HTTP_HOST:HTTP_PORT`` until SIGINT/SIGTERM (lifespan runs the
    clients' start and close). Access logs are off: the kit's metrics and JSON logs cover it.
    The open files limit is raised first (:func:`servicekit.limits.raise_open_files_limit`)."""
    raise_open_files_limit()
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="*",
        timeout_graceful_shutdown=10,
        lifespan="on",
        **kwargs,
    )
    uvicorn.Server(config).run()
