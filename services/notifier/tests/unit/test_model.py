from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notifier.domain import model

T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_go_live_ids_are_one_per_follower_and_stream() -> None:
    a = model.go_live("ls_1", "alice", "Speedrun", "bob", T0)
    again = model.go_live("ls_1", "alice", "Speedrun", "bob", T0 + timedelta(minutes=5))
    other_stream = model.go_live("ls_2", "alice", "Speedrun", "bob", T0)
    assert a.notification_id == again.notification_id
    assert a.notification_id != other_stream.notification_id
    assert a.title == "alice is live"
    assert a.data == {"stream_id": "ls_1", "owner_id": "alice"}


def test_gift_and_ban_texts() -> None:
    gift = model.gift_received("g1", "ls_1", "alice", "bob", "rose", 3, T0)
    assert gift.title == "bob sent you 3 roses"
    timeout = model.banned("ls_1", "troll", "Speedrun", T0, T0 + timedelta(minutes=10), "spam")
    assert timeout.title == "You were timed out in Speedrun"
    ban = model.banned("ls_1", "troll", None, T0, None, None)
    assert ban.title == "You were banned from a stream"
    assert (
        timeout.notification_id
        != model.banned(
            "ls_1", "troll", None, T0 + timedelta(seconds=1), None, None
        ).notification_id
    )
