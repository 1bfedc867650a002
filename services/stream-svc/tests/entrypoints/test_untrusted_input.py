"""stream-svc's parsers of request input (page cursors, path ids, query strings) on arbitrary
text: a page, a 404 or a 422 with the JSON error body, never a 5xx (issue 16, section 1)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from servicekit.auth import mint_token
from servicekit.errors import ApiError
from stream_svc.entrypoints.http import create_app
from stream_svc.entrypoints.http_moderation import _parse_cursor
from stream_svc.settings import Settings
from testkit.asgi import SyncAsgiClient, sync_asgi_client

from ..helpers import memory_deps

SECRET = "stream-svc-test-secret-0123456789abcdef"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
AUTH = {"Authorization": f"Bearer {mint_token(SECRET, 'alice', ttl_s=24 * 3600)}"}


@pytest.fixture(scope="module")
def client() -> Iterator[SyncAsgiClient]:
    settings_ = Settings(
        auth_jwt_secret=SecretStr(SECRET),
        mux_token_id=SecretStr("i"),
        mux_token_secret=SecretStr("s"),
    )
    with sync_asgi_client(create_app(settings_, deps=memory_deps())) as c:
        r = c.request("POST", "/live", json={"title": "t"}, headers=AUTH)
        assert r.status_code == 201
        yield c


def clean(status: int, body: dict, *ok: int) -> bool:  # type: ignore[type-arg]
    return status in ok and (status < 300 or isinstance(body.get("error"), str))


@FAST
@given(st.text(max_size=200))
def test_any_list_cursor_is_a_page_or_422(client: SyncAsgiClient, cursor: str) -> None:
    r = client.request("GET", "/live", params={"cursor": cursor, "status": "all"}, headers=AUTH)
    assert clean(r.status_code, r.json(), 200, 422), (cursor, r.status_code, r.text)


@FAST
@given(st.text(min_size=1, max_size=100), st.text(max_size=40))
def test_any_path_id_and_owner_filter_is_answered_cleanly(
    client: SyncAsgiClient, stream_id: str, owner: str
) -> None:
    r = client.request("GET", f"/live/{quote(stream_id, safe='')}", headers=AUTH)
    if r.status_code != 307:  # "/" alone: the framework's trailing-slash redirect to /live
        assert clean(r.status_code, r.json(), 200, 404), (stream_id, r.status_code, r.text)
    r = client.request("GET", "/live", params={"owner": owner}, headers=AUTH)
    assert clean(r.status_code, r.json(), 200, 422), (owner, r.status_code, r.text)


def test_a_cursor_without_a_utc_offset_is_422(client: SyncAsgiClient) -> None:
    from servicekit.parsing import encode_cursor

    r = client.request(
        "GET",
        "/live",
        params={"cursor": encode_cursor("2026-01-01T00:00:00", "ls_1")},
        headers=AUTH,
    )
    assert r.status_code == 422


@FAST
@given(st.text(max_size=300))
def test_any_moderation_log_cursor_parses_or_is_422(cursor: str) -> None:
    try:
        at, action_id = _parse_cursor(cursor)
    except ApiError as exc:
        assert exc.status == 422  # noqa: PT017 (a property: either outcome is valid)
        return
    assert at.utcoffset() is not None
    assert isinstance(action_id, str)
