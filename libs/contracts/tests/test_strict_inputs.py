"""Issue 17: request numbers are JSON integers (not booleans, not strings) and timestamps are
ISO 8601 text (not numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from contracts.chat import SendGiftRequest, SlowModeRequest
from contracts.common import IsoDatetime
from contracts.moderation import BanRequest
from contracts.notification import MarkReadRequest


@pytest.mark.parametrize("value", [False, True, "5", "0", 5.5, None, [1], {"n": 1}])
def test_an_interval_that_is_not_an_integer_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        SlowModeRequest.model_validate({"interval_s": value})


@given(st.integers(min_value=0, max_value=3600))
def test_integers_and_integral_floats_are_accepted(n: int) -> None:
    assert SlowModeRequest.model_validate({"interval_s": n}).interval_s == n
    assert SlowModeRequest.model_validate({"interval_s": float(n)}).interval_s == n


def test_the_other_request_numbers_and_booleans_are_strict_too() -> None:
    with pytest.raises(ValidationError):
        SendGiftRequest.model_validate({"gift_type": "rose", "amount": True})
    with pytest.raises(ValidationError):
        BanRequest.model_validate({"account_id": "a", "duration_s": True})
    with pytest.raises(ValidationError):
        MarkReadRequest.model_validate({"all": 1})
    assert MarkReadRequest.model_validate({"all": True}).all is True


@pytest.mark.parametrize("value", ["0.5", "1700000000", 0.5, 1700000000, "yesterday"])
def test_a_timestamp_must_be_iso_text(value: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(IsoDatetime).validate_python(value)


def test_an_iso_timestamp_with_an_offset_is_accepted() -> None:
    parsed = TypeAdapter(IsoDatetime).validate_python("2026-01-01T00:00:00Z")
    assert parsed.year == 2026 and parsed.utcoffset() is not None
