"""An ASGI factory for running viewer-svc under an external process manager, e.g.
``uvicorn viewer_svc.entrypoints.asgi:app --factory --workers 2``."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit.logs import configure_logging
from servicekit.settings import load_settings
from viewer_svc.entrypoints.http import create_app
from viewer_svc.settings import Settings


def app() -> FastAPI:
    settings = load_settings(Settings)
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    return create_app(settings)
