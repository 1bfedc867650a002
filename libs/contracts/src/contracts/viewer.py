"""Viewer presence: events published by viewer-svc and its REST bodies."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.common import AccountId, ResponseModel, SessionId, StreamId
from contracts.envelope import Event


class ViewerJoined(Event):
    """An account started watching a stream (first join; repeats are not re-announced)."""

    TYPE: ClassVar[str] = "viewer.joined"

    stream_id: StreamId
    account_id: AccountId
    joined_at: AwareDatetime


class ViewerLeft(Event):
    """An account stopped watching: it left, timed out (no heartbeat), or was banned."""

    TYPE: ClassVar[str] = "viewer.left"

    stream_id: StreamId
    account_id: AccountId
    left_at: AwareDatetime
    reason: Literal["left", "timeout", "banned", "stream_ended"] = "left"


class ViewerCountChanged(Event):
    """The current viewer count of a stream (coalesced: at most one per stream per interval,
    always the latest value). Consumers keep the one with the newest ``as_of``."""

    TYPE: ClassVar[str] = "viewer.count_changed"

    stream_id: StreamId
    viewer_count: int = Field(ge=0)
    peak: int = Field(ge=0)
    as_of: AwareDatetime


class PresenceEntry(BaseModel):
    """One account holding an open chat connection to one stream; ``session_id`` names the
    connection (its presence session; ``None`` from older gateways: one session per
    instance)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    stream_id: StreamId
    account_id: AccountId
    session_id: SessionId | None = None
    #: the connection closed: its session ends now, not at the presence timeout (a closed chat
    #: socket stops counting its account at once unless another session holds it)
    ended: bool = False


class PresenceHeartbeat(Event):
    """chat-gateway: these accounts hold an open chat connection (sent by each gateway instance
    when a connection opens and then every presence interval). viewer-svc counts each entry as a
    heartbeat of that viewer, so a chat connection keeps its account counted as watching.
    Ephemeral: published directly, not through an outbox."""

    TYPE: ClassVar[str] = "presence.heartbeat"

    instance_id: str
    seen_at: AwareDatetime
    entries: list[PresenceEntry] = Field(default_factory=list)


class JoinLiveStreamResponse(ResponseModel):
    """``POST /live/{stream_id}/join`` response (the original plan's shape)."""

    playback_url: str
    viewer_count: int
    status: Literal["idle", "active", "ended"]
