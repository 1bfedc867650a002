"""Every answer of the gateway is JSON, and a 405 says in ``Allow`` what the path does allow
(issue 17: nginx answered TRACE and OPTIONS with HTML and a wrong ``Allow``)."""

from __future__ import annotations

import re

import httpx
import pytest

from servicekit.logs import REQUEST_ID_PATTERN
from testkit.stack import Stack

pytestmark = pytest.mark.e2e

CASES = [
    # (method, path, status, Allow)
    ("TRACE", "/live/s1/chats", 405, "GET, POST"),
    ("OPTIONS", "/live/s1/chats", 405, "GET, POST"),
    ("PUT", "/live/s1/chats", 405, "GET, POST"),
    ("TRACE", "/live", 405, "GET, POST"),
    ("TRACE", "/me/usage", 405, "GET"),
    ("OPTIONS", "/webhooks/mux", 405, "POST"),
    ("TRACE", "/notifications", 405, "GET"),
    ("TRACE", "/healthz", 405, "GET, HEAD"),
    ("POST", "/healthz", 405, "GET, HEAD"),
    ("OPTIONS", "/app/", 405, "GET, HEAD"),
    ("PUT", "/ws/live/s1", 405, "GET"),
    ("TRACE", "/no/such/route", 404, None),
    ("OPTIONS", "/no/such/route", 404, None),
]


@pytest.mark.parametrize(("method", "path", "status", "allow"), CASES)
async def test_the_gateway_answers_json_with_the_right_allow(
    stack: Stack, method: str, path: str, status: int, allow: str | None
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as client:
        r = await client.request(method, path, headers=stack.auth("alice"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"] in ("method_not_allowed", "not_found")
    assert r.headers.get("allow") == allow


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/live"),  # proxied (stream-svc)
        ("POST", "/webhooks/mux"),  # proxied, refused (unsigned)
        ("GET", "/gifts/catalog"),  # proxied (chat-gateway)
        ("TRACE", "/live"),  # asked of the owner with OPTIONS
        ("GET", "/no/such/route"),  # nginx's own
        ("GET", "/healthz"),
        ("GET", "/app/config.json"),
    ],
)
async def test_every_answer_carries_one_request_id(stack: Stack, method: str, path: str) -> None:
    """One ``X-Request-ID`` per answer (nginx sent its own beside the service's echo): the
    client's when it matches ``REQUEST_ID_PATTERN``, else one the gateway made."""
    async with httpx.AsyncClient(base_url=stack.gateway) as client:
        kept = await client.request(method, path, headers={"X-Request-ID": "client.id-1"})
        replaced = await client.request(method, path, headers={"X-Request-ID": "two words"})
        made = await client.request(method, path)
    assert kept.headers.get_list("x-request-id") == ["client.id-1"]
    (new,) = replaced.headers.get_list("x-request-id")
    (own,) = made.headers.get_list("x-request-id")
    assert new != "two words"
    assert re.fullmatch(REQUEST_ID_PATTERN, new)
    assert re.fullmatch(REQUEST_ID_PATTERN, own)


async def test_a_range_nginx_cannot_serve_gets_the_whole_file_with_one_request_id(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as client:
        r = await client.get("/app/index.html", headers={"Range": "bytes=99999999-"})
    assert r.status_code == 200
    assert len(r.headers.get_list("x-request-id")) == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/live/s1/chat/slow-mode", {"interval_s": False}),
        ("PUT", "/live/s1/chat/slow-mode", {"interval_s": "5"}),
        ("POST", "/live/s1/gift", {"gift_type": "rose", "amount": True}),
        ("GET", "/me/usage?to=0.5", None),
    ],
)
async def test_booleans_are_not_integers_and_numbers_are_not_timestamps(
    stack: Stack, method: str, path: str, body: object
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as client:
        r = await client.request(method, path, json=body, headers=stack.auth("alice"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"


@pytest.mark.parametrize(
    ("path", "headers", "status", "error"),
    [
        ("/live/%00", {}, 400, "bad_request"),  # nginx refuses the request line itself
        ("/live/%", {}, 400, "bad_request"),
        ("/users/a%00b/follow", {}, 400, "bad_request"),
        ("/live", {"Authorization": "Bearer " + "x" * 10_000}, 400, "bad_request"),
        ("/app/no-such-file.js", {}, 404, "not_found"),
        ("/_livecast/bad_request", {}, 404, "not_found"),  # internal only
    ],
)
async def test_what_nginx_refuses_itself_is_json_too(
    stack: Stack, path: str, headers: dict[str, str], status: int, error: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as client:
        r = await client.get(httpx.URL(stack.gateway + path), headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"] == error
