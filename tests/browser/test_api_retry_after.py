"""The web client's API helper (clients/web/js/api.js) honours ``Retry-After``.

Runs api.js in headless Chromium with every request answered by Playwright (no stack): a
request the server shed (503 ``overloaded``) is sent again after the server's wait; other 503s
of a write are not retried and reach the page with their ``Retry-After``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, sync_playwright

pytestmark = pytest.mark.browser

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"
ORIGIN = "http://localhost"  # a secure context (api.js uses crypto.randomUUID)
OVERLOADED = {"error": "overloaded", "message": "the service is busy", "retry_after_s": 1}


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    exe = next((p for n in ("chromium", "chromium-browser") if (p := shutil.which(n))), None)
    if exe is None:
        pytest.fail("no Chromium: 'make infra' installs Debian's chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield browser.new_page()
        browser.close()


def serve(page: Page, answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> list[float]:
    """Serve clients/web under /app/ and answer API calls with ``answers`` in turn; returns the
    times the API calls arrived."""
    arrivals: list[float] = []

    def handle(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/app/":  # a blank page of the client's origin, so app.js makes no calls
            route.fulfill(body="<!doctype html><title>api.js</title>", content_type="text/html")
            return
        if path.startswith("/app/js/"):
            route.fulfill(path=WEB / path.removeprefix("/app/"))
            return
        arrivals.append(time.monotonic())
        status, body, headers = answers[min(len(arrivals), len(answers)) - 1]
        route.fulfill(
            status=status,
            body=json.dumps(body),
            headers={"content-type": "application/json", **headers},
        )

    page.unroute("**/*")
    page.route("**/*", handle)
    page.goto(f"{ORIGIN}/app/")
    return arrivals


def call(page: Page, expression: str) -> Any:
    return page.evaluate(
        f"""async () => {{
            const m = await import("/app/js/api.js");
            try {{ return {{ ok: await {expression} }}; }}
            catch (e) {{ return {{ error: {{ status: e.status, code: e.code,
                                            retryAfterS: e.retryAfterS }} }}; }}
        }}"""
    )


def test_a_shed_request_is_sent_again_after_retry_after(page: Page) -> None:
    listing = {"items": [], "next_cursor": None}
    arrivals = serve(page, [(503, OVERLOADED, {"Retry-After": "1"}), (200, listing, {})])
    got = call(page, 'm.api("POST", "/live/ls_1/join")')
    assert got == {"ok": listing}
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 0.95  # waited the server's second


def test_retries_are_bounded_and_the_last_answer_is_the_error(page: Page) -> None:
    arrivals = serve(page, [(503, OVERLOADED, {"Retry-After": "1"})])
    got = call(page, 'm.api("GET", "/live")')
    assert got == {"error": {"status": 503, "code": "overloaded", "retryAfterS": 1}}
    assert len(arrivals) == 3  # the first try and two retries


def test_a_write_that_failed_otherwise_is_not_retried(page: Page) -> None:
    unavailable = {"error": "unavailable", "message": "database unavailable"}
    arrivals = serve(page, [(503, unavailable, {"Retry-After": "5"})])
    got = call(page, 'm.api("POST", "/live/ls_1/gift", {"gift_type": "rose", "amount": 1})')
    assert got == {"error": {"status": 503, "code": "unavailable", "retryAfterS": 5}}
    assert len(arrivals) == 1


def test_a_wait_longer_than_the_client_accepts_is_not_slept(page: Page) -> None:
    arrivals = serve(page, [(503, OVERLOADED, {"Retry-After": "120"})])
    got = call(page, 'm.api("GET", "/live")')
    assert got["error"]["retryAfterS"] == 120
    assert len(arrivals) == 1
