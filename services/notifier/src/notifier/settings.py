"""notifier settings (``NOTIFIER_*`` plus the shared variables)."""

from __future__ import annotations

import os
import socket

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


def _instance() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    service_name: str = "notifier"
    http_port: int = Field(default=8105, ge=0, le=65535, validation_alias=AliasChoices("HTTP_PORT"))
    fanout_batch: int = Field(default=1000, ge=1, le=10_000, description="followers per bulk write")
    fanout_poll_s: float = Field(default=0.5, gt=0)
    fanout_lease_s: float = Field(
        default=30.0, gt=0, description="a crashed worker's campaign resumes after this"
    )
    follow_burst: int = Field(
        default=20, ge=1, description="follows an account may make at once (then 429)"
    )
    follow_per_minute: float = Field(
        default=10.0, gt=0, description="follows per minute an account regains after a burst"
    )
    instance_id: str = Field(
        default_factory=_instance,
        min_length=1,
        max_length=128,
        description="names this instance's own queue (unread-count wake-ups)",
    )
    max_unread_waiters: int = Field(
        default=10_000, ge=0, description="unread-count long polls one instance holds at most"
    )
    max_unread_waiters_per_account: int = Field(
        default=16, ge=0, description="unread-count long polls one account holds at most"
    )
    golive_window_s: float = Field(
        default=600.0,
        ge=0,
        description="at most one go-live notification per streamer per follower in this window",
    )
