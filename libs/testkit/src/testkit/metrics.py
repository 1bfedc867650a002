"""Reading a service's ``/metrics`` (Prometheus text format) in tests."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["metric_value", "scrape"]


async def scrape(app: Any) -> str:
    """``GET /metrics`` of an ASGI ``app`` (in process) and return the body."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://metrics"
    ) as client:
        response = await client.get("/metrics")
    response.raise_for_status()
    return response.text


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of sample ``name`` whose labels include ``labels`` (``None``: not exposed)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None
