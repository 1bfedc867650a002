"""``python -m notifier``: serve notifier (HTTP + consumers + fan-out worker)."""

from __future__ import annotations

from notifier.entrypoints.http import create_app
from notifier.settings import Settings
from servicekit.logs import configure_logging
from servicekit.serve import serve_asgi
from servicekit.settings import load_settings


def main() -> None:
    settings = load_settings(Settings)
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    serve_asgi(create_app(settings), settings)


if __name__ == "__main__":
    main()
