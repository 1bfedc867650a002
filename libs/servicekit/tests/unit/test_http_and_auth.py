from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from servicekit.auth import AccountIdPath, CurrentAccount, JwtVerifier, mint_token
from servicekit.health import Readiness
from servicekit.http import create_service_app
from servicekit.logs import REQUEST_ID_PATTERN

SECRET = "unit-test-secret-0123456789abcdef"


class Body(BaseModel):
    title: str


def make_app(verifier: JwtVerifier, ready: bool = True) -> FastAPI:
    async def check() -> bool:
        return ready

    app = create_service_app(
        title="t", readiness=lambda _: Readiness({"dep": check}), max_body_bytes=1000
    )
    app.state.jwt_verifier = verifier

    @app.get("/whoami")
    async def whoami(account: CurrentAccount) -> dict[str, str]:
        return {"account": account}

    @app.get("/users/{account_id}")
    async def user(account_id: AccountIdPath) -> dict[str, str]:
        return {"account": account_id}

    @app.post("/echo")
    async def echo(body: Body) -> dict[str, str]:
        return {"title": body.title}

    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


class TestBearerAuth:
    async def test_valid_token_gives_the_account_from_sub(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get(
                "/whoami", headers={"Authorization": f"Bearer {mint_token(SECRET, 'acct_1')}"}
            )
        assert r.status_code == 200
        assert r.json() == {"account": "acct_1"}

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (None, "missing bearer token"),
            ("Bearer " + mint_token(SECRET, "a", ttl_s=-120), "token expired"),
            ("Bearer " + mint_token("another-secret-0123456789abcdef-xyz", "a"), "invalid token"),
            ("Bearer not.a.jwt", "invalid token"),
            ("Basic dXNlcjpwYXNz", "missing bearer token"),
            ("Bearer " + jwt.encode({"sub": "a"}, SECRET, algorithm="HS256"), "invalid token"),
            (
                "Bearer " + jwt.encode({"sub": "a", "exp": 4e9}, None, algorithm="none"),
                "not accepted",
            ),
        ],
        ids=["missing", "expired", "forged", "garbage", "basic", "no-exp", "alg-none"],
    )
    async def test_bad_tokens_get_401_with_a_reason(self, header: str | None, reason: str) -> None:
        headers = {"Authorization": header} if header else {}
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get("/whoami", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
        assert reason in r.json()["message"]
        assert r.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize("sub", ["a\x1fb", "", "with space", "x/y", "..", "a" * 129, 42])
    async def test_a_sub_that_is_no_account_id_is_401(self, sub: object) -> None:
        token = jwt.encode({"sub": sub, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"

    async def test_an_identity_providers_sub_is_accepted(self) -> None:
        sub = "google-oauth2|104352635298437513125"
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get(
                "/whoami", headers={"Authorization": f"Bearer {mint_token(SECRET, sub)}"}
            )
        assert r.json() == {"account": sub}

    @pytest.mark.parametrize("path", ["a%1Fb", "with%20space", "per%25cent", "..x%00"])
    async def test_an_account_id_in_a_path_is_checked_422(self, path: str) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get(f"/users/{path}")
            ok = await c.get("/users/auth0|abc")
        assert r.status_code == 422
        assert r.json()["error"] == "validation_error"
        assert ok.json() == {"account": "auth0|abc"}

    async def test_audience_is_checked_when_configured(self) -> None:
        verifier = JwtVerifier(secret=SECRET, audience="livecast")
        good = mint_token(SECRET, "a", aud="livecast")
        bad = mint_token(SECRET, "a", aud="other")
        async with client(make_app(verifier)) as c:
            assert (
                await c.get("/whoami", headers={"Authorization": f"Bearer {good}"})
            ).status_code == 200
            assert (
                await c.get("/whoami", headers={"Authorization": f"Bearer {bad}"})
            ).status_code == 401


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", key
    server.shutdown()


async def test_rs256_tokens_are_verified_with_keys_from_the_jwks_url(
    jwks_server: tuple[str, Any],
) -> None:
    url, key = jwks_server
    verifier = JwtVerifier(jwks_url=url)
    token = jwt.encode(
        {"sub": "acct_rs", "exp": int(time.time()) + 60},
        key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"sub": "x", "exp": int(time.time()) + 60},
        other_key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    async with client(make_app(verifier)) as c:
        ok = await c.get("/whoami", headers={"Authorization": f"Bearer {token}"})
        bad = await c.get("/whoami", headers={"Authorization": f"Bearer {forged}"})
    assert ok.json() == {"account": "acct_rs"}
    assert bad.status_code == 401


class TestServiceApp:
    async def test_request_id_is_echoed_or_made(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            given = await c.get("/healthz", headers={"X-Request-ID": "req-123"})
            made = await c.get("/healthz")
        assert given.headers["x-request-id"] == "req-123"
        assert len(made.headers["x-request-id"]) >= 16

    @pytest.mark.parametrize(
        "sent",
        ["x" * 129, "two words", "caf\u00e9", "a\tb", "", "a;b", "<script>", "id,other"],
    )
    async def test_an_unusable_request_id_is_replaced(self, sent: str) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get("/healthz", headers={b"X-Request-ID": sent.encode("latin-1")})
        (rid,) = r.headers.get_list("x-request-id")
        assert rid != sent
        assert re.fullmatch("[0-9a-f]{32}", rid)

    async def test_a_repeated_request_id_is_replaced(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get("/healthz", headers=[("X-Request-ID", "aa"), ("X-Request-ID", "bb")])
        (rid,) = r.headers.get_list("x-request-id")
        assert re.fullmatch("[0-9a-f]{32}", rid)

    async def test_readyz_reports_each_check(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET), ready=False)) as c:
            r = await c.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "checks": {"dep": "down"}}

    async def test_validation_errors_name_the_field(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.post("/echo", json={"nope": 1})
        assert r.status_code == 422
        assert r.json()["error"] == "validation_error"
        assert r.json()["details"][0]["field"] == "body.title"

    async def test_oversized_body_gets_413(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.post(
                "/echo",
                content=b'{"title": "' + b"x" * 2000 + b'"}',
                headers={"content-type": "application/json"},
            )
        assert r.status_code == 413
        assert r.json()["error"] == "payload_too_large"

    async def test_unknown_route_is_json_404(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            r = await c.get("/nope")
        assert r.status_code == 404
        assert r.json()["error"] == "not_found"

    async def test_metrics_are_exposed(self) -> None:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            await c.get("/healthz")
            r = await c.get("/metrics")
        assert "livecast_http_requests_total" in r.text


@settings(max_examples=120, deadline=None)
@given(
    sent=st.one_of(
        st.from_regex(REQUEST_ID_PATTERN, fullmatch=True),
        st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=140),
    )
)
def test_a_request_id_is_kept_exactly_when_it_matches_the_gateway_pattern(sent: str) -> None:
    """One id comes back, the one sent iff it matches ``REQUEST_ID_PATTERN`` (the gateway's map
    uses the same pattern, so gateway and service agree on it)."""

    async def ask() -> httpx.Response:
        async with client(make_app(JwtVerifier(secret=SECRET))) as c:
            return await c.get("/healthz", headers={b"X-Request-ID": sent.encode("latin-1")})

    r = asyncio.run(ask())
    (rid,) = r.headers.get_list("x-request-id")
    assert re.fullmatch(REQUEST_ID_PATTERN, rid)
    assert (rid == sent) == bool(re.fullmatch(REQUEST_ID_PATTERN, sent))


def test_the_gateway_keeps_request_ids_by_the_same_pattern() -> None:
    template = (
        Path(__file__).resolve().parents[4] / "deploy" / "nginx" / "livecast.conf.template"
    ).read_text()
    assert f'"~^{REQUEST_ID_PATTERN}$"  $http_x_request_id;' in template
