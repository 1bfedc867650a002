from __future__ import annotations

import pytest

from viewer_svc.settings import Settings


def test_a_crashed_instances_sheet_is_pruned_only_after_a_live_one_would_prune_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIEWER_SWEEP_INTERVAL_S", "5")
    monkeypatch.setenv("VIEWER_FLUSH_INTERVAL_S", "0.5")
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 40)
    settings = Settings()  # type: ignore[call-arg]
    assert settings.prune_grace_s > settings.sweep_interval_s + settings.flush_interval_s
