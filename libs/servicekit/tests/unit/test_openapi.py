"""Issue 17: every operation documents the error statuses it can answer, with the error body."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from servicekit.auth import CurrentAccount
from servicekit.health import Readiness
from servicekit.http import create_service_app


class Body(BaseModel):
    title: str


def make_app() -> FastAPI:
    app = create_service_app(title="t", readiness=lambda _: Readiness())

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {}

    @app.get("/things/{thing_id}")
    async def read(thing_id: str, _account: CurrentAccount) -> dict[str, str]:
        return {}

    @app.post("/things/{thing_id}", responses={400: {"description": "custom"}})
    async def change(thing_id: str, body: Body, _account: CurrentAccount) -> dict[str, str]:
        return {}

    return app


def statuses(spec: dict, path: str, method: str) -> set[str]:  # type: ignore[type-arg]
    return set(spec["paths"][path][method]["responses"])


def test_each_operation_lists_the_statuses_it_can_answer() -> None:
    spec = make_app().openapi()
    assert statuses(spec, "/public", "get") == {"200", "422", "500", "503"}
    assert statuses(spec, "/things/{thing_id}", "get") == {
        "200", "401", "403", "404", "422", "500", "503"
    }  # fmt: skip
    assert statuses(spec, "/things/{thing_id}", "post") == {
        "200", "400", "401", "403", "404", "409", "413", "422", "429", "500", "503"
    }  # fmt: skip


def test_every_error_response_has_the_error_body_and_retryable_ones_retry_after() -> None:
    spec = make_app().openapi()
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    for item in spec["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (status, schema)
                if status in ("429", "503"):
                    assert "Retry-After" in response["headers"]
    assert spec["paths"]["/things/{thing_id}"]["post"]["responses"]["400"]["description"] == (
        "custom"
    )


async def test_405_names_every_method_of_the_path_in_allow_with_the_json_body() -> None:
    import httpx

    app = make_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for method in ("OPTIONS", "TRACE", "PUT"):
            r = await c.request(method, "/things/1")
            assert r.status_code == 405
            assert r.headers["allow"] == "GET, POST"
            assert r.json()["error"] == "method_not_allowed"
