"""The gift catalog and what a client needs to animate a gift (issue 21; plan §3.3 "data for
the gift animation"): an animation id, a tier and a display time per gift type, and the combo
streak rule. I/O-free.

A **combo streak** (TikTok's gift combos, Twitch's Hype Train): the same sender sending the same
gift type to the same stream within the streak window (``CHAT_GIFT_STREAK_WINDOW_S``, default
5 s) of their previous one continues that streak, whose count is the sum of the gifts'
``amount``. The decision is made once, where the gift is stored
(``adapters/mongo_gifts.GiftStreaks``), and travels in the ``gift.sent`` event, so every
instance shows the same streak id and count.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.chat import GiftCatalogItem, GiftSent
from contracts.ws import GiftFrame


@dataclass(frozen=True, slots=True)
class GiftKind:
    """One catalog entry: ``price`` in coins; ``tier`` 1 (small) to 5 (biggest) sizes the
    animation ``animation``, shown for ``display_ms`` milliseconds."""

    name: str
    price: int
    animation: str
    tier: int
    display_ms: int


#: The gift catalog: type -> entry.
CATALOG: dict[str, GiftKind] = {
    "rose": GiftKind("Rose", 10, "rose-float", 1, 2000),
    "heart": GiftKind("Heart", 50, "heart-pulse", 2, 2500),
    "star": GiftKind("Star", 100, "star-burst", 3, 3000),
    "rocket": GiftKind("Rocket", 500, "rocket-launch", 4, 4000),
    "crown": GiftKind("Crown", 1000, "crown-drop", 5, 5000),
}
#: What a gift type missing from the catalog (removed since it was sent) is shown as.
UNKNOWN = GiftKind("Gift", 0, "gift-pop", 1, 2000)


def catalog_items(streak_window_s: float) -> list[GiftCatalogItem]:
    """``GET /gifts/catalog``, in catalog order (cheapest first)."""
    return [
        GiftCatalogItem(
            gift_type=gift_type,
            name=kind.name,
            unit_price=kind.price,
            animation=kind.animation,
            tier=kind.tier,
            display_ms=kind.display_ms,
            streak_window_s=streak_window_s,
        )
        for gift_type, kind in CATALOG.items()
    ]


def animation_fields(gift_type: str) -> dict[str, str | int]:
    """The animation fields a stored gift and its ``gift.sent`` event carry by value."""
    kind = CATALOG.get(gift_type, UNKNOWN)
    return {"animation": kind.animation, "tier": kind.tier, "display_ms": kind.display_ms}


def gift_frame(event: GiftSent) -> GiftFrame:
    """The ``gift`` frame of a ``gift.sent`` event. An event stored before streaks existed
    shows as a streak of its own (id ``st_<gift_id>``, count ``amount``), animated as the
    catalog says now."""
    fallback = animation_fields(event.gift_type)
    return GiftFrame(
        gift_id=event.gift_id,
        sender_id=event.sender_id,
        gift_type=event.gift_type,
        amount=event.amount,
        sent_at=event.sent_at,
        animation=event.animation or str(fallback["animation"]),
        tier=event.tier or int(fallback["tier"]),
        display_ms=event.display_ms
        if event.display_ms is not None
        else int(fallback["display_ms"]),
        streak_id=event.streak_id or f"st_{event.gift_id}",
        streak_count=event.streak_count or event.amount,
    )
