from __future__ import annotations

import pytest

from chat_gateway.domain.limits import AbuseCounter, TokenBucket
from chat_gateway.protocol import ProtocolError, clean_text, decode
from contracts.ws import ChatSend, Ping


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00", "binary_frame"),
        ("{nope", "invalid_json"),
        ("[1]", "invalid_frame"),
        ('{"no": "type"}', "invalid_frame"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "chat.send", "message": "hi"}', "invalid_frame"),
        ('{"type": "chat.send", "client_msg_id": "c1", "text": "hi"}', "invalid_frame"),
        ('{"type": "chat.send", "client_msg_id": "", "message": "hi"}', "invalid_frame"),
        ('{"type": "ping", "extra": 1}', "invalid_frame"),
    ],
)
def test_bad_frames_are_refused_with_a_reason(raw: str | bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        decode(raw)
    assert exc.value.reason == reason


def test_good_frames_decode_to_their_types() -> None:
    assert isinstance(
        decode('{"type": "chat.send", "client_msg_id": "c1", "message": "hi"}'), ChatSend
    )
    assert decode('{"type": "ping", "nonce": "n"}') == Ping(nonce="n")


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("  hello  ", "hello"),
        ("é" * 500, "é" * 500),
        ("multi\u200dunicode 👩‍💻", "multi\u200dunicode 👩‍💻"),
    ],
)
def test_text_is_trimmed_and_accepted(text: str, result: str) -> None:
    assert clean_text(text) == result


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("x" * 501, "too_long"),
        ("bell\x07", "control_characters"),
        ("line\nbreak", "control_characters"),
    ],
)
def test_bad_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ProtocolError) as exc:
        clean_text(text)
    assert exc.value.reason == reason


def test_token_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=3, rate=1.0, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(1.0)
    clock.t = 0.5
    assert bucket.take() == pytest.approx(0.5)
    clock.t = 1.0
    assert bucket.take() == 0


def test_abuse_counts_refusals_inside_the_window() -> None:
    clock = Clock()
    abuse = AbuseCounter(limit=3, window_s=10, clock=clock)
    assert not abuse.refused()
    assert not abuse.refused()
    clock.t = 11  # the first two fall out of the window
    assert not abuse.refused()
    assert not abuse.refused()
    assert abuse.refused()
