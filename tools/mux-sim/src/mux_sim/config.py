"""Simulator settings and run-time knobs."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class Knobs(BaseModel):
    """What an operator (or a test) can change while the simulator runs: ``POST /_sim/config``."""

    duplicate_rate: float = Field(
        default=0.0, ge=0, le=1, description="chance a webhook is sent twice"
    )
    shuffle: bool = Field(default=False, description="deliver pending webhooks in random order")
    delay_s: float = Field(default=0.0, ge=0, description="wait before each delivery attempt")
    retry_base_s: float = Field(
        default=1.0, gt=0, description="first retry delay; doubles each time"
    )
    retry_max_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    delivery_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_window_override_s: float | None = Field(
        default=None, ge=0, description="use instead of each stream's reconnect_window"
    )
    asset_ready_delay_s: float = Field(default=1.0, ge=0, description="idle -> video.asset.ready")
    concurrency: int = Field(default=4, ge=1, description="deliveries in flight at once")
    drop_types: list[str] = Field(
        default_factory=list,
        description="webhook types never delivered (a delivery Mux gave up on), e.g. "
        '["video.live_stream.idle"]; they are still logged, as dropped',
    )
    strip_passthrough: bool = Field(
        default=False,
        description="send webhooks without data.passthrough (as some real asset deliveries are)",
    )


class SimConfig(BaseModel):
    """Start-up configuration (CLI flags / ``MUXSIM_*`` environment variables)."""

    token_id: str = "sim-token-id"  # noqa: S105
    token_secret: str = "sim-token-secret"  # noqa: S105 (a local simulator's default)
    webhook_url: str | None = None
    webhook_secret: str = "sim-webhook-secret"  # noqa: S105
    environment_id: str = "sim-env"
    public_base_url: str = "http://127.0.0.1:8200"
    hls_dir: Path | None = Field(
        default=None, description="where the generated test pattern is kept"
    )
    knobs: Knobs = Field(default_factory=Knobs)
