"""Any bytes in any header or body of ``POST /webhooks/mux`` are refused with 400/401 and the
JSON error body (or accepted), never a 5xx (issue 16, section 1)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from mux_sim.signing import signature_header
from testkit.asgi import SyncAsgiClient, sync_asgi_client
from webhook_ingest.adapters.memory import MemoryInbox
from webhook_ingest.bootstrap import Deps
from webhook_ingest.entrypoints.http import create_app
from webhook_ingest.settings import Settings

SECRET = "whsec-1"
BODY = json.dumps(
    {"type": "video.live_stream.active", "id": "evt-1", "data": {"id": "LS1"}}
).encode()


@pytest.fixture(scope="module")
def client() -> Iterator[SyncAsgiClient]:
    deps = Deps(inbox=MemoryInbox(), kick=lambda _: None, secrets=(SECRET,), tolerance_s=300)
    app = create_app(Settings(mux_webhook_secrets=[SecretStr(SECRET)]), deps=deps)
    with sync_asgi_client(app) as c:
        yield c


def post(client: SyncAsgiClient, body: bytes, signature: bytes | str | None) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers: dict[str, bytes | str] = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Mux-Signature"] = signature
    r = client.request("POST", "/webhooks/mux", content=body, headers=headers)
    return r.status_code, r.json()


def refused(status: int, body: dict, *statuses: int) -> bool:  # type: ignore[type-arg]
    return status in statuses and isinstance(body.get("error"), str) and "message" in body


class TestNamedInputs:
    def test_non_ascii_signature_bytes_are_401(self, client: SyncAsgiClient) -> None:
        header = f"t={int(time.time())},v1=".encode() + b"\xe9" * 64
        status, body = post(client, BODY, header)
        assert refused(status, body, 401), (status, body)
        assert body["error"] == "invalid_signature"

    def test_superscript_timestamp_is_401(self, client: SyncAsgiClient) -> None:
        good = signature_header(SECRET, BODY)
        v1 = good.split("v1=")[1]
        # the header arrives as latin-1: byte 0xB2 is "²", which str.isdigit() accepts
        for header in (b"t=\xb2,v1=" + v1.encode(), f"t=²,v1={v1}".encode()):
            status, body = post(client, BODY, header)
            assert refused(status, body, 401), (header, status, body)

    def test_arabic_indic_digits_are_not_a_timestamp(self, client: SyncAsgiClient) -> None:
        status, body = post(client, BODY, ("t=١٧٠٠٠٠٠٠٠٠,v1=" + "a" * 64).encode())
        assert refused(status, body, 401), (status, body)

    def test_a_signed_body_with_an_integer_beyond_64_bits_is_400(
        self, client: SyncAsgiClient
    ) -> None:
        body = b'{"type": "video.asset.ready", "id": "e-big", "data": {"n": ' + b"9" * 30 + b"}}"
        status, answer = post(client, body, signature_header(SECRET, body))
        assert refused(status, answer, 400), (status, answer)

    def test_a_signed_body_with_a_lone_surrogate_is_400(self, client: SyncAsgiClient) -> None:
        body = b'{"type": "video.asset.ready", "id": "e-sur", "data": {"t": "\\ud800"}}'
        status, answer = post(client, body, signature_header(SECRET, body))
        assert refused(status, answer, 400), (status, answer)

    @pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
    def test_a_signed_body_with_a_number_json_has_not_is_400(
        self, client: SyncAsgiClient, number: bytes
    ) -> None:
        body = b'{"type": "video.asset.ready", "id": "e-num", "data": {"d": ' + number + b"}}"
        status, answer = post(client, body, signature_header(SECRET, body))
        assert refused(status, answer, 400), (status, answer)

    def test_a_signed_deeply_nested_body_is_400(self, client: SyncAsgiClient) -> None:
        body = b'{"type": "x", "id": "e-deep", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        status, answer = post(client, body, signature_header(SECRET, body))
        assert refused(status, answer, 400, 413), (status, answer)


_FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


class TestProperties:
    def test_any_signature_header_bytes_are_refused_with_401(self, client: SyncAsgiClient) -> None:
        @_FAST
        @given(st.binary(max_size=300).filter(lambda b: b"\r" not in b and b"\n" not in b))
        def check(header: bytes) -> None:
            status, body = post(client, BODY, header.strip(b" \t") or None)
            assert refused(status, body, 401), (header, status, body)

        check()

    def test_any_header_text_around_a_real_signature_is_refused_or_accepted(
        self, client: SyncAsgiClient
    ) -> None:
        @_FAST
        @given(st.text(max_size=80), st.text(max_size=80))
        def check(before: str, after: str) -> None:
            header = (before + signature_header(SECRET, BODY) + after).encode(
                "utf-8", "surrogatepass"
            )
            header = header.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
            status, body = post(client, BODY, header.strip(b" \t") or None)
            assert status == 200 or refused(status, body, 401), (header, status, body)

        check()

    def test_any_signed_body_is_stored_or_refused_with_400(self, client: SyncAsgiClient) -> None:
        @_FAST
        @given(st.binary(max_size=400))
        def check(body: bytes) -> None:
            status, answer = post(client, body, signature_header(SECRET, body))
            assert status == 200 or refused(status, answer, 400), (body, status, answer)

        check()

    def test_any_signed_json_object_is_stored_or_refused_with_400(
        self, client: SyncAsgiClient
    ) -> None:
        values = st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        )
        events = st.fixed_dictionaries(
            {"type": st.text(max_size=300), "id": st.text(max_size=40)},
            optional={"data": values, "object": values, "created_at": values},
        )

        @_FAST
        @given(events)
        def check(event: dict) -> None:  # type: ignore[type-arg]
            body = json.dumps(event).encode()
            status, answer = post(client, body, signature_header(SECRET, body))
            assert status == 200 or refused(status, answer, 400), (event, status, answer)

        check()
