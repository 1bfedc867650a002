"""Accessibility of the web client: axe-core (vendored, see ``vendor/README.md``) on every page,
as a signed-out visitor, a viewer, the streamer and a moderator, with a full chat, and the chat
log by keyboard and screen reader.

The blocking impacts are axe's ``serious`` and ``critical``; every violation found (any impact)
is written to ``test-artifacts/browser/axe-<page>.json`` for reading.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from testkit.stack import Stack

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING = ("serious", "critical")
CHATTERS = 10
PER_CHATTER = 4  # under the chat's burst of 5 per account: all accepted at once


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; every violation, with up to 5 nodes each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id,
                impact: v.impact,
                help: v.help,
                nodes: v.nodes.length,
                examples: v.nodes
                    .slice(0, 5)
                    .map((n) => `${n.target.join(" ")}: ${n.failureSummary}`),
            }));
        }"""
    )
    return found


def assert_accessible(page: Page, name: str) -> None:
    """No serious or critical axe violation on ``page``; the report goes to the artifacts."""
    violations = axe_violations(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=2))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: " + json.dumps(blocking, indent=2)


def api(stack: Stack, account: str, method: str, path: str, **kwargs: Any) -> Any:
    headers = {**stack.auth(account), **kwargs.pop("headers", {})}
    r = httpx.request(method, f"{stack.gateway}{path}", headers=headers, timeout=10, **kwargs)
    assert r.is_success, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def chat_is_full(page: Page, messages: int) -> None:
    expect(page.get_by_test_id("chat-state")).to_have_text("Connected")
    expect(page.get_by_test_id("chat-log").locator("li.msg")).to_have_count(messages)


