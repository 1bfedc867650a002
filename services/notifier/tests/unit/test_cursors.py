"""The notifier's page cursors on arbitrary text: decoded with the right types or a 422, never
another exception (issue 16, section 1)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.entrypoints.http import _decode
from servicekit.errors import ApiError
from servicekit.parsing import encode_cursor


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=300) | st.builds(encode_cursor, st.integers(), st.text()))
def test_any_cursor_decodes_with_its_types_or_is_422(cursor: str) -> None:
    try:
        created_ms, notification_id = _decode(cursor, int, str)
    except ApiError as exc:
        assert exc.status == 422  # noqa: PT017 (a property: either outcome is valid)
        return
    assert isinstance(created_ms, int)
    assert isinstance(notification_id, str)


def test_a_following_cursor_with_a_number_for_an_id_is_422() -> None:
    with pytest.raises(ApiError) as caught:
        _decode(encode_cursor(5), str)
    assert caught.value.status == 422
