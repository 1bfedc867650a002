"""Gifts that animate (issue 21, section 2): a streak of three gifts, sent from the viewer's page,
shows as one animated card with the same streak id and the count 3 on the viewer's page and on
the studio, whose chat connections sit on different gateway instances; the studio lists the
gifts received with totals per sender."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def test_a_streak_of_three_gifts_is_the_same_on_the_viewer_and_the_studio(
    stack: Stack,
    signed_in: Callable[[str], Page],
    chat_instances: Callable[[str, str], dict[str, str]],
) -> None:
    run = uuid.uuid4().hex[:6]
    host, ann = f"host-{run}", f"ann-{run}"
    r = httpx.post(
        f"{stack.gateway}/live", json={"title": f"Gift show {run}"}, headers=stack.auth(host)
    )
    assert r.status_code == 201, r.text
    sid = r.json()["stream_id"]
    assert httpx.put(f"{stack.gateway}/live/{sid}/start", headers=stack.auth(host)).is_success

    studio = signed_in(host)
    studio.goto(f"{stack.gateway}/app/#/studio/{sid}")
    expect(studio.get_by_test_id("chat-state")).to_have_text("Connected")
    expect(studio.get_by_test_id("gift-total")).to_have_text("No gifts yet.")
    viewer = signed_in(ann)
    viewer.goto(f"{stack.gateway}/app/#/watch/{sid}")
    expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    # the two pages' chat connections are on different chat-gateway instances
    for _ in range(5):
        instances = chat_instances(sid, host)
        if instances.get(host) and instances.get(ann) and instances[host] != instances[ann]:
            break
        viewer.reload()
        expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    assert instances[host] != instances[ann], instances

    heart = viewer.get_by_test_id("gift-bar").locator("button[data-gift='heart']")
    for _ in range(3):
        heart.click()
        expect(heart).to_be_enabled()  # the receipt came back

    cards = {}
    for page in (viewer, studio):
        card = page.get_by_test_id("gift-streak")
        expect(card).to_have_count(1)
        expect(card.get_by_test_id("gift-streak-count")).to_have_text("×3")
        expect(card).to_have_attribute("data-sender", ann)
        expect(card).to_have_class(
            "gift-pop tier-2 anim-heart-pulse bump"
        )  # the catalog's heart, by value
        cards[page] = card.get_attribute("data-streak")
        lines = page.get_by_test_id("gift-line")
        expect(lines).to_have_count(3)
        expect(lines.last).to_contain_text(f"{ann} sent 1 × heart (combo ×3)")
    assert cards[viewer] == cards[studio]
    assert cards[viewer]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(path=str(ARTIFACTS / "gift-streak-viewer.png"))

    # the studio lists what it received, per sender
    expect(studio.get_by_test_id("gift-total")).to_have_text("3 gifts, 150 coins")
    expect(studio.get_by_test_id("gift-totals").locator("li")).to_have_text(
        [f"{ann}: 3 gifts, 150 coins"]
    )
    studio.screenshot(path=str(ARTIFACTS / "gift-streak-studio.png"), full_page=True)
    # and the totals are the owner's alone
    refused = httpx.get(f"{stack.gateway}/live/{sid}/gifts/summary", headers=stack.auth(ann))
    assert refused.status_code == 403
