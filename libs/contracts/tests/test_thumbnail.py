"""An owner's thumbnail is an https image on a public host (every viewer's browser loads it)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.stream import CreateLiveStreamRequest, UpdateLiveStreamRequest


def accepted(url: str) -> bool:
    try:
        CreateLiveStreamRequest(title="t", thumbnail=url)  # type: ignore[arg-type]
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "url",
    [
        "https://img.example/t.png",
        "https://image.mux.com/abc/thumbnail.jpg",
        "https://8.8.8.8/t.png",
        "https://[2606:4700:4700::1111]/t.png",
        "https://cdn.example.com:8443/a/b.jpg?x=1",
    ],
)
def test_public_https_images_are_accepted(url: str) -> None:
    assert accepted(url)
    assert UpdateLiveStreamRequest(thumbnail=url).thumbnail is not None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://img.example/t.png",  # mixed content on our https pages
        "ftp://img.example/t.png",
        "https://127.0.0.1/t.png",
        "https://2130706433/t.png",  # 127.0.0.1 as one number
        "https://0x7f.1/t.png",  # 127.0.0.1 in hex
        "https://10.0.0.1/admin",
        "https://192.168.1.1/t.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/t.png",
        "https://[::ffff:127.0.0.1]/t.png",
        "https://[::ffff:e000:0]/t.png",  # 224.0.0.0, multicast (found by the property test)
        "https://[fe80::1]/t.png",
        "https://[fc00::1]/t.png",
        "https://0.0.0.0/t.png",
        "https://localhost/t.png",
        "https://LOCALHOST./t.png",
        "https://app.localhost/t.png",
        "https://router.local/t.png",
        "https://db.internal/t.png",
        "https://printer.home.arpa/t.png",
        "https://intranet/t.png",  # a single label resolves through the search domain
        "https://user:pass@img.example/t.png",
    ],
)
def test_private_hosts_plain_http_and_credentials_are_refused(url: str) -> None:
    assert not accepted(url)
    with pytest.raises(ValidationError):
        UpdateLiveStreamRequest(thumbnail=url)  # type: ignore[arg-type]


@given(st.ip_addresses())
def test_an_address_literal_is_accepted_exactly_when_it_is_global(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    expected = address.is_global and not address.is_multicast
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d to a browser
        expected = mapped.is_global and not mapped.is_multicast
    assert accepted(f"https://{host}/t.png") == expected
