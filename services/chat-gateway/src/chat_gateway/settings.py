"""chat-gateway settings (``CHAT_*`` plus the shared variables)."""

from __future__ import annotations

import os
import socket

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


def _instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CHAT_")

    service_name: str = "chat-gateway"
    http_port: int = Field(default=8110, ge=0, le=65535, validation_alias=AliasChoices("HTTP_PORT"))
    ws_port: int = Field(default=8111, ge=0, le=65535)
    ws_backlog: int = Field(
        default=4096, ge=16, description="pending connections the WebSocket listener queues"
    )
    instance_id: str = Field(default_factory=_instance, min_length=1, max_length=128)
    max_frame_bytes: int = Field(
        default=16 * 1024, ge=1024, description="larger frames close with 1009"
    )
    history_on_connect: int = Field(default=50, ge=0, le=200)
    max_replay: int = Field(
        default=500, ge=1, le=5000, description="most missed messages sent on resume"
    )
    rate_burst: int = Field(default=5, ge=1, description="token bucket size per account")
    rate_per_s: float = Field(default=1.0, gt=0, description="token refill per second")
    abuse_limit: int = Field(
        default=10, ge=1, description="refusals within abuse_window_s before 4008"
    )
    abuse_window_s: float = Field(default=30.0, gt=0)
    send_buffer_bytes: int = Field(
        default=256 * 1024, ge=4096, description="a client above this is dropped"
    )
    ping_interval_s: float = Field(default=20.0, gt=0)
    ping_timeout_s: float = Field(default=20.0, gt=0)
    presence_interval_s: float = Field(default=10.0, gt=0)
    gap_wait_s: float = Field(
        default=0.2, gt=0, description="wait for a missing seq before reading it"
    )
    gap_give_up_s: float = Field(
        default=1.0,
        gt=0,
        description="fill every seq missing this long with a gap marker (one write)",
    )
    gift_streak_window_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="a sender's same gift within this many seconds of their last continues the "
        "combo streak",
    )
