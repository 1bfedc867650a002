"""Blocked terms and pins through the web client, with the viewer and the moderator on the two
chat-gateway instances (issue 19, items 1, 2 and 5): the studio blocks a term, the viewer's
message with it is refused with a clear reason (and given back to edit) while the moderator's
is posted; a moderator pins a message and a viewer who joins later sees the pin."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser


def test_a_blocked_term_and_a_pin_across_both_gateway_instances(
    stack: Stack,
    signed_in: Callable[[str], Page],
    chat_instances: Callable[[str, str], dict[str, str]],
) -> None:
    run = uuid.uuid4().hex[:6]
    host, mod, ann, late = f"host-{run}", f"mod-{run}", f"ann-{run}", f"late-{run}"

    studio = signed_in(host)
    studio.get_by_role("link", name="Studio").click()
    studio.get_by_label("title").fill(f"Terms show {run}")
    studio.get_by_role("button", name="Create stream").click()
    expect(studio.get_by_test_id("status")).to_have_text("idle")
    stream_id = studio.url.rsplit("/", 1)[-1]
    studio.get_by_role("button", name="Go live").click()
    expect(studio.get_by_test_id("status")).to_have_text("active")
    studio.get_by_label("moderator account").fill(mod)
    studio.get_by_role("button", name="Add moderator").click()
    expect(studio.get_by_test_id("moderators")).to_contain_text(mod)

    # the studio blocks a term, folded as users see it
    studio.get_by_label("term to block").fill("ＺＯＮＫ")
    studio.get_by_role("button", name="Block term").click()
    expect(studio.get_by_test_id("blocked-terms")).to_contain_text("zonk")

    def moderator_known() -> bool:  # the gateway knows the moderator before the page opens
        r = httpx.get(
            f"{stack.gateway}/live/{stream_id}/chat/connections",
            headers=stack.auth(mod),
            timeout=10,
        )
        return r.status_code == 200

    for _ in range(60):
        if moderator_known():
            break
        time.sleep(0.25)
    watch = f"{stack.gateway}/app/#/watch/{stream_id}"
    viewer, moderator = signed_in(ann), signed_in(mod)
    for page in (viewer, moderator):
        page.goto(watch)
        expect(page.get_by_test_id("chat-state")).to_have_text("Connected")
    for _ in range(5):  # the viewer and the moderator on different gateway instances
        instances = chat_instances(stream_id, host)
        if instances.get(ann) and instances.get(mod) and instances[ann] != instances[mod]:
            break
        moderator.reload()
        expect(moderator.get_by_test_id("chat-state")).to_have_text("Connected")
    assert instances[ann] != instances[mod], instances

    # the viewer's message with the term is refused, with the reason, and given back to edit
    viewer.get_by_label("chat message").fill("what a Zonk!")
    viewer.get_by_label("chat message").press("Enter")
    expect(viewer.get_by_test_id("chat-problem")).to_contain_text("Not sent")
    expect(viewer.get_by_test_id("chat-problem")).to_contain_text("blocked")
    expect(viewer.get_by_label("chat message")).to_have_value("what a Zonk!")
    viewer.get_by_label("chat message").fill("hello everyone")
    viewer.get_by_label("chat message").press("Enter")
    # the moderator's message with the term is posted and reaches the viewer's instance
    moderator.get_by_label("chat message").fill("zonk is fine from a moderator")
    moderator.get_by_label("chat message").press("Enter")
    expect(viewer.get_by_test_id("chat-log")).to_contain_text("zonk is fine from a moderator")
    expect(moderator.get_by_test_id("chat-log")).to_contain_text("hello everyone")
    expect(moderator.get_by_test_id("chat-log")).not_to_contain_text("what a Zonk")

    # the moderator pins the viewer's message: both see it, and so does someone joining later
    line = moderator.get_by_test_id("chat-log").locator("li.msg", has_text="hello everyone")
    line.get_by_role("button", name=f"Pin message from {ann}").click()
    expect(viewer.get_by_test_id("pin")).to_contain_text(f"{ann}: hello everyone")
    expect(moderator.get_by_test_id("pin")).to_contain_text("hello everyone")
    newcomer = signed_in(late)
    newcomer.goto(watch)
    expect(newcomer.get_by_test_id("chat-state")).to_have_text("Connected")
    expect(newcomer.get_by_test_id("pin")).to_contain_text(f"{ann}: hello everyone")

    # the studio pins an announcement over it, then takes it down
    studio.get_by_label("announcement to pin").fill(f"Giveaway at nine {run}")
    studio.get_by_role("button", name="Pin announcement").click()
    for page in (viewer, newcomer):
        expect(page.get_by_test_id("pin")).to_have_text(f"📌 Giveaway at nine {run}")
    studio.get_by_role("button", name="Unpin").click()
    for page in (viewer, newcomer):
        expect(page.get_by_test_id("pin")).to_be_hidden()
