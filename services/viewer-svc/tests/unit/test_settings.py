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


async def test_a_read_that_overlaps_an_event_is_not_kept() -> None:
    import asyncio

    from viewer_svc.cache import TtlCache

    cache = TtlCache(ttl_s=60)
    gate = asyncio.Event()
    loads: list[str] = []

    async def slow_old() -> str:
        loads.append("old")
        await gate.wait()
        return "before the ban"

    async def fresh() -> str:
        loads.append("new")
        return "after the ban"

    reading = asyncio.create_task(cache.get(("bans", "s1"), slow_old))
    await asyncio.sleep(0)
    cache.forget(lambda key: isinstance(key, tuple) and key[1] == "s1")  # the ban event
    gate.set()
    assert await reading == "before the ban"
    assert await cache.get(("bans", "s1"), fresh) == "after the ban"
    assert loads == ["old", "new"]
