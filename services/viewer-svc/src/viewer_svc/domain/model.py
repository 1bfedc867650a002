"""Viewer presence rules (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.common import StreamStatus


class JoinRefused(Exception):
    """Why an account may not watch."""


class UnknownStream(JoinRefused):
    pass


class StreamOver(JoinRefused):
    def __init__(self, status: StreamStatus) -> None:
        super().__init__(f"the stream is {status.value}")
        self.status = status


class Banned(JoinRefused):
    def __init__(self, expires_at: datetime | None) -> None:
        until = f" until {expires_at.isoformat()}" if expires_at else ""
        super().__init__(f"you are banned from this stream{until}")
        self.expires_at = expires_at


@dataclass(frozen=True, slots=True)
class StreamView:
    """What viewer-svc knows of a stream, from events (no call to stream-svc)."""

    stream_id: str
    status: StreamStatus
    owner_id: str | None = None
    playback_url: str | None = None


@dataclass(frozen=True, slots=True)
class BanView:
    banned: bool
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.banned and (self.expires_at is None or self.expires_at > now)


def check_join(view: StreamView | None, ban: BanView | None, now: datetime) -> StreamView:
    """The stream if the account may watch it.

    Raises:
        UnknownStream: never heard of it (or only of events that carry no owner yet).
        StreamOver: ended or deleted.
        Banned: an active ban or timeout.
    """
    if view is None or view.owner_id is None:
        raise UnknownStream("no such stream")
    if view.status in (StreamStatus.ENDED, StreamStatus.DELETED):
        raise StreamOver(view.status)
    if ban is not None and ban.active(now):
        raise Banned(ban.expires_at)
    return view
