"""One rule for "a dependency is unavailable": which driver errors mean the database or the
broker cannot answer right now.

Every HTTP service maps these errors to ``503`` with ``Retry-After`` and the JSON error body
(:func:`servicekit.errors.install_error_handlers`); chat-gateway's socket answers a
``chat.error`` with reason ``unavailable`` and keeps the socket. Anything else stays a bug
(``500``).

Database (PyMongo): every ``ConnectionFailure`` (``AutoReconnect``, ``NetworkTimeout``,
``ServerSelectionTimeoutError``, ``WaitQueueTimeoutError``, a paused pool, an operation cancelled
because its connection was closed), any error PyMongo flags as a timeout (client-side operation
timeouts, ``maxTimeMS`` expired), and server answers that mean "not now" (shutdown in progress,
not primary, a retryable write or transient transaction error).
Broker (aio-pika/aiormq): connection errors, a channel closed under a publish, a message the
broker refused to confirm; and ``ConnectionError`` (refused, reset) from any dependency.
"""

from __future__ import annotations

from typing import Literal

from aiormq import exceptions as amqp_errors
from pymongo import errors as mongo_errors

__all__ = [
    "DB_OPERATION_TIMEOUT_S",
    "RETRY_AFTER_S",
    "Dependency",
    "unavailable_dependency",
]

Dependency = Literal["database", "broker", "dependency"]

#: What a client is told to wait (``Retry-After``, seconds) when a dependency is unavailable.
RETRY_AFTER_S = 2

#: Upper bound (seconds) on one MongoDB operation (the client's ``timeoutMS``, see
#: :func:`servicekit.mongo.make_mongo_client`): a stalled database turns into a timeout error
#: within this time instead of a request hanging for the socket timeout.
DB_OPERATION_TIMEOUT_S = 5.0

# MongoDB server error codes meaning "this server cannot serve you right now".
_RETRYABLE_CODES = frozenset(
    {6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134}
)
_LABELS = ("RetryableWriteError", "TransientTransactionError", "NetworkError")
_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    amqp_errors.AMQPConnectionError,
    amqp_errors.ChannelInvalidStateError,
    amqp_errors.DeliveryError,
)


def _database(exc: BaseException) -> bool:
    if isinstance(exc, mongo_errors.ConnectionFailure):
        return True
    if isinstance(exc, mongo_errors.PyMongoError):
        if exc.timeout:
            return True
        if any(exc.has_error_label(label) for label in _LABELS):
            return True
        code = getattr(exc, "code", None)
        return isinstance(exc, mongo_errors.OperationFailure) and code in _RETRYABLE_CODES
    return False


def unavailable_dependency(exc: BaseException) -> Dependency | None:
    """Which dependency ``exc`` says cannot answer now, else ``None``.

    ``"database"`` or ``"broker"`` (``"dependency"`` for a bare ``ConnectionError``), looking
    at ``exc``, what caused it, and the members of an exception group."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen or len(seen) > 32:
            continue
        seen.add(id(current))
        if _database(current):
            return "database"
        if isinstance(current, _BROKER_ERRORS):
            return "broker"
        if isinstance(current, ConnectionError):  # refused or reset by some peer
            return "dependency"
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                todo.append(linked)
    return None
