"""Domain errors of stream-svc (mapped to HTTP statuses at the edge)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a use case can refuse with."""


class NotFound(DomainError):
    """No such stream (or it is not visible)."""


class Forbidden(DomainError):
    """The caller may not do this."""


class Conflict(DomainError):
    """The state machine refuses the transition; ``status`` is the current one."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class Invalid(DomainError):
    """The request is well-formed but not acceptable (e.g. banning yourself)."""


class MuxUnavailable(DomainError):
    """Mux failed after retries (or timed out); nothing was half-created."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class MuxNotFound(DomainError):
    """Mux does not know the live stream."""


class Unavailable(DomainError):
    """Our own storage failed; nothing was created (retry later)."""


class RateLimited(DomainError):
    """The caller spent its budget of Mux calls; ``retry_after_s`` until the next one passes."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
