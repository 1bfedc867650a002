"""Mux's live stream API through the official (synchronous) ``mux-python`` SDK.

Every call runs off the event loop (``asyncio.to_thread``) with explicit connect/read timeouts,
and is retried with exponential backoff and jitter on 429, 5xx and connection errors, up to an
overall deadline (tenacity). What still fails becomes :class:`MuxUnavailable`; 404 becomes
:class:`MuxNotFound`. Stream keys are secrets: they are never logged (exceptions carry the SDK's
status and reason only).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import mux_python
import urllib3
from mux_python.exceptions import ApiException, NotFoundException
from tenacity import (
    AsyncRetrying,
    RetryError,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from stream_svc.domain.errors import MuxNotFound, MuxUnavailable
from stream_svc.ports import MuxStream

log = logging.getLogger(__name__)
T = TypeVar("T")


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status == 429 or (exc.status or 0) >= 500
    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


class MuxApi:
    """:class:`~stream_svc.ports.MuxLiveStreams` on ``mux-python``."""

    def __init__(
        self,
        *,
        base_url: str,
        token_id: str,
        token_secret: str,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        deadline_s: float = 20.0,
        max_attempts: int = 6,
    ) -> None:
        configuration = mux_python.Configuration(host=base_url.rstrip("/"))
        configuration.username = token_id
        configuration.password = token_secret
        configuration.retries = False  # we retry, with backoff, above the SDK
        self._api = mux_python.LiveStreamsApi(mux_python.ApiClient(configuration))
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._deadline = deadline_s
        self._attempts = max_attempts

    async def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=wait_random_exponential(multiplier=0.2, max=3.0),
            stop=stop_after_delay(self._deadline) | stop_after_attempt(self._attempts),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=False,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await asyncio.to_thread(
                        fn, *args, _request_timeout=self._timeout, **kwargs
                    )
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise MuxUnavailable(f"Mux {what} failed after retries: {_describe(last)}") from None
        except NotFoundException:
            raise MuxNotFound(f"Mux has no such live stream ({what})") from None
        except ApiException as exc:
            raise MuxUnavailable(f"Mux {what} refused: {_describe(exc)}", retryable=False) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def create(
        self, *, passthrough: str, reconnect_window: float, latency_mode: str
    ) -> MuxStream:
        request = mux_python.CreateLiveStreamRequest(
            playback_policies=[mux_python.PlaybackPolicy.PUBLIC],
            new_asset_settings=mux_python.CreateAssetRequest(
                playback_policies=[mux_python.PlaybackPolicy.PUBLIC], passthrough=passthrough
            ),
            passthrough=passthrough,
            reconnect_window=reconnect_window,
            latency_mode=latency_mode,
        )
        data = (await self._call("create", self._api.create_live_stream, request)).data
        return _stream(data)

    async def complete(self, live_stream_id: str) -> None:
        await self._call("complete", self._api.signal_live_stream_complete, live_stream_id)

    async def delete(self, live_stream_id: str) -> None:
        await self._call("delete", self._api.delete_live_stream, live_stream_id)

    async def disable(self, live_stream_id: str) -> None:
        await self._call("disable", self._api.disable_live_stream, live_stream_id)

    async def reset_stream_key(self, live_stream_id: str) -> MuxStream:
        data = (await self._call("reset key", self._api.reset_stream_key, live_stream_id)).data
        return _stream(data)

    async def get(self, live_stream_id: str) -> MuxStream:
        return _stream((await self._call("get", self._api.get_live_stream, live_stream_id)).data)

    async def find_by_passthrough(self, passthrough: str) -> list[MuxStream]:
        found: list[MuxStream] = []
        page = 1
        while True:
            data = (
                await self._call("list", self._api.list_live_streams, limit=100, page=page)
            ).data
            found += [_stream(s) for s in data if s.passthrough == passthrough]
            if len(data) < 100:
                return found
            page += 1


def _stream(data: Any) -> MuxStream:
    playback = next((p.id for p in data.playback_ids or [] if p.policy == "public"), None)
    return MuxStream(
        id=data.id,
        stream_key=data.stream_key,
        playback_id=playback or "",
        passthrough=data.passthrough,
        status=str(data.status or "idle"),
    )


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return type(exc).__name__ if exc is not None else "unknown error"
