"""What chat-gateway knows of a stream (its projection of other services' events), with the
merge rules that make it converge whatever the order: status forward-only, moderators, bans,
slow mode and followers-only mode last-write-wins by the action's time, viewer count newest
``as_of``. No I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from chat_gateway.domain.blocklist import Blocklist
from chat_gateway.domain.pin import PinSlot
from contracts.common import StreamStatus
from contracts.roles import Role, effective_role

__all__ = ["Ban", "Role", "RoomState"]


@dataclass(frozen=True, slots=True)
class Ban:
    banned: bool
    at: datetime
    expires_at: datetime | None = None
    reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.banned and (self.expires_at is None or self.expires_at > now)


@dataclass
class RoomState:
    stream_id: str
    owner_id: str | None = None
    status: StreamStatus = StreamStatus.IDLE
    moderators: dict[str, tuple[bool, datetime]] = field(default_factory=dict)
    bans: dict[str, Ban] = field(default_factory=dict)
    slow_mode_s: int = 0
    slow_mode_at: datetime | None = None
    followers_only: bool = False
    min_follow_minutes: int = 0
    followers_only_at: datetime | None = None
    viewer_count: int = 0
    viewer_as_of: datetime | None = None
    blocklist: Blocklist = field(default_factory=Blocklist)
    pin: PinSlot = field(default_factory=PinSlot)

    @property
    def known(self) -> bool:
        return self.owner_id is not None

    @property
    def read_only(self) -> bool:
        return self.status in (StreamStatus.ENDED, StreamStatus.DELETED)

    def role(self, account_id: str, now: datetime | None = None) -> Role:
        """The role the account acts with at ``now`` (contracts.roles: a banned or timed-out
        moderator acts as a viewer)."""
        mod = self.moderators.get(account_id)
        return effective_role(
            account_id,
            owner_id=self.owner_id,
            is_moderator=mod is not None and mod[0],
            banned=self.ban_of(account_id, now or datetime.now(UTC)) is not None,
        )

    def ban_of(self, account_id: str, now: datetime) -> Ban | None:
        ban = self.bans.get(account_id)
        return ban if ban is not None and ban.active(now) else None

    # ---- merges (each returns True when it changed something) ----------------------------

    def advance(self, status: StreamStatus) -> bool:
        if status.rank <= self.status.rank:
            return False
        self.status = status
        return True

    def set_moderator(self, account_id: str, is_moderator: bool, at: datetime) -> bool:
        current = self.moderators.get(account_id)
        if current is not None and current[1] >= at:
            return False
        self.moderators[account_id] = (is_moderator, at)
        return True

    def set_ban(self, account_id: str, ban: Ban) -> bool:
        current = self.bans.get(account_id)
        if current is not None and current.at >= ban.at:
            return False
        self.bans[account_id] = ban
        return True

    def set_slow_mode(self, interval_s: int, at: datetime) -> bool:
        if self.slow_mode_at is not None and self.slow_mode_at >= at:
            return False
        self.slow_mode_s, self.slow_mode_at = interval_s, at
        return True

    def set_followers_only(self, enabled: bool, min_follow_minutes: int, at: datetime) -> bool:
        """Followers-only mode, last-write-wins by the action's time, like slow mode."""
        if self.followers_only_at is not None and self.followers_only_at >= at:
            return False
        self.followers_only, self.min_follow_minutes = enabled, min_follow_minutes
        self.followers_only_at = at
        return True

    def set_viewer_count(self, count: int, as_of: datetime) -> bool:
        if self.viewer_as_of is not None and self.viewer_as_of >= as_of:
            return False
        self.viewer_count, self.viewer_as_of = count, as_of
        return True
