"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (no browser download),
pages signed in through the web client's own token form, and where each chat connection is."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from testkit.stack import Stack

TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no Chromium: 'make infra' installs Debian's chromium (python3 scripts/infra.py up --tools)"
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield launched
        launched.close()


@pytest.fixture
def signed_in(browser: Browser, stack: Stack) -> Callable[[str], Page]:
    """``signed_in(account)``: a fresh browser context (its own storage) signed in through the
    page's token form, on the live list."""

    def open_page(account: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(f"{stack.gateway}/app/")
        page.get_by_label("token").fill(stack.token(account))
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("account")).to_have_text(f"Signed in as {account}")
        return page

    return open_page


@pytest.fixture
def chat_instances(stack: Stack) -> Callable[[str, str], dict[str, str]]:
    """``chat_instances(stream_id, owner)``: account -> the chat-gateway instance it is on."""

    def find(stream_id: str, owner: str) -> dict[str, str]:
        # the registry is written in batches every 0.5 s: read after the next batch
        time.sleep(0.7)
        r = httpx.get(
            f"{stack.gateway}/live/{stream_id}/chat/connections",
            headers=stack.auth(owner),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return {c["account_id"]: c["instance"] for c in r.json()["items"]}

    return find
