"""The event envelope every message on the broker carries, and the event registry.

An *event* is a past-tense fact owned by one service (``StreamStarted``). On the wire it travels
inside an :class:`Envelope`: ``event_id``, ``event_type``, ``occurred_at``, ``producer``,
``schema_version``, ``correlation_id`` and the typed ``payload``.

Versioning: additive changes (a new optional field) keep ``VERSION``. A breaking change is a new
class with the same ``TYPE`` and ``VERSION + 1``; the producer publishes both until consumers
have moved. Stored envelopes are upcast when read with :func:`register_upcaster`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError

__all__ = [
    "Envelope",
    "Event",
    "UnknownEventError",
    "event_class",
    "known_events",
    "make_envelope",
    "parse_envelope",
    "register_upcaster",
]

#: Namespace for deterministic event ids derived from a provider's delivery id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1d3f0e-2b7a-4c1e-9a57-5b1d1c0e7a11")


class Event(BaseModel):
    """Base of every event payload.

    Subclasses set ``TYPE`` (``"stream.started"``) and, for a breaking change, ``VERSION``.
    Readers are tolerant: unknown fields are ignored, so producers may add optional fields.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def routing_key(cls) -> str:
        """Routing key on the ``live.events`` exchange: ``"<type>.v<version>"``."""
        return f"{cls.TYPE}.v{cls.VERSION}"


E = TypeVar("E", bound=Event)


class Envelope(BaseModel, Generic[E]):
    """What travels on the broker: metadata plus one typed event payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    occurred_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    schema_version: int = 1
    correlation_id: str | None = None
    payload: SerializeAsAny[E]


class UnknownEventError(ValueError):
    """The envelope names an event type or version no contract knows."""


_REGISTRY: dict[tuple[str, int], type[Event]] = {}
_UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _walk(cls: type[Event]) -> None:
    for sub in cls.__subclasses__():
        if "TYPE" in sub.__dict__:
            key = (sub.TYPE, sub.VERSION)
            existing = _REGISTRY.get(key)
            if existing is not None and existing is not sub:
                raise RuntimeError(f"two events claim {key}: {existing} and {sub}")
            _REGISTRY[key] = sub
        _walk(sub)


def known_events() -> dict[tuple[str, int], type[Event]]:
    """Every concrete event class, by ``(TYPE, VERSION)``."""
    import contracts  # noqa: F401  (imports every event module)

    _walk(Event)
    return dict(_REGISTRY)


def event_class(event_type: str, version: int = 1) -> type[Event]:
    """The payload class for ``event_type`` at ``version``."""
    key = (event_type, version)
    if key not in _REGISTRY:
        known_events()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownEventError(f"unknown event {event_type!r} v{version}") from None


def register_upcaster(
    event_type: str, from_version: int
) -> Callable[
    [Callable[[dict[str, Any]], dict[str, Any]]], Callable[[dict[str, Any]], dict[str, Any]]
]:
    """Register a function turning a ``from_version`` payload dict into ``from_version + 1``."""

    def deco(
        fn: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return deco


def make_envelope(
    payload: Event,
    *,
    producer: str,
    correlation_id: str | None = None,
    event_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[Event]:
    """Wrap ``payload`` in an envelope with a fresh (or the given) id and time."""
    return Envelope[Event](
        event_id=event_id or uuid.uuid4(),
        event_type=payload.TYPE,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        schema_version=payload.VERSION,
        correlation_id=correlation_id,
        payload=payload,
    )


def derived_event_id(source: str, delivery_id: str) -> uuid.UUID:
    """A stable event id for a provider's delivery id, so a redelivery has the same id."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{source}:{delivery_id}")


def parse_envelope(raw: bytes | str | dict[str, Any]) -> Envelope[Event]:
    """Parse a wire or stored envelope, upcasting old payload versions to the newest known.

    Raises:
        pydantic.ValidationError: the envelope or its payload is malformed.
        UnknownEventError: no contract for the event type.
    """
    data = dict(raw) if isinstance(raw, dict) else _as_dict(raw)
    meta = _EnvelopeMeta.model_validate(data)
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise UnknownEventError("envelope payload must be an object")
    version = meta.schema_version
    while (meta.event_type, version) in _UPCASTERS:
        payload = _UPCASTERS[(meta.event_type, version)](payload)
        version += 1
    cls = event_class(meta.event_type, version)
    event = cls.model_validate(payload)
    return Envelope[Event](
        event_id=meta.event_id,
        event_type=meta.event_type,
        occurred_at=meta.occurred_at,
        producer=meta.producer,
        schema_version=cls.VERSION,
        correlation_id=meta.correlation_id,
        payload=event,
    )


class _EnvelopeMeta(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event_id: uuid.UUID
    event_type: str
    occurred_at: AwareDatetime
    producer: str
    schema_version: int = 1
    correlation_id: str | None = None


def _as_dict(raw: bytes | str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnknownEventError(f"envelope is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UnknownEventError("envelope must be a JSON object")
    return value


__all__ += ["EVENT_ID_NAMESPACE", "ValidationError", "derived_event_id"]
