"""A streamer changes the title of a live stream and a viewer's page shows it without reloading;
"Live now" cards show thumbnails; resetting the key makes the simulator refuse the old one
(issue 16, sections 5 and 6)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser


def test_title_edit_thumbnails_and_key_reset(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    run = uuid.uuid4().hex[:6]
    host, viewer_name = f"host-{run}", f"ann-{run}"

    studio = signed_in(host)
    studio.get_by_role("link", name="Studio").click()
    studio.get_by_label("title").fill(f"Before {run}")
    studio.get_by_role("button", name="Create stream").click()
    expect(studio.get_by_test_id("status")).to_have_text("idle")
    stream_id = studio.url.rsplit("/", 1)[-1]
    studio.get_by_role("button", name="Go live").click()
    expect(studio.get_by_test_id("status")).to_have_text("active")

    # the "Live now" card shows the stream's thumbnail (the simulator's JPEG through the gateway)
    viewer = signed_in(viewer_name)
    card = viewer.get_by_test_id("live-list").locator("li", has_text=f"Before {run}")
    thumb = card.locator("img.thumb")
    expect(thumb).to_be_visible()
    viewer.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )

    # the viewer watches; the streamer renames the stream; the viewer's page follows, no reload
    viewer.get_by_role("link", name=f"Before {run}").click()
    expect(viewer.get_by_test_id("chat-state")).to_have_text("Connected")
    marker = viewer.evaluate("() => (window.__noReload = 1)")
    studio.get_by_label("stream title").fill(f"After {run}")
    studio.get_by_role("button", name="Save title").click()
    expect(studio.get_by_test_id("stream-title")).to_have_text(f"After {run}")
    expect(viewer.get_by_test_id("stream-title")).to_have_text(f"After {run}", timeout=15_000)
    assert viewer.evaluate("() => window.__noReload") == marker  # same page, not reloaded
    assert f"After {run}" in viewer.title()

    # the streamer resets the key: the page shows the new one, the simulator refuses the old one
    old = httpx.get(
        f"{stack.gateway}/live/{stream_id}", headers=stack.auth(host), timeout=10
    ).json()["stream_key"]
    studio.get_by_role("button", name="Reveal").click()
    expect(studio.get_by_test_id("stream-key")).to_have_text(old)
    studio.once("dialog", lambda dialog: dialog.accept())
    studio.get_by_role("button", name="Reset key").click()
    expect(studio.get_by_test_id("stream-key")).not_to_have_text(old)
    new = studio.get_by_test_id("stream-key").inner_text()
    refused = httpx.post(f"{stack.sim}/_sim/stream-keys/{old}/connect", timeout=10)
    assert refused.status_code == 403, refused.text
    accepted = httpx.post(f"{stack.sim}/_sim/stream-keys/{new}/connect", timeout=10)
    assert accepted.status_code == 200, accepted.text


def fits(page: Page) -> bool:
    """Nothing on the page is wider than the window (no sideways scrolling)."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_title_without_spaces_stays_inside_the_page(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    """A 100-character title with no space (the longest allowed) wraps on the studio, the
    watch page and the "Live now" card instead of running off the page (and under the chat)."""
    run = uuid.uuid4().hex[:6]
    title = (run + "W" * 100)[:100]
    host = f"host-{run}"
    created = httpx.post(
        f"{stack.gateway}/live", json={"title": title}, headers=stack.auth(host), timeout=10
    )
    assert created.status_code == 201, created.text
    stream_id = created.json()["stream_id"]
    started = httpx.put(
        f"{stack.gateway}/live/{stream_id}/start", headers=stack.auth(host), timeout=10
    )
    assert started.status_code == 200, started.text

    studio = signed_in(host)
    studio.goto(f"{stack.gateway}/app/#/studio/{stream_id}")
    expect(studio.get_by_test_id("stream-title")).to_have_text(title)
    assert fits(studio)

    viewer = signed_in(f"ann-{run}")
    expect(viewer.get_by_test_id("live-list").locator("li", has_text=run)).to_be_visible()
    assert fits(viewer)
    viewer.get_by_role("link", name=title).click()
    expect(viewer.get_by_test_id("stream-title")).to_have_text(title)
    assert fits(viewer)
