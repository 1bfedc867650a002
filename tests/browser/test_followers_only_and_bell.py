"""Followers-only chat and the notification bell in the web client (issue 19, items 3-5).

* The streamer turns followers-only chat on in the studio; a viewer on the *other* chat-gateway
  instance reads the chat, is told why their message is refused, follows from the watch page
  and can then post (minimum 0 minutes).
* The bell on the Inbox link counts a followed streamer going live (and a gift for the
  streamer) without a reload, and clears on "Mark all read".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser


def create_live_stream(stack: Stack, owner: str, title: str) -> str:
    created = httpx.post(
        f"{stack.gateway}/live", json={"title": title}, headers=stack.auth(owner), timeout=20
    )
    assert created.status_code == 201, created.text
    stream_id = str(created.json()["stream_id"])
    started = httpx.put(
        f"{stack.gateway}/live/{stream_id}/start", headers=stack.auth(owner), timeout=20
    )
    assert started.status_code == 200, started.text
    return stream_id


def test_a_non_follower_cannot_post_in_followers_only_chat_and_can_after_following(
    stack: Stack,
    signed_in: Callable[[str], Page],
    chat_instances: Callable[[str, str], dict[str, str]],
) -> None:
    run = uuid.uuid4().hex[:6]
    host, ann = f"host-{run}", f"ann-{run}"
    stream_id = create_live_stream(stack, host, f"Followers show {run}")

    studio = signed_in(host)
    studio.goto(f"{stack.gateway}/app/#/studio/{stream_id}")
    expect(studio.get_by_test_id("chat-state")).to_have_text("Connected")
    control = studio.get_by_label("followers-only chat")
    expect(control).to_have_value("off")
    control.select_option(label="any follower")
    expect(studio.get_by_test_id("followers-only")).to_have_text("Followers-only chat")

    viewer = signed_in(ann)
    viewer.goto(f"{stack.gateway}/app/#/watch/{stream_id}")
    expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    for _ in range(5):  # the two people on different chat-gateway instances
        instances = chat_instances(stream_id, host)
        if instances.get(host) and instances.get(ann) and instances[host] != instances[ann]:
            break
        viewer.reload()
        expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    assert instances[host] != instances[ann], instances
    expect(viewer.get_by_test_id("followers-only")).to_have_text("Followers-only chat")

    # the viewer reads the streamer, but their own message is refused, with the reason
    studio.get_by_label("chat message").fill("followers only today")
    studio.get_by_label("chat message").press("Enter")
    expect(viewer.get_by_test_id("chat-log")).to_contain_text("followers only today")
    viewer.get_by_label("chat message").fill("can I talk?")
    viewer.get_by_label("chat message").press("Enter")
    expect(viewer.get_by_test_id("chat-problem")).to_have_text(
        "Followers-only chat: follow the streamer to chat."
    )
    refused = httpx.post(
        f"{stack.gateway}/live/{stream_id}/chats",
        json={"message": "and over HTTP?"},
        headers=stack.auth(ann),
        timeout=10,
    )
    assert (refused.status_code, refused.json()["error"]) == (403, "followers_only")
    assert refused.json()["may_post_at"] is None

    # after following (minimum 0) the viewer can post; the follow reaches chat-gateway as an
    # event, so a message sent in the instant before it arrived is refused and sent again
    viewer.get_by_role("button", name=f"Follow {host}").click()
    expect(viewer.get_by_role("button", name=f"Following {host}")).to_be_disabled()
    for attempt in range(20):
        viewer.get_by_label("chat message").fill(f"thanks, following now ({attempt})")
        viewer.get_by_label("chat message").press("Enter")
        try:
            expect(studio.get_by_test_id("chat-log")).to_contain_text(
                f"thanks, following now ({attempt})", timeout=2_000
            )
            break
        except AssertionError:
            continue
    else:
        pytest.fail("the viewer could not post after following")
    expect(viewer.get_by_test_id("chat-problem")).to_have_text("")
    assert "can I talk?" not in (studio.get_by_test_id("chat-log").text_content() or "")

    # the streamer turns it off: the viewer page says so
    studio.get_by_label("followers-only chat").select_option("off")
    expect(viewer.get_by_test_id("followers-only")).to_be_hidden()


def test_the_bell_counts_a_go_live_without_reload_and_clears_on_mark_all_read(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    run = uuid.uuid4().hex[:6]
    host, ann = f"star-{run}", f"fan-{run}"
    followed = httpx.put(
        f"{stack.gateway}/users/{host}/follow", headers=stack.auth(ann), timeout=10
    )
    assert followed.status_code == 200, followed.text

    fan = signed_in(ann)
    expect(fan.get_by_role("link", name="Inbox", exact=True)).to_be_visible()
    streamer = signed_in(host)
    expect(streamer.get_by_role("link", name="Inbox", exact=True)).to_be_visible()

    # the followed streamer goes live: the fan's bell counts it, no reload
    stream_id = create_live_stream(stack, host, f"Bell show {run}")
    bell = fan.get_by_role("link", name="Inbox, 1 unread")
    expect(bell).to_be_visible()
    expect(fan.get_by_test_id("unread-count")).to_have_text("1")

    # a gift arrives for the streamer: their bell counts it too
    sent = httpx.post(
        f"{stack.gateway}/live/{stream_id}/gift",
        json={"gift_type": "rose", "amount": 1},
        headers={**stack.auth(ann), "Idempotency-Key": f"bell-{run}"},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    expect(streamer.get_by_role("link", name="Inbox, 1 unread")).to_be_visible()

    # the list: unread, with a link to the stream; "Mark all read" clears the bell
    bell.click()
    entry = fan.get_by_test_id("inbox").locator("li.note.unread")
    expect(entry).to_have_count(1)
    expect(entry.get_by_role("link", name=f"{host} is live")).to_have_attribute(
        "href", f"#/watch/{stream_id}"
    )
    fan.get_by_role("button", name="Mark all read").click()
    expect(fan.get_by_test_id("inbox").locator("li.note.unread")).to_have_count(0)
    expect(fan.get_by_test_id("inbox").locator("li.note.read")).to_have_count(1)
    expect(fan.get_by_role("link", name="Inbox", exact=True)).to_be_visible()
    expect(fan.get_by_test_id("unread-count")).to_have_count(0)
    assert re.fullmatch(r"Inbox", fan.get_by_role("link", name="Inbox", exact=True).inner_text())
