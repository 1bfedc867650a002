"""webhook-ingest settings (``WEBHOOK_*``, plus the shared and Mux variables)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOK_")
    requires_auth: ClassVar[bool] = False

    service_name: str = "webhook-ingest"
    http_port: int = Field(default=8104, ge=0, le=65535, validation_alias=AliasChoices("HTTP_PORT"))
    http_max_in_flight: int = Field(
        default=256,
        ge=0,
        validation_alias=AliasChoices("HTTP_MAX_IN_FLIGHT"),
        description="deliveries worked on at once: the group commit already bounds the "
        "database work (one write in flight), so this bounds memory, and a larger group is "
        "cheaper per delivery",
    )
    mux_webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        validation_alias=AliasChoices("MUX_WEBHOOK_SECRET"),
        description="one or more signing secrets, comma-separated (rotation)",
    )
    tolerance_s: int = Field(default=300, ge=1, description="oldest/newest accepted timestamp")
    max_body_bytes: int = Field(default=1 << 20, ge=1024)

    @field_validator("mux_webhook_secrets", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not parts:
                raise ValueError("at least one secret is required")
            return parts
        return value
