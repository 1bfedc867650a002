"""Mux Player on the viewer and studio pages (issue 21, section 1): it plays the live stream and,
after the stream ends, its recording (the simulator's HLS through the gateway); Mux Data beacons
leave the page only when the gateway's config carries an environment key."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, Request, Route, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser

#: Mux Data's beacon domain (mux-embed posts to https://<env key>.litix.io or img.litix.io).
BEACONS = "**/*litix.io*/**"


def _assert_plays(page: Page, player: Locator) -> None:
    """The player element reaches ``playing``, its clock advances and the video has a width."""
    handle = player.element_handle()
    page.wait_for_function("p => p.currentTime > 1.0 && !p.paused", arg=handle, timeout=60_000)
    before = player.evaluate("p => p.currentTime")
    page.wait_for_function(f"p => p.currentTime > {before} + 0.5", arg=handle, timeout=20_000)
    assert player.evaluate("p => p.tagName") == "MUX-PLAYER"
    assert player.evaluate("p => p.videoWidth") > 0, "the video has no picture"
    assert player.evaluate("p => p.media.nativeEl.paused") is False


def _beacons(page: Page) -> list[str]:
    """Record (and drop: there is no network) every request to Mux Data's beacon domain."""
    seen: list[str] = []

    def drop(route: Route, request: Request) -> None:
        seen.append(request.url)
        route.abort()

    page.context.route(BEACONS, drop)
    return seen


def _elsewhere(page: Page, gateway: str) -> list[str]:
    """Record every request of the page's context that goes anywhere but the gateway."""
    seen: list[str] = []

    def check(request: Request) -> None:
        url = request.url
        if not url.startswith((gateway + "/", "data:", "blob:")):
            seen.append(url)

    page.context.on("request", check)
    return seen


def _create_live(stack: Stack, host: str, title: str) -> str:
    r = httpx.post(
        f"{stack.gateway}/live", json={"title": title}, headers=stack.auth(host), timeout=10
    )
    assert r.status_code == 201, r.text
    sid: str = r.json()["stream_id"]
    # the encoder connects (simulated): Mux's webhooks take the stream live and record it
    assert httpx.post(f"{stack.sim}/_sim/passthrough/{sid}/connect", timeout=10).status_code == 200
    return sid


def _details(stack: Stack, sid: str, account: str) -> dict[str, Any]:
    r = httpx.get(f"{stack.gateway}/live/{sid}", headers=stack.auth(account), timeout=10)
    assert r.status_code == 200, r.text
    details: dict[str, Any] = r.json()
    return details


def test_the_gateway_serves_the_page_config_without_a_key(stack: Stack) -> None:
    r = httpx.get(f"{stack.gateway}/app/config.json", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"mux_data_env_key": ""}


