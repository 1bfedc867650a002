"""Settings from the environment, with the ``NAME_FILE`` convention for secrets.

Every variable ``NAME`` can instead be given as ``NAME_FILE``: the path of a file holding the
value (Docker and Kubernetes secrets). A plain ``NAME`` wins over ``NAME_FILE``. Shared
infrastructure settings have unprefixed names (``RABBITMQ_URL``, ``MONGODB_URL``,
``AUTH_JWT_SECRET``); a service's own settings carry its prefix (``VIEWER_PRESENCE_TIMEOUT_S``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from servicekit.admission import AdmissionLimits

_ADMISSION = AdmissionLimits()

__all__ = ["ServiceSettings", "SettingsError", "load_settings", "read_secret_files"]


class SettingsError(SystemExit):
    """Raised by :func:`load_settings`: settings missing or malformed (exit status 2)."""


def read_secret_files(environ: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """``{NAME: contents}`` for every ``NAME`` in ``names`` that is unset in ``environ`` while
    ``NAME_FILE`` is set.

    Raises:
        SettingsError: a ``NAME_FILE`` names a file that cannot be read.
    """
    found: dict[str, str] = {}
    for name in names:
        key = f"{name}_FILE"
        path = environ.get(key)
        if not path or environ.get(name):
            continue
        try:
            found[name] = Path(path).read_text().rstrip("\r\n")
        except OSError as exc:
            raise SettingsError(
                f"invalid setting {key}: cannot read {path}: {exc.strerror}"
            ) from None
    return found


def setting_env_names(settings_cls: type[BaseSettings]) -> set[str]:
    """Every environment variable name a settings class reads (upper case)."""
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    names: set[str] = set()
    for field_name, field in settings_cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c.upper() for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


class FileEnvSettingsSource(EnvSettingsSource):
    """Reads ``NAME_FILE`` variables as if ``NAME`` held the file's contents (only for the
    settings' own variables)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            read_secret_files(os.environ, setting_env_names(self.settings_cls)),
            self.case_sensitive,
            self.env_ignore_empty,
            self.env_parse_none_str,
        )


