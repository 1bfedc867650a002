"""Mux webhooks as published by webhook-ingest on the ``mux.webhooks`` exchange."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.envelope import Event


class MuxObject(BaseModel):
    """Mux's ``object`` field: what the event is about."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    type: str
    id: str


class MuxWebhookReceived(Event):
    """A verified Mux webhook. Emitted by webhook-ingest once per Mux event id (at least once on
    the broker); routing key is Mux's event type. ``stream_id`` is our id, taken from the live
    stream's ``passthrough`` (for assets, from ``data.passthrough`` or ``None``)."""

    TYPE: ClassVar[str] = "mux.webhook_received"

    mux_event_id: str
    type: str
    created_at: AwareDatetime
    object: MuxObject | None = None
    stream_id: str | None = None
    live_stream_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, Any] | None = None
