"""stream-svc settings (``STREAM_*`` plus the shared and Mux variables)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="STREAM_")

    service_name: str = "stream-svc"
    http_port: int = Field(default=8101, ge=0, le=65535, validation_alias=AliasChoices("HTTP_PORT"))
    mux_token_id: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MUX_TOKEN_ID")
    )
    mux_token_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MUX_TOKEN_SECRET")
    )
    mux_api_url: str = Field(
        default="https://api.mux.com", validation_alias=AliasChoices("MUX_API_URL")
    )
    mux_timeout_s: float = Field(default=10.0, gt=0)
    mux_deadline_s: float = Field(default=20.0, gt=0, description="give up retrying Mux after this")
    rtmp_url: str = "rtmps://global-live.mux.com:443/app"
    playback_base_url: str = "https://stream.mux.com"
    thumbnail_base_url: str = "https://image.mux.com"
    reconnect_window_s: float = Field(default=60.0, ge=0.1, le=1800)
    latency_mode: str = Field(default="standard", pattern="^(standard|reduced|low)$")
    price_live_encoding_per_min: float = Field(default=0.015, ge=0, description="USD")
    price_delivery_per_min: float = Field(default=0.001, ge=0, description="USD")
    price_storage_per_min_month: float = Field(default=0.003, ge=0, description="USD")
    sweep_interval_s: float = Field(default=60.0, gt=0)
    reconcile_after_s: float = Field(
        default=600.0,
        gt=0,
        description="ask Mux about an active stream with no Mux event for this long",
    )
    reconcile_interval_s: float = Field(
        default=60.0, gt=0, description="how often the reconciliation looks for such streams"
    )

    mux_call_burst: int = Field(
        default=20, ge=1, description="stream creations and key resets an account may make at once"
    )
    mux_calls_per_minute: float = Field(
        default=2.0, gt=0, description="the rate at which that budget refills"
    )

    term_change_burst: int = Field(
        default=200, ge=1, description="blocked-term changes a stream may make at once"
    )
    term_changes_per_minute: float = Field(
        default=20.0, gt=0, description="the rate at which that budget refills"
    )

    @model_validator(mode="after")
    def _mux_credentials(self) -> Settings:
        if self.mux_token_id is None or self.mux_token_secret is None:
            raise ValueError("MUX_TOKEN_ID and MUX_TOKEN_SECRET must be set")
        return self
