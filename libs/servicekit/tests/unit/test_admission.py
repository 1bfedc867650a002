"""Admission control: admitted vs shed, the 503 answer, ops routes, the settings."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Request
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.admission import AdmissionLimiter, AdmissionLimits, parked
from servicekit.health import Readiness
from servicekit.http import create_service_app
from servicekit.settings import ServiceSettings


def gated_app(limits: AdmissionLimits) -> tuple[FastAPI, asyncio.Event, list[str]]:
    """An app whose ``/work`` holds its slot until ``gate`` opens."""
    gate = asyncio.Event()
    done: list[str] = []
    app = create_service_app(
        title="t", readiness=lambda _: Readiness(), admission=limits, openapi_url=None
    )

    @app.post("/work/{n}")
    async def work(n: str) -> dict[str, str]:
        await gate.wait()
        done.append(n)
        return {"done": n}

    return app, gate, done


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def until(predicate: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.001)


class TestLimiter:
    async def test_admits_up_to_the_bound_then_sheds_at_once_with_no_queue(self) -> None:
        limiter = AdmissionLimiter(AdmissionLimits(max_in_flight=2, max_queued=0))
        a, b = await limiter.acquire(), await limiter.acquire()
        assert a is not None
        assert b is not None
        assert await limiter.acquire() is None
        limiter.release(a)
        c = await limiter.acquire()
        assert c is not None
        assert limiter.in_flight == 2

    async def test_a_waiter_is_admitted_when_a_slot_frees_within_the_timeout(self) -> None:
        limiter = AdmissionLimiter(
            AdmissionLimits(max_in_flight=1, max_queued=1, queue_timeout_s=5.0)
        )
        first = await limiter.acquire()
        assert first is not None
        waiter = asyncio.create_task(limiter.acquire())
        await until(lambda: limiter.queued == 1)
        limiter.release(first)
        assert await waiter is not None
        assert limiter.queued == 0

    async def test_a_waiter_is_shed_when_the_timeout_runs_out(self) -> None:
        limiter = AdmissionLimiter(
            AdmissionLimits(max_in_flight=1, max_queued=4, queue_timeout_s=0.01)
        )
        held = await limiter.acquire()
        assert held is not None
        assert await limiter.acquire() is None
        assert limiter.queued == 0
        limiter.release(held)
        assert limiter.in_flight == 0

    async def test_beyond_the_queue_bound_a_request_is_shed_without_waiting(self) -> None:
        limiter = AdmissionLimiter(
            AdmissionLimits(max_in_flight=1, max_queued=1, queue_timeout_s=30.0)
        )
        held = await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await until(lambda: limiter.queued == 1)
        async with asyncio.timeout(1.0):  # shed at once, not after the 30 s wait
            assert await limiter.acquire() is None
        assert held is not None
        limiter.release(held)
        assert await waiter is not None

    @settings(max_examples=30, deadline=None)
    @given(
        bound=st.integers(1, 5),
        queued=st.integers(0, 5),
        arrivals=st.integers(0, 20),
    )
    def test_never_more_in_flight_than_the_bound_and_every_slot_returns(
        self, bound: int, queued: int, arrivals: int
    ) -> None:
        async def scenario() -> None:
            limiter = AdmissionLimiter(
                AdmissionLimits(max_in_flight=bound, max_queued=queued, queue_timeout_s=0.05)
            )
            peak = 0

            async def one() -> bool:
                nonlocal peak
                token = await limiter.acquire()
                if token is None:
                    return False
                peak = max(peak, limiter.in_flight)
                await asyncio.sleep(0.001)
                limiter.release(token)
                return True

            results = await asyncio.gather(*(one() for _ in range(arrivals)))
            assert peak <= bound
            assert sum(results) >= min(arrivals, bound)  # the first `bound` always get in
            assert limiter.in_flight == 0
            assert limiter.queued == 0

        asyncio.run(scenario())


class TestMiddleware:
    async def test_a_burst_beyond_capacity_is_shed_with_503_while_admitted_requests_succeed(
        self,
    ) -> None:
        app, gate, done = gated_app(AdmissionLimits(max_in_flight=3, max_queued=2))
        async with client(app) as c:
            admitted = [asyncio.create_task(c.post(f"/work/{i}")) for i in range(5)]
            await asyncio.sleep(0.02)  # 3 in flight, 2 waiting
            shed = await asyncio.gather(*(c.post(f"/work/x{i}") for i in range(4)))
            gate.set()
            answers = await asyncio.gather(*admitted)
        assert [r.status_code for r in answers] == [200] * 5
        assert sorted(done) == [str(i) for i in range(5)]  # the shed requests did nothing
        for r in shed:
            assert r.status_code == 503
            assert r.headers["Retry-After"] == "1"
            assert r.headers["content-type"] == "application/json"
            assert r.headers["X-Request-ID"]
            body = r.json()
            assert body["error"] == "overloaded"
            assert body["retry_after_s"] == 1
            assert "retry" in body["message"]

    async def test_ops_routes_are_never_shed(self) -> None:
        app, gate, _ = gated_app(AdmissionLimits(max_in_flight=1, max_queued=0))
        async with client(app) as c:
            held = asyncio.create_task(c.post("/work/1"))
            await asyncio.sleep(0.02)
            assert (await c.post("/work/2")).status_code == 503
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await c.get(path)).status_code == 200, path
            metrics = (await c.get("/metrics")).text
            gate.set()
            assert (await held).status_code == 200
        assert "livecast_http_shed_total" in metrics

    async def test_zero_turns_admission_control_off(self) -> None:
        app, gate, _ = gated_app(AdmissionLimits(max_in_flight=0, max_queued=0))
        async with client(app) as c:
            tasks = [asyncio.create_task(c.post(f"/work/{i}")) for i in range(50)]
            await asyncio.sleep(0.02)
            gate.set()
            assert {r.status_code for r in await asyncio.gather(*tasks)} == {200}

    async def test_a_slot_is_returned_when_the_route_fails(self) -> None:
        app = create_service_app(
            title="t",
            readiness=lambda _: Readiness(),
            admission=AdmissionLimits(max_in_flight=1, max_queued=0),
        )

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("boom")

        @app.get("/ok")
        async def ok() -> dict[str, bool]:
            return {"ok": True}

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/boom")).status_code == 500
            assert (await c.get("/ok")).status_code == 200


class TestSettings:
    def test_limits_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HTTP_MAX_IN_FLIGHT", "7")
        monkeypatch.setenv("HTTP_MAX_QUEUED", "3")
        monkeypatch.setenv("HTTP_QUEUE_TIMEOUT_S", "0.25")
        monkeypatch.setenv("HTTP_RETRY_AFTER_S", "2")
        got = ServiceSettings(auth_jwt_secret="x" * 32).admission  # type: ignore[arg-type]
        assert got == AdmissionLimits(
            max_in_flight=7, max_queued=3, queue_timeout_s=0.25, retry_after_s=2
        )

    def test_defaults_match_the_limits_defaults(self) -> None:
        got = ServiceSettings(auth_jwt_secret="x" * 32).admission  # type: ignore[arg-type]
        assert got == AdmissionLimits()

    @pytest.mark.parametrize(
        "kwargs",
        [{"retry_after_s": 0}, {"max_in_flight": -1}, {"queue_timeout_s": -0.1}],
    )
    def test_nonsense_limits_are_refused(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError, match="must"):
            AdmissionLimits(**kwargs)  # type: ignore[arg-type]


class TestParked:
    """A long poll gives its slot back while it waits (``parked``) and takes one again (or is
    shed with 503) before it goes on."""

    def parking_app(self, limits: AdmissionLimits) -> tuple[FastAPI, asyncio.Event, asyncio.Event]:
        wake, gate = asyncio.Event(), asyncio.Event()
        app, _, _ = gated_app(limits)

        @app.get("/poll")
        async def poll(request: Request, answered: bool = False) -> dict[str, str]:
            async with parked(request.scope) as parking:
                await wake.wait()
                parking.readmit = not answered  # an answer at hand needs no slot
            return {"poll": "done"}

        @app.get("/hold")
        async def hold() -> dict[str, str]:
            await gate.wait()
            return {"hold": "done"}

        return app, wake, gate

    async def test_parked_waiters_hold_no_slot_and_are_shed_when_none_is_free_after(
        self,
    ) -> None:
        limits = AdmissionLimits(max_in_flight=1, max_queued=0)
        app, wake, gate = self.parking_app(limits)
        async with client(app) as c:
            polls = [asyncio.create_task(c.get("/poll")) for _ in range(3)]
            answered = asyncio.create_task(c.get("/poll", params={"answered": "true"}))
            holder = asyncio.create_task(c.get("/hold"))  # admitted: the polls hold no slot
            await asyncio.sleep(0.05)
            assert not holder.done()
            wake.set()  # the slot is taken: every poll is shed on its way out
            answers = await asyncio.gather(*polls)
            assert [(r.status_code, r.json()["error"]) for r in answers] == [
                (503, "overloaded")
            ] * 3
            assert all(r.headers["Retry-After"] == "1" for r in answers)
            assert (await answered).json() == {"poll": "done"}  # left without a slot
            gate.set()
            assert (await holder).status_code == 200
            assert (await c.get("/poll")).json() == {"poll": "done"}