def test_every_page_and_role_passes_axe_with_a_full_chat(
    browser: Browser,
    stack: Stack,
    signed_in: Callable[[str], Page],
    chat_instances: Callable[[str, str], dict[str, str]],
) -> None:
    run = uuid.uuid4().hex[:6]
    host, ann, mod = f"host-{run}", f"ann-{run}", f"mod-{run}"
    chatters = [f"chatter{i}-{run}" for i in range(CHATTERS)]
    title = f"Axe show {run}"

    # a live stream with a moderator, a follower (for the inbox), a full chat and a gift
    api(stack, ann, "PUT", f"/users/{host}/follow")
    stream_id = api(
        stack,
        host,
        "POST",
        "/live",
        json={"title": title, "description": "checked by axe"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )["stream_id"]
    api(stack, host, "PUT", f"/live/{stream_id}/start")
    api(stack, host, "POST", f"/live/{stream_id}/moderators", json={"account_id": mod})
    for n in range(PER_CHATTER):
        for chatter in chatters:
            api(
                stack,
                chatter,
                "POST",
                f"/live/{stream_id}/chats",
                json={"message": f"message {n} from {chatter}: {'words ' * (n * 3)}"},
            )
    gift = api(stack, ann, "GET", "/gifts/catalog")[0]["gift_type"]
    api(
        stack,
        chatters[0],
        "POST",
        f"/live/{stream_id}/gift",
        json={"gift_type": gift, "amount": 1},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    messages = CHATTERS * PER_CHATTER

    # a visitor who has not signed in
    visitor = browser.new_context().new_page()
    visitor.goto(f"{stack.gateway}/app/")
    expect(visitor.locator("main")).to_contain_text("Sign in")
    assert_accessible(visitor, "signed-out")
    visitor.context.close()

    # the three people on their pages, spread over both chat-gateway instances
    viewer = signed_in(ann)
    expect(viewer.get_by_role("link", name=title)).to_be_visible()
    assert_accessible(viewer, "live-list")
    viewer.get_by_role("link", name=title).click()
    studio = signed_in(host)
    studio.goto(f"{stack.gateway}/app/#/studio/{stream_id}")
    moderator = signed_in(mod)
    moderator.goto(f"{stack.gateway}/app/#/watch/{stream_id}")
    pages = {ann: viewer, host: studio, mod: moderator}
    for page in pages.values():
        chat_is_full(page, messages)
    for attempt in range(6):
        instances = chat_instances(stream_id, host)
        if set(pages) <= set(instances) and len({instances[a] for a in pages}) == 2:
            break
        for account in (ann, mod) if attempt % 2 == 0 else (mod, ann):
            pages[account].reload()
            chat_is_full(pages[account], messages)
    assert len({instances.get(a) for a in pages} - {None}) == 2, instances

    # the moderator's actions name their target; none is a bare "delete", "ban" or "timeout"
    assert moderator.get_by_role("log", name="Messages", exact=True).is_visible()
    for chatter in chatters[:2]:
        for name in (f"Delete message from {chatter}", f"Ban {chatter}"):
            expect(moderator.get_by_role("button", name=name, exact=True)).to_have_count(
                PER_CHATTER
            )
        expect(
            moderator.get_by_role("button", name=f"Time out {chatter} for 5 minutes", exact=True)
        ).to_have_count(PER_CHATTER)
    for bare in ("delete", "ban", "timeout", "time out"):
        expect(studio.get_by_role("button", name=bare, exact=True)).to_have_count(0)

    expect(viewer).to_have_title(f"{title} · livecast")
    assert_accessible(viewer, "watch-viewer")
    assert_accessible(moderator, "watch-moderator")
    expect(studio.get_by_test_id("moderators")).to_contain_text(mod)
    assert_accessible(studio, "studio-stream")

    studio.goto(f"{stack.gateway}/app/#/studio")
    expect(studio.get_by_test_id("my-streams")).to_contain_text(title)
    assert_accessible(studio, "studio-list")

    # the inbox: the follower was told the stream went live, the streamer of the gift
    viewer_inbox = signed_in(ann)
    viewer_inbox.goto(f"{stack.gateway}/app/#/inbox")
    expect(viewer_inbox.get_by_test_id("inbox")).to_contain_text(f"{host} is live")
    expect(
        viewer_inbox.get_by_role("link", name=re.compile(r"^Inbox, \d+ unread$"))
    ).to_be_visible()
    assert_accessible(viewer_inbox, "inbox")
    viewer_inbox.get_by_role("button", name="Mark all read").click()
    expect(viewer_inbox.locator("li.note.unread")).to_have_count(0)
    expect(viewer_inbox.get_by_role("link", name="Inbox", exact=True)).to_be_visible()
    studio.goto(f"{stack.gateway}/app/#/inbox")
    expect(studio.get_by_test_id("inbox").locator("li.note").first).to_be_visible()
    assert_accessible(studio, "inbox-streamer")


def test_the_chat_log_by_keyboard_and_screen_reader(
    stack: Stack, signed_in: Callable[[str], Page]
) -> None:
    run = uuid.uuid4().hex[:6]
    host, ann = f"host-{run}", f"ann-{run}"
    stream_id = api(
        stack,
        host,
        "POST",
        "/live",
        json={"title": f"Keys {run}"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )["stream_id"]
    api(stack, host, "PUT", f"/live/{stream_id}/start")
    for n in range(30):
        api(
            stack,
            f"talker{n % 8}-{run}",
            "POST",
            f"/live/{stream_id}/chats",
            json={"message": f"line {n}"},
        )

    viewer = signed_in(ann)
    viewer.goto(f"{stack.gateway}/app/#/watch/{stream_id}")
    chat_is_full(viewer, 30)
    log = viewer.get_by_role("log", name="Messages", exact=True)
    expect(log).to_have_attribute("aria-live", "polite")

    # Tab reaches the log (after the last gift button) and the keys scroll it
    viewer.get_by_test_id("gift-bar").locator("button.gift").last.focus()
    viewer.keyboard.press("Tab")
    expect(log).to_be_focused()
    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 2"
    assert log.evaluate("el => el.scrollHeight > el.clientHeight"), "the chat does not overflow"
    assert log.evaluate(at_bottom), "the log does not start at its newest line"
    viewer.keyboard.press("Home")
    viewer.wait_for_function("el => el.scrollTop === 0", arg=log.element_handle())
    viewer.keyboard.press("End")
    viewer.wait_for_function(at_bottom, arg=log.element_handle())

    # a message arriving while the person reads further up neither moves them nor takes focus
    viewer.keyboard.press("Home")
    viewer.wait_for_function("el => el.scrollTop === 0", arg=log.element_handle())
    api(stack, host, "POST", f"/live/{stream_id}/chats", json={"message": "while you read"})
    expect(log).to_contain_text("while you read")
    expect(log).to_be_focused()
    assert log.evaluate("el => el.scrollTop") == 0

    # and one arriving while the person types keeps focus in the box, the log at its newest
    box = viewer.get_by_label("chat message")
    box.click()
    box.press_sequentially("half a thought")
    expect(box).to_be_focused()
    log.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    api(stack, host, "POST", f"/live/{stream_id}/chats", json={"message": "while you type"})
    expect(log).to_contain_text("while you type")
    expect(box).to_be_focused()
    expect(box).to_have_value("half a thought")
    viewer.wait_for_function(at_bottom, arg=log.element_handle())
