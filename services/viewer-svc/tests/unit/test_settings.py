from __future__ import annotations

import pytest

from viewer_svc.settings import Settings


@pytest.mark.parametrize(
    ("timeout", "touch_every", "effective"),
    [(30.0, 5.0, 5.0), (6.0, 5.0, 2.0), (1.5, 5.0, 0.5), (30.0, 0.0, 0.0)],
)
def test_the_write_throttle_never_lets_a_heart_beating_viewer_time_out(
    monkeypatch: pytest.MonkeyPatch, timeout: float, touch_every: float, effective: float
) -> None:
    monkeypatch.setenv("VIEWER_PRESENCE_TIMEOUT_S", str(timeout))
    monkeypatch.setenv("VIEWER_TOUCH_EVERY_S", str(touch_every))
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 40)
    settings = Settings()  # type: ignore[call-arg]
    assert settings.effective_touch_every_s == pytest.approx(effective)