def test_live_then_archive_on_the_viewer_and_studio_pages(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    run = uuid.uuid4().hex[:6]
    host, ann = f"host-{run}", f"ann-{run}"
    sid = _create_live(stack, host, f"Player show {run}")

    viewer = signed_in(ann)
    viewer_beacons = _beacons(viewer)
    viewer_elsewhere = _elsewhere(viewer, stack.gateway)
    viewer.goto(f"{stack.gateway}/app/#/watch/{sid}")
    expect(viewer.get_by_test_id("status")).to_have_text("active")
    player = viewer.get_by_test_id("video")
    expect(player).to_have_attribute("data-playing", "live")
    expect(player).to_have_attribute("stream-type", "live")
    _assert_plays(viewer, player)
    # the player's live UI, with a DVR window (a live stream can be scrubbed back)
    assert player.evaluate("p => [p.streamType, p.targetLiveWindow === Infinity]") == [
        "live",
        True,
    ]

    studio = signed_in(host)
    studio_beacons = _beacons(studio)
    studio.goto(f"{stack.gateway}/app/#/studio/{sid}")
    expect(studio.get_by_test_id("status")).to_have_text("active")
    own = studio.get_by_test_id("video")
    expect(own).to_have_attribute("data-playing", "live")
    _assert_plays(studio, own)

    # the streamer ends the stream: both pages move to the recording once Mux has it
    studio.get_by_role("button", name="End stream").click()
    expect(studio.get_by_test_id("status")).to_have_text("ended")
    expect(viewer.get_by_test_id("status")).to_have_text("ended")
    expect(player).to_have_attribute("data-playing", "archive", timeout=60_000)
    expect(player).to_have_attribute("stream-type", "on-demand")
    assert player.evaluate("p => p.streamType") == "on-demand"
    archive = _details(stack, sid, ann)["archive_playback_url"]
    assert archive
    expect(player).to_have_attribute("src", archive)
    _assert_plays(viewer, player)
    expect(own).to_have_attribute("data-playing", "archive", timeout=60_000)
    _assert_plays(studio, own)

    # a page opened after the end plays the recording straight away
    later = signed_in(f"late-{run}")
    late_beacons = _beacons(later)
    later.goto(f"{stack.gateway}/app/#/watch/{sid}")
    expect(later.get_by_test_id("video")).to_have_attribute("data-playing", "archive")
    _assert_plays(later, later.get_by_test_id("video"))

    # no Mux Data environment key configured: Mux Player sent no beacon at all, and the
    # viewer's page asked nothing of any host but the gateway
    assert viewer_beacons == studio_beacons == late_beacons == []
    assert viewer_elsewhere == []
    expect(player).to_have_attribute("disable-tracking", "")


def test_with_an_environment_key_the_player_reports_to_mux_data(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    run = uuid.uuid4().hex[:6]
    sid = _create_live(stack, f"host-{run}", f"Data show {run}")
    viewer = signed_in(f"ann-{run}")
    beacons = _beacons(viewer)
    # the config a gateway started with MUX_DATA_ENV_KEY serves (see the nginx template)
    viewer.context.route(
        "**/app/config.json",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"mux_data_env_key": "livecasttestkey"}),
        ),
    )
    viewer.goto(f"{stack.gateway}/app/#/watch/{sid}")
    player = viewer.get_by_test_id("video")
    expect(player).to_have_attribute("env-key", "livecasttestkey")
    _assert_plays(viewer, player)
    for _ in range(60):
        if beacons:
            break
        viewer.wait_for_timeout(500)
    assert beacons, "no Mux Data beacon was sent"
    assert all(b.startswith("https://livecasttestkey.litix.io") for b in beacons), beacons
    expect(player).not_to_have_attribute("disable-tracking", "")


def test_a_page_opened_before_the_recording_is_ready_plays_it_once_it_is(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    run = uuid.uuid4().hex[:6]
    host = f"host-{run}"
    sid = _create_live(stack, host, f"Slow archive {run}")
    knobs = httpx.get(f"{stack.sim}/_sim/config", timeout=10).json()
    # Mux takes its time to make the recording ready (the simulator's knob; restored after)
    r = httpx.post(f"{stack.sim}/_sim/config", json={"asset_ready_delay_s": 15}, timeout=10)
    assert r.status_code == 200, r.text
    try:
        viewer = signed_in(f"ann-{run}")
        viewer.goto(f"{stack.gateway}/app/#/watch/{sid}")
        player = viewer.get_by_test_id("video")
        expect(player).to_have_attribute("data-playing", "live")
        ended = httpx.put(f"{stack.gateway}/live/{sid}/end", headers=stack.auth(host), timeout=10)
        assert ended.status_code == 200, ended.text
        expect(viewer.get_by_test_id("status")).to_have_text("ended")

        later = signed_in(f"late-{run}")
        later.goto(f"{stack.gateway}/app/#/watch/{sid}")
        expect(later.get_by_test_id("status")).to_have_text("ended")
        late_player = later.get_by_test_id("video")
        assert _details(stack, sid, host)["archive_playback_url"] is None  # not ready yet
        expect(late_player).not_to_have_attribute("data-playing", re.compile(".*"))
        # both pages, the one open at the end and the one opened after, play it once it is
        for page, shown in ((viewer, player), (later, late_player)):
            expect(shown).to_have_attribute("data-playing", "archive", timeout=60_000)
            _assert_plays(page, shown)
    finally:
        httpx.post(
            f"{stack.sim}/_sim/config",
            json={"asset_ready_delay_s": knobs["asset_ready_delay_s"]},
            timeout=10,
        )
