"""The gift frame (issue 21): animation and streak by value from the ``gift.sent`` event; an event
stored before streaks existed (the golden sample) shows as a streak of its own."""

from __future__ import annotations

import json
from pathlib import Path

from chat_gateway.gifts import CATALOG, UNKNOWN, animation_fields, catalog_items, gift_frame
from contracts import parse_envelope
from contracts.chat import GiftSent

SAMPLE = Path(__file__).resolve().parents[4] / "libs/contracts/tests/samples/gift.sent.v1.json"


def old_event() -> GiftSent:
    payload = parse_envelope(SAMPLE.read_bytes()).payload
    assert isinstance(payload, GiftSent)
    return payload


class TestGiftFrame:
    def test_an_event_from_before_streaks_is_a_streak_of_its_own(self) -> None:
        event = old_event()
        assert "streak_id" not in json.loads(SAMPLE.read_text())["payload"]
        frame = gift_frame(event)
        rose = CATALOG["rose"]
        assert (frame.streak_id, frame.streak_count) == (f"st_{event.gift_id}", event.amount)
        assert (frame.animation, frame.tier, frame.display_ms) == (
            rose.animation,
            rose.tier,
            rose.display_ms,
        )

    def test_the_stored_streak_and_animation_are_shown_as_stored(self) -> None:
        event = old_event().model_copy(
            update={
                "streak_id": "st_x",
                "streak_count": 7,
                "animation": "custom",
                "tier": 4,
                "display_ms": 0,
            }
        )
        frame = gift_frame(event)
        assert (frame.streak_id, frame.streak_count) == ("st_x", 7)
        assert (frame.animation, frame.tier, frame.display_ms) == ("custom", 4, 0)

    def test_a_gift_type_gone_from_the_catalog_still_animates(self) -> None:
        frame = gift_frame(old_event().model_copy(update={"gift_type": "retired"}))
        assert frame.animation == UNKNOWN.animation


class TestCatalog:
    def test_every_gift_has_an_animation_a_tier_and_a_duration(self) -> None:
        items = catalog_items(5.0)
        assert [i.gift_type for i in items] == list(CATALOG)
        assert len({i.animation for i in items}) == len(items)
        assert all(i.display_ms > 0 and i.streak_window_s == 5.0 for i in items)
        assert animation_fields("crown") == {
            "animation": "crown-drop",
            "tier": 5,
            "display_ms": 5000,
        }
