"""The server decides whether a pasted token signs someone in: a JWT-shaped token the API
refuses (another stack's secret, ``alg: none``) leaves the page signed out with the server's
reason, instead of "Signed in as ..." above pages that all fail with 401."""

from __future__ import annotations

import base64
import json

import pytest
from playwright.sync_api import Browser, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser


def b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'mallory'})}.",
        f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': 'mallory'})}.c2lnbmF0dXJl",
    ],
    ids=["alg-none", "other-secret"],
)
def test_a_token_the_server_refuses_does_not_sign_in(
    browser: Browser, stack: Stack, token: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.gateway}/app/")
    page.get_by_label("token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").first).to_contain_text("refused")
    expect(page.get_by_test_id("account")).to_have_count(0)
    expect(page.get_by_label("token")).to_be_visible()
    context.close()
