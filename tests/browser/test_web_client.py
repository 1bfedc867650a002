"""The web client (clients/web) in headless Chromium against the stack as ``make run`` starts it.

Debian's ``chromium`` is driven by Playwright (no browser download). Screenshots of the
viewer and streamer pages go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"


def test_streamer_and_viewer_through_the_web_client(
    stack: Stack,
    signed_in: Callable[[str], Page],
    chat_instances: Callable[[str, str], dict[str, str]],
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:6]
    host, ann = f"host-{run}", f"ann-{run}"

    # the streamer creates a stream in the studio, sees the OBS settings and goes live
    studio = signed_in(host)
    studio.get_by_role("link", name="Studio").click()
    studio.get_by_label("title").fill(f"Browser show {run}")
    studio.get_by_role("button", name="Create stream").click()
    expect(studio.get_by_test_id("status")).to_have_text("idle")
    stream_id = studio.url.rsplit("/", 1)[-1]
    owner_view = httpx.get(
        f"{stack.gateway}/live/{stream_id}", headers=stack.auth(host), timeout=10
    ).json()
    expect(studio.get_by_test_id("rtmp-url")).to_have_text(owner_view["rtmp_url"])
    expect(studio.get_by_test_id("stream-key")).not_to_contain_text(owner_view["stream_key"])
    studio.get_by_role("button", name="Reveal").click()
    expect(studio.get_by_test_id("stream-key")).to_have_text(owner_view["stream_key"])
    studio.get_by_role("button", name="Go live").click()
    expect(studio.get_by_test_id("status")).to_have_text("active")
    studio.get_by_label("moderator account").fill(f"mod-{run}")
    studio.get_by_role("button", name="Add moderator").click()
    expect(studio.get_by_test_id("moderators")).to_contain_text(f"mod-{run}")
    expect(studio.get_by_test_id("chat-state")).to_have_text("Connected")

    # a viewer finds it under "Live now" and watches: the video plays (its clock advances)
    viewer = signed_in(ann)
    viewer.get_by_role("link", name=f"Browser show {run}").click()
    expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    video = viewer.get_by_test_id("video")
    viewer.wait_for_function("v => v.currentTime > 1.0", arg=video.element_handle(), timeout=60_000)
    before = video.evaluate("v => v.currentTime")
    viewer.wait_for_timeout(1500)
    assert video.evaluate("v => v.currentTime") > before, "the video is not advancing"
    assert video.evaluate("v => !v.paused && v.videoWidth > 0")

    # the two people are on different chat-gateway instances (the gateway balances least_conn)
    for _ in range(5):
        instances = chat_instances(stream_id, host)
        if instances.get(host) and instances.get(ann) and instances[host] != instances[ann]:
            break
        viewer.reload()
        expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    assert instances[host] != instances[ann], instances

    # they chat with each other, across the instances
    viewer.get_by_label("chat message").fill("hello from the viewer")
    viewer.get_by_label("chat message").press("Enter")
    expect(studio.get_by_test_id("chat-log")).to_contain_text("hello from the viewer")
    studio.get_by_label("chat message").fill("welcome, viewer")
    studio.get_by_role("button", name="Send").click()
    expect(viewer.get_by_test_id("chat-log")).to_contain_text("welcome, viewer")
    expect(viewer.get_by_test_id("viewer-count")).to_have_text(re.compile(r"^[1-9]\d*$"))

    # the viewer's connection drops (its gateway instance is killed; the runner restarts it):
    # the page reconnects by itself and resumes, missing nothing that was said meanwhile
    os.kill(stack.pid(instances[ann]), signal.SIGKILL)
    expect(viewer.get_by_test_id("chat-state")).to_contain_text("reconnecting")
    studio.get_by_label("chat message").fill("said while you were away")
    studio.get_by_role("button", name="Send").click()
    expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    expect(viewer.get_by_test_id("chat-log")).to_contain_text("said while you were away")
    expect(viewer.get_by_test_id("chat-log").locator("li.msg")).to_have_count(3)

    # a gift shows up for both
    viewer.get_by_test_id("gift-bar").locator("button.gift").first.click()
    expect(viewer.get_by_test_id("gift-line").first).to_contain_text(f"{ann} sent 1")
    expect(studio.get_by_test_id("gift-line").first).to_contain_text(f"{ann} sent 1")

    # the streamer deletes a message: it disappears for the viewer
    viewer.get_by_label("chat message").fill("a message to delete")
    viewer.get_by_label("chat message").press("Enter")
    doomed = studio.get_by_test_id("chat-log").locator("li.msg", has_text="a message to delete")
    doomed.get_by_role("button", name=f"Delete message from {ann}").click()
    expect(viewer.get_by_test_id("chat-log")).not_to_contain_text("a message to delete")

    viewer.screenshot(path=str(ARTIFACTS / "viewer.png"), full_page=True)
    studio.screenshot(path=str(ARTIFACTS / "streamer.png"), full_page=True)

    # a ban takes the viewer's ability to post away, in the page and on the API
    line = studio.get_by_test_id("chat-log").locator("li.msg", has_text="hello from the viewer")
    line.get_by_role("button", name=f"Ban {ann}").click()
    expect(viewer.get_by_test_id("chat-problem")).to_contain_text("banned")
    expect(viewer.get_by_label("chat message")).to_be_disabled()
    refused = httpx.post(
        f"{stack.gateway}/live/{stream_id}/chats",
        json={"message": "let me in"},
        headers=stack.auth(ann),
        timeout=10,
    )
    assert refused.status_code == 403, refused.text
    expect(studio.get_by_test_id("bans")).to_contain_text(ann)
    viewer.screenshot(path=str(ARTIFACTS / "viewer-banned.png"), full_page=True)

    # the streamer ends the stream: chat turns read-only for whoever is still there
    studio.get_by_role("button", name="End stream").click()
    expect(studio.get_by_test_id("status")).to_have_text("ended")
    expect(studio.get_by_label("chat message")).to_be_disabled()


def test_api_errors_are_shown_to_the_person(stack: Stack, signed_in: Callable[[str], Page]) -> None:
    page = signed_in(f"lost-{uuid.uuid4().hex[:6]}")
    page.goto(f"{stack.gateway}/app/#/watch/ls_does_not_exist")
    expect(page.get_by_role("alert").first).to_contain_text("404")
    expect(page.locator("main")).to_contain_text("not available")


def test_a_bad_token_is_refused_with_a_message(browser: Browser, stack: Stack) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.gateway}/app/")
    page.get_by_label("token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").first).to_contain_text("not a valid")
    expect(page.locator("main")).to_contain_text("Sign in")
    context.close()
