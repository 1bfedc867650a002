"""``python -m webhook_ingest`` serves the API; ``python -m webhook_ingest replay ...`` replays."""

from __future__ import annotations

import sys

from servicekit.logs import configure_logging
from servicekit.serve import serve_asgi
from servicekit.settings import load_settings
from webhook_ingest.settings import Settings


def main() -> None:
    settings = load_settings(Settings)
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    if sys.argv[1:2] == ["replay"]:
        from webhook_ingest import replay

        raise SystemExit(replay.main(settings, sys.argv[2:]))
    from webhook_ingest.entrypoints.http import create_app

    serve_asgi(create_app(settings), settings)


if __name__ == "__main__":
    main()
