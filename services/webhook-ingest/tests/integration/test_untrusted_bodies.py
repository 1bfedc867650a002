"""Signed bodies of any shape against the real inbox (MongoDB) and broker: stored (200) or
refused (400), never a 5xx from a document the database refuses (issue 16, section 1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mux_sim.signing import signature_header
from servicekit.settings import load_settings
from testkit.asgi import sync_asgi_client
from webhook_ingest.entrypoints.http import create_app
from webhook_ingest.settings import Settings

pytestmark = pytest.mark.integration
SECRET = "whsec-untrusted"

keys = st.text(max_size=8) | st.sampled_from(["$set", "a.b", "", "_id", "$", "\x00k", "é"])
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)
events = st.fixed_dictionaries(
    {"type": st.text(min_size=1, max_size=40), "id": st.text(min_size=1, max_size=40)},
    optional={"data": st.dictionaries(keys, values, max_size=4), "object": values},
)


def test_any_signed_event_is_stored_or_refused_on_the_real_inbox(
    service_env: dict[str, str], drop_namespace_dbs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUX_WEBHOOK_SECRET", SECRET)
    with sync_asgi_client(create_app(load_settings(Settings))) as client:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(events)
        def check(event: dict[str, Any]) -> None:
            body = json.dumps(event).encode()
            headers = {"Mux-Signature": signature_header(SECRET, body)}
            r = client.request("POST", "/webhooks/mux", content=body, headers=headers)
            assert r.status_code in (200, 400), (event, r.status_code, r.text)
            assert r.status_code == 200 or r.json()["error"] == "bad_request"

        check()
