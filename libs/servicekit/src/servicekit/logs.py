"""Structured JSON logs with a correlation id carried through HTTP and AMQP.

The correlation id lives in a context variable: the HTTP middleware binds it from
``X-Request-ID`` (or makes one), the consumer wrapper binds it from the AMQP message, and the
publisher copies it onto every outgoing message. Every log line carries it.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import Any

import structlog

from servicekit.tracing import current_ids

__all__ = [
    "REQUEST_ID_HEADER",
    "REQUEST_ID_PATTERN",
    "accepted_correlation_id",
    "configure_logging",
    "correlation_id",
    "get_logger",
    "new_correlation_id",
    "set_correlation_id",
]

REQUEST_ID_HEADER = "X-Request-ID"
#: The ``X-Request-ID`` values a client may choose: one is kept when it matches, and replaced by
#: a new id otherwise, as Heroku's router does (https://devcenter.heroku.com/articles/http-request-id:
#: 20-200 of ``A-Za-z0-9+/=-``; ours also takes ``._:``, and 1-128 of them). The bundled API
#: gateway's map (``deploy/nginx/livecast.conf.template``) applies the same pattern, so the one id
#: a client gets back is the one in the gateway's access log and in the service's logs (an
#: ingress-nginx in front keeps any value: see ``deploy/README.md``).
REQUEST_ID_PATTERN = r"[A-Za-z0-9._:/+=-]{1,128}"
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
#: AMQP header carrying the correlation id (also set as the AMQP ``correlation_id`` property).
AMQP_CORRELATION_HEADER = "x-correlation-id"

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def correlation_id() -> str | None:
    """The correlation id of the current request or message, if any."""
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> None:
    """Bind ``value`` as the correlation id of the current context (task)."""
    _correlation_id.set(value)


def new_correlation_id() -> str:
    """A fresh correlation id."""
    return uuid.uuid4().hex


def accepted_correlation_id(*sent: str) -> str:
    """The ``X-Request-ID`` a request carried (``sent``: each of its values) if it is one value
    matching :data:`REQUEST_ID_PATTERN`, else a fresh correlation id. A repeated header is one
    value, combined with ``", "`` (RFC 9110 §5.3), which the pattern refuses."""
    if len(sent) == 1 and _REQUEST_ID.fullmatch(sent[0]):
        return sent[0]
    return new_correlation_id()


def _add_correlation_id(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    cid = _correlation_id.get()
    if cid is not None and "correlation_id" not in event_dict:
        event_dict["correlation_id"] = cid
    return event_dict


def _add_trace_ids(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    ids = current_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


def configure_logging(service: str, level: str = "INFO", *, json: bool = True) -> None:
    """Route structlog and the standard library (uvicorn, FastStream, aio-pika) through one JSON
    renderer on stderr, each line tagged with ``service``, the correlation id and, while a span is
    current, ``trace_id``/``span_id`` (:mod:`servicekit.tracing`)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_correlation_id,
        _add_trace_ids,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _static(service=service),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "pymongo", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def _static(**fields: Any) -> Any:
    def add(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        for key, value in fields.items():
            event_dict.setdefault(key, value)
        return event_dict

    return add


def get_logger(name: str) -> Any:
    """A structlog logger; use keyword arguments for fields: ``log.info("joined", stream_id=s)``."""
    return structlog.stdlib.get_logger(name)