def _alias(*names: str) -> Any:
    return Field(validation_alias=AliasChoices(*names))


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclass per service with its own ``env_prefix`` for its
    own fields; the shared fields below keep their unprefixed names."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, populate_by_name=True)

    #: Whether the service verifies bearer tokens (then a JWT secret or JWKS URL is required).
    requires_auth: ClassVar[bool] = True

    service_name: str = "livecast"
    environment: Literal["dev", "test", "prod"] = Field(
        default="dev", validation_alias=AliasChoices("LIVECAST_ENV", "ENVIRONMENT")
    )
    rabbitmq_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/", validation_alias=AliasChoices("RABBITMQ_URL")
    )
    mongodb_url: str = Field(
        default="mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGODB_URL")
    )
    mongodb_db: str | None = Field(default=None, validation_alias=AliasChoices("MONGODB_DB"))
    mongodb_timeout_ms: int = Field(
        default=5000,
        ge=100,
        validation_alias=AliasChoices("MONGODB_TIMEOUT_MS"),
        description="upper bound of one database operation; beyond it the request answers 503",
    )
    namespace: str = Field(
        default="",
        validation_alias=AliasChoices("LIVECAST_NAMESPACE"),
        description="prefix of every exchange, queue and database name (tests use a unique one)",
    )
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    log_json: bool = Field(default=True, validation_alias=AliasChoices("LOG_JSON"))
    http_host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HTTP_HOST"))
    http_port: int = Field(default=8000, ge=0, le=65535, validation_alias=AliasChoices("HTTP_PORT"))
    http_max_in_flight: int = Field(
        default=_ADMISSION.max_in_flight,
        ge=0,
        validation_alias=AliasChoices("HTTP_MAX_IN_FLIGHT"),
        description="HTTP requests worked on at once per process (0: no admission control)",
    )
    http_max_queued: int = Field(
        default=_ADMISSION.max_queued,
        ge=0,
        validation_alias=AliasChoices("HTTP_MAX_QUEUED"),
        description="HTTP requests that may wait for admission; more are shed (503)",
    )
    http_queue_timeout_s: float = Field(
        default=_ADMISSION.queue_timeout_s,
        ge=0,
        validation_alias=AliasChoices("HTTP_QUEUE_TIMEOUT_S"),
        description="longest wait for admission before a request is shed (503)",
    )
    http_retry_after_s: int = Field(
        default=_ADMISSION.retry_after_s,
        ge=1,
        validation_alias=AliasChoices("HTTP_RETRY_AFTER_S"),
        description="Retry-After of a shed request, whole seconds",
    )

    auth_jwt_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_JWT_SECRET")
    )
    auth_jwks_url: str | None = Field(default=None, validation_alias=AliasChoices("AUTH_JWKS_URL"))
    auth_jwt_audience: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_JWT_AUDIENCE")
    )
    auth_jwt_issuer: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTH_JWT_ISSUER")
    )
    auth_leeway_s: int = Field(default=30, ge=0, validation_alias=AliasChoices("AUTH_LEEWAY_S"))

    amqp_delivery_limit: int = Field(
        default=8, ge=1, validation_alias=AliasChoices("AMQP_DELIVERY_LIMIT")
    )
    amqp_prefetch: int = Field(default=32, ge=1, validation_alias=AliasChoices("AMQP_PREFETCH"))
    outbox_poll_s: float = Field(default=1.0, gt=0, validation_alias=AliasChoices("OUTBOX_POLL_S"))
    metrics_sample_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias=AliasChoices("METRICS_SAMPLE_S"),
        description="how often queue depths and the outbox backlog are sampled for /metrics",
    )
    processed_events_ttl_s: int = Field(
        default=7 * 24 * 3600, ge=60, validation_alias=AliasChoices("PROCESSED_EVENTS_TTL_S")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            FileEnvSettingsSource(settings_cls),
            file_secret_settings,
        )

    @field_validator("rabbitmq_url")
    @classmethod
    def _amqp_url(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("mongodb_url")
    @classmethod
    def _mongo_url(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must be a mongodb:// or mongodb+srv:// URL")
        return value

    @model_validator(mode="after")
    def _auth_configured(self) -> ServiceSettings:
        if self.requires_auth and self.auth_jwt_secret is None and self.auth_jwks_url is None:
            raise ValueError("AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256) must be set")
        secret = self.auth_jwt_secret.get_secret_value() if self.auth_jwt_secret else None
        if self.environment == "prod" and secret is not None and len(secret) < 32:
            raise ValueError(
                "AUTH_JWT_SECRET must be at least 32 characters when LIVECAST_ENV=prod"
            )
        return self

    @property
    def admission(self) -> AdmissionLimits:
        """The HTTP admission bounds of this process (``HTTP_MAX_IN_FLIGHT`` and friends)."""
        return AdmissionLimits(
            max_in_flight=self.http_max_in_flight,
            max_queued=self.http_max_queued,
            queue_timeout_s=self.http_queue_timeout_s,
            retry_after_s=self.http_retry_after_s,
        )

    @property
    def database_name(self) -> str:
        """The service's own MongoDB database: ``MONGODB_DB`` or the namespaced service name."""
        base = self.mongodb_db or self.service_name.replace("-", "_")
        return f"{self.namespace}{base}".replace(".", "_").replace("-", "_")


S = TypeVar("S", bound=BaseSettings)


def _env_name(settings_cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    field_name = str(loc[0])
    if field_name.upper() in setting_env_names(settings_cls):
        return field_name.upper()
    field = settings_cls.model_fields.get(field_name)
    if field is not None and isinstance(field.validation_alias, AliasChoices):
        first = field.validation_alias.choices[0]
        if isinstance(first, str):
            return first.upper()
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    return f"{prefix}{field_name}".upper()


def load_settings(settings_cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment, or exit with one line per bad variable.

    Raises:
        SettingsError: (a ``SystemExit`` with status 2) naming each missing or malformed variable.
    """
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                lines.append(f"invalid setting {_env_name(settings_cls, err['loc'])}: {msg}")
            else:
                lines.append(f"invalid settings: {msg}")
        sys.stderr.write("\n".join(lines) + "\n")
        raise SettingsError(2) from None
