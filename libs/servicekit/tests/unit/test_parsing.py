"""Parsers of untrusted request input: every input is accepted or refused cleanly, never an
unexpected exception (issue 16, section 1). One property test per parser."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servicekit import parsing
from servicekit.auth import CurrentAccount, mint_token
from servicekit.health import Readiness
from servicekit.http import create_service_app
from servicekit.parsing import Unparsable
from testkit.asgi import SyncAsgiClient, sync_asgi_client

FAST = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
SECRET = "jwt-secret-for-parsing-tests-0123456789"


class TestAsciiInt:
    @pytest.mark.parametrize(
        "value", ["²", "١٢", "+1", "-1", " 1", "1 ", "", "1" * 19, "0x1", b"\xb2", b"\xe9"]
    )
    def test_refuses_what_is_not_plain_ascii_digits(self, value: str | bytes) -> None:
        assert parsing.ascii_int(value) is None

    def test_reads_ascii_digits(self) -> None:
        assert parsing.ascii_int("0042") == 42
        assert parsing.ascii_int(b"17") == 17
        assert parsing.ascii_int("1" * 13, max_digits=12) is None

    @FAST
    @given(st.one_of(st.text(), st.binary()))
    def test_any_input_is_an_int_or_none(self, value: str | bytes) -> None:
        got = parsing.ascii_int(value)
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if got is not None:
            assert text.isascii()
            assert text.isdigit()
            assert int(text) == got

    @FAST
    @given(st.integers(min_value=0, max_value=10**18 - 1))
    def test_every_ascii_number_round_trips(self, n: int) -> None:
        assert parsing.ascii_int(str(n)) == n


class TestConstantTimeEqual:
    def test_non_ascii_text_is_unequal_not_an_error(self) -> None:
        assert not parsing.constant_time_equal("é" * 64, "a" * 64)
        assert parsing.constant_time_equal("é", "é")

    @FAST
    @given(st.text(), st.text())
    def test_any_two_texts_compare(self, a: str, b: str) -> None:
        assert parsing.constant_time_equal(a, b) == (a == b)


class TestCursor:
    def test_round_trip(self) -> None:
        cursor = parsing.encode_cursor("2026-01-01T00:00:00+00:00", 7)
        assert parsing.decode_cursor(cursor, str, int) == ["2026-01-01T00:00:00+00:00", 7]

    @pytest.mark.parametrize(
        "cursor",
        [
            "é",
            "²",
            "!!!!",
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
            base64.urlsafe_b64encode(b"[" * 5000).decode(),
            parsing.encode_cursor("a"),
            parsing.encode_cursor("a", 1),
            base64.urlsafe_b64encode(b'[true, "a"]').decode(),
            base64.urlsafe_b64encode(b'{"a": 1, "b": 2}').decode(),
        ],
    )
    def test_refuses_cursors_we_did_not_make(self, cursor: str) -> None:
        with pytest.raises(Unparsable):
            parsing.decode_cursor(cursor, int, str)

    @FAST
    @given(st.text(max_size=600))
    def test_any_text_decodes_or_is_unparsable(self, cursor: str) -> None:
        try:
            parts = parsing.decode_cursor(cursor, str, int)
        except Unparsable:
            return
        assert isinstance(parts[0], str)
        assert isinstance(parts[1], int)

    @FAST
    @given(st.binary(max_size=400))
    def test_any_encoded_bytes_decode_or_are_unparsable(self, raw: bytes) -> None:
        with contextlib.suppress(Unparsable):
            parsing.decode_cursor(base64.urlsafe_b64encode(raw).decode(), str, str)


class TestAwareDatetime:
    def test_requires_an_offset(self) -> None:
        with pytest.raises(Unparsable):
            parsing.parse_aware_datetime("2026-01-01T00:00:00")
        assert parsing.parse_aware_datetime("2026-01-01T00:00:00Z") == datetime(
            2026, 1, 1, tzinfo=UTC
        )

    @FAST
    @given(st.text(max_size=60))
    def test_any_text_is_aware_or_unparsable(self, value: str) -> None:
        try:
            parsed = parsing.parse_aware_datetime(value)
        except Unparsable:
            return
        assert parsed.utcoffset() is not None


def _app() -> FastAPI:
    app = create_service_app(title="t", readiness=lambda _: Readiness(), max_body_bytes=1024)

    @app.post("/echo")
    async def echo(account: CurrentAccount) -> dict[str, str]:
        return {"account": account}

    from servicekit.auth import JwtVerifier

    app.state.jwt_verifier = JwtVerifier(secret=SECRET)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[SyncAsgiClient]:
    with sync_asgi_client(_app()) as c:
        yield c


def _no_crlf(b: bytes) -> bool:
    return b"\r" not in b and b"\n" not in b


class TestThroughTheApp:
    def test_a_real_token_is_accepted(self, client: SyncAsgiClient) -> None:
        token = mint_token(SECRET, "alice")
        r = client.request("POST", "/echo", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"account": "alice"}

    @FAST
    @given(st.binary(max_size=300).filter(_no_crlf))
    def test_any_authorization_bytes_are_401_json(
        self, client: SyncAsgiClient, header: bytes
    ) -> None:
        r = client.request("POST", "/echo", headers={"Authorization": header.strip(b" \t")})
        assert r.status_code == 401, (header, r.status_code, r.text)
        assert r.json()["error"] == "unauthorized"

    @FAST
    @given(st.text(max_size=120))
    def test_any_text_around_a_real_token_is_accepted_or_401(
        self, client: SyncAsgiClient, noise: str
    ) -> None:
        token = mint_token(SECRET, "alice", ttl_s=3600)
        raw = f"Bearer {token}{noise}".encode("utf-8", "surrogatepass")
        raw = raw.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"").strip(b" \t")
        r = client.request("POST", "/echo", headers={"Authorization": raw})
        assert r.status_code in (200, 401), (raw, r.status_code, r.text)
        assert r.status_code == 200 or r.json()["error"] == "unauthorized"

    @FAST
    @given(st.binary(min_size=1, max_size=40).filter(_no_crlf))
    def test_any_content_length_bytes_never_5xx(
        self, client: SyncAsgiClient, length: bytes
    ) -> None:
        token = mint_token(SECRET, "alice")
        r = client.request(
            "POST",
            "/echo",
            headers={"Authorization": f"Bearer {token}", "Content-Length": length.strip()},
        )
        assert r.status_code < 500, (length, r.status_code, r.text)

    def test_a_content_length_of_thousands_of_digits_is_413(self, client: SyncAsgiClient) -> None:
        r = client.request("POST", "/echo", headers={"Content-Length": "9" * 5000})
        assert r.status_code == 413
