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
    count_interval_s: float = Field(
        default=1.0, gt=0, description="at most one count event per stream per interval"
    )
    flush_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="this instance's presence is written (one bulk write) this often",
    )

    @property
    def prune_grace_s(self) -> float:
        """How long after a sheet's entry expires another instance prunes it: two sweeps and a
        batch, so a live instance always prunes its own first."""
        return 2 * self.sweep_interval_s + self.flush_interval_s + 1.0
