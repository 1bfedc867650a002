"""Stream lifecycle: events published by stream-svc and its REST bodies."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)

from contracts.common import AccountId, ApiModel, ResponseModel, StreamId, StreamStatus
from contracts.envelope import Event
from contracts.text import optional_text, user_text

# ---- events ------------------------------------------------------------------------------------


class StreamCreated(Event):
    """stream-svc created a stream (and its Mux live stream). Status is ``idle``."""

    TYPE: ClassVar[str] = "stream.created"

    stream_id: StreamId
    owner_id: AccountId
    title: str
    description: str | None = None
    thumbnail: str | None = None
    playback_url: str
    mux_live_stream_id: str | None = None
    created_at: AwareDatetime


class StreamStarted(Event):
    """The stream went ``idle -> active`` (owner's start, or Mux reported it active). Emitted
    once per stream; followers are notified on it."""

    TYPE: ClassVar[str] = "stream.started"

    stream_id: StreamId
    owner_id: AccountId
    title: str
    playback_url: str
    started_at: AwareDatetime


class StreamEnded(Event):
    """The stream went ``active -> ended`` (owner's end, or the encoder stayed away past the
    reconnect window). Chat becomes read-only, joins are refused."""

    TYPE: ClassVar[str] = "stream.ended"

    stream_id: StreamId
    owner_id: AccountId
    ended_at: AwareDatetime
    reason: str = "ended"


class StreamDeleted(Event):
    """The stream was deleted (owner, or Mux deleted the live stream). Terminal."""

    TYPE: ClassVar[str] = "stream.deleted"

    stream_id: StreamId
    owner_id: AccountId
    deleted_at: AwareDatetime


class StreamUpdated(Event):
    """The owner changed what viewers see (``PATCH /live/{id}``): the stream's current title,
    description and thumbnail URL (the owner's image, else Mux's image of the stream).
    Chat rooms announce it with a ``stream_updated`` frame."""

    TYPE: ClassVar[str] = "stream.updated"

    stream_id: StreamId
    owner_id: AccountId
    title: str
    description: str | None = None
    thumbnail_url: str | None = None
    updated_at: AwareDatetime
    version: int = Field(
        default=0,
        ge=0,
        description="the stream's version after this change (stream-svc's optimistic-concurrency "
        "counter, one writer per version): a later change has a higher one, whichever replica's "
        "clock stamped updated_at; 0 in events from before it was carried",
    )

    @property
    def order(self) -> tuple[int, datetime]:
        """What orders two changes of one stream: ``version``, then ``updated_at``."""
        return (self.version, self.updated_at)


class StreamArchiveReady(Event):
    """Mux finished the recording of the stream: ``archive_playback_url`` plays it."""

    TYPE: ClassVar[str] = "stream.archive_ready"

    stream_id: StreamId
    owner_id: AccountId
    asset_id: str
    archive_playback_url: str
    duration_s: float | None = None


# ---- REST --------------------------------------------------------------------------------------

#: A stream title: the user-text rule (:mod:`contracts.text`), 100 characters.
Title = Annotated[str, StringConstraints(max_length=2000), user_text(100)]
#: A description: the user-text rule, multi-line, 5000 characters; nothing visible -> ``None``.
Description = Annotated[
    str, StringConstraints(max_length=20_000), optional_text(5000, multiline=True)
]


class CreateLiveStreamRequest(ApiModel):
    """``POST /live`` body (the original plan's shape)."""

    title: Title
    description: Description | None = None
    thumbnail: HttpUrl | None = Field(
        default=None, description="https URL of an image on a public host"
    )

    @field_validator("thumbnail")
    @classmethod
    def _http_only(cls, value: HttpUrl | None) -> HttpUrl | None:
        return _http_thumbnail(value)


#: host names that only mean something inside a network (RFC 6761 ``localhost``, RFC 6762
#: ``.local``, RFC 8375 ``home.arpa``, and the ``.internal`` TLD ICANN reserved for private use)
_PRIVATE_NAMES = ("localhost", "local", "internal", "home.arpa", "lan", "intranet")


def _http_thumbnail(value: HttpUrl | None) -> HttpUrl | None:
    """An owner's thumbnail: an ``https`` URL of an image on a public host.

    Every viewer's browser loads it, so a URL naming a loopback, private or link-local address
    (``https://192.168.1.1/...``, ``https://[::1]/``, ``https://router.local/``) would make each
    viewer's browser send a request into its own network, and ``http`` is mixed content on our
    ``https`` pages. Credentials in the URL are refused too. A public name that resolves to a
    private address is not caught here (that needs DNS at render time; browsers' Private Network
    Access is what blocks it).

    Raises:
        ValueError: the URL is not ``https``, carries credentials, or names a non-public host.
    """
    if value is None:
        return value
    if value.scheme != "https":
        raise ValueError("thumbnail must be an https URL")
    if value.username or value.password:
        raise ValueError("thumbnail must not carry credentials")
    host = (value.host or "").strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        if len(labels) < 2 or any(
            host == name or host.endswith("." + name) for name in _PRIVATE_NAMES
        ):
            raise ValueError("thumbnail must be on a public host") from None
        return value
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d to a browser
    if not address.is_global or address.is_multicast:
        raise ValueError("thumbnail must be on a public host")
    return value


class UpdateLiveStreamRequest(ApiModel):
    """``PATCH /live/{stream_id}`` body: any of ``title``, ``description``, ``thumbnail``, with
    the rules of :class:`CreateLiveStreamRequest`; ``null`` clears ``description`` or
    ``thumbnail`` (a title cannot be cleared). At least one field."""

    title: Title | None = None
    description: Description | None = None
    thumbnail: HttpUrl | None = Field(
        default=None, description="https URL of an image on a public host"
    )

    @field_validator("thumbnail")
    @classmethod
    def _http_only(cls, value: HttpUrl | None) -> HttpUrl | None:
        return _http_thumbnail(value)

    @model_validator(mode="after")
    def _something(self) -> UpdateLiveStreamRequest:
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, thumbnail")
        if "title" in self.model_fields_set and self.title is None:
            raise ValueError("title cannot be cleared")
        return self


class CreateLiveStreamResponse(ResponseModel):
    """``POST /live`` response: what OBS needs (``rtmp_url`` + ``stream_key``) and what players
    need (``playback_url``)."""

    stream_id: StreamId
    stream_key: str
    rtmp_url: str
    playback_url: str


class StreamKeyReset(ResponseModel):
    """``POST /live/{stream_id}/reset-stream-key`` response: the new key (the old one is refused
    by Mux from now on) and where to push with it."""

    stream_id: StreamId
    stream_key: str
    rtmp_url: str


class LiveStreamSummary(ResponseModel):
    """One stream in ``GET /live``."""

    stream_id: StreamId
    owner_id: AccountId
    title: str
    description: str | None = None
    thumbnail: str | None = None
    thumbnail_url: str | None = Field(
        default=None,
        description="the owner's thumbnail, else Mux's image of the stream "
        "(https://image.mux.com/{playback_id}/thumbnail.jpg)",
    )
    status: StreamStatus
    viewer_count: int = 0
    playback_url: str
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None


class LiveStreamDetails(LiveStreamSummary):
    """``GET /live/{stream_id}``. ``stream_key``/``rtmp_url`` only for the owner."""

    peak_viewer_count: int = 0
    archive_playback_url: str | None = None
    stream_key: str | None = None
    rtmp_url: str | None = None


class UsageMeasured(ResponseModel):
    """Figures Mux measured, over the window."""

    seconds_streamed: float = Field(
        description="seconds the live stream was active (Mux bills live input by it): "
        "video.live_stream.active to idle, the reconnect window included, or to deletion"
    )
    minutes_streamed: float
    recordings: int = Field(description="recordings stored at some time in the window")
    recording_minutes: float = Field(description="their duration")


class UsageCost(ResponseModel):
    """Estimated Mux cost in USD over the window (unrounded; adds up across windows)."""

    live_encoding: float
    delivery: float
    storage: float
    total: float


class UsageEstimated(ResponseModel):
    """Figures we estimate: delivered minutes from viewer counts, and the cost."""

    viewer_minutes: float
    storage_minute_months: float = Field(
        description="recording minutes x the share of each month stored in the window"
    )
    cost_usd: UsageCost


class UsageReport(ResponseModel):
    """Usage over ``[from, to)`` (unbounded when absent), each figure by overlap with the
    window. Every figure except the counts (``streams``, ``recordings``,
    ``recording_minutes``) adds up across adjacent windows. ``basis`` says how each figure was
    obtained, which prices were assumed, and its ``sources`` (Mux's documentation)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    measured: UsageMeasured
    estimated: UsageEstimated
    basis: dict[str, Any]


class StreamUsage(UsageReport):
    """``GET /live/{stream_id}/usage[?from=&to=]`` (owner)."""

    stream_id: StreamId


class AccountUsage(UsageReport):
    """``GET /me/usage[?from=&to=]``: every stream of the caller, deleted ones included."""

    account_id: AccountId
    streams: int = Field(description="streams that existed at some time in the window")
