"""viewer-svc settings (``VIEWER_*`` plus the shared variables)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="VIEWER_")

    service_name: str = "viewer-svc"
    http_port: int = Field(default=8102, ge=0, le=65535, validation_alias=AliasChoices("HTTP_PORT"))
    presence_timeout_s: float = Field(
        default=30.0, gt=0, description="unseen this long: counted out"
    )
    sweep_interval_s: float = Field(default=5.0, gt=0)
    read_cache_s: float = Field(default=1.0, ge=0, description="how stale a join's reads may be")
    touch_every_s: float = Field(
        default=5.0,
        ge=0,
        description="skip presence writes more frequent than this (capped at a third of "
        "presence_timeout_s)",
    )
    count_interval_s: float = Field(
        default=1.0, gt=0, description="at most one count event per stream per interval"
    )

    @property
    def effective_touch_every_s(self) -> float:
        """The write throttle actually used: at most a third of the presence timeout, so that a
        viewer who keeps heart-beating is written often enough never to time out."""
        return min(self.touch_every_s, self.presence_timeout_s / 3)
