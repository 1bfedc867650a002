"""Stream lifecycle use cases: create, start, end, delete, and cleaning up failed creations."""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import replace
from datetime import timedelta

from contracts.common import StreamStatus
from contracts.stream import CreateLiveStreamRequest, StreamCreated, UpdateLiveStreamRequest
from servicekit.replay import db_time, fingerprint, replay_allowed
from stream_svc.adapters.mongo_streams import STREAMS
from stream_svc.deps import Deps
from stream_svc.domain import lifecycle
from stream_svc.domain.errors import (
    Conflict,
    Forbidden,
    MuxNotFound,
    MuxUnavailable,
    NotFound,
    RateLimited,
    Unavailable,
)
from stream_svc.domain.model import LiveStream
from stream_svc.handlers.announce import envelope
from stream_svc.handlers.changes import Change, change_stream

log = logging.getLogger(__name__)


def new_stream_id() -> str:
    return f"ls_{secrets.token_hex(10)}"


async def create_stream(
    owner_id: str, request: CreateLiveStreamRequest, idempotency_key: str | None, deps: Deps
) -> tuple[LiveStream, bool]:
    """Create the stream on Mux and here; ``(stream, replayed)``.

    With an ``Idempotency-Key`` a retry returns the stream the first request created; the same
    key with a different body is refused (servicekit.replay).
    If Mux created the live stream but our write failed, the Mux stream is deleted again.

    Raises:
        Conflict: the same key is still being processed.
        IdempotencyKeyReused: the same key came with a different body.
        MuxUnavailable: Mux failed after retries (nothing created).
        Unavailable: our write failed (the Mux stream was deleted again).
    """
    now = db_time(deps.clock())
    stream_id = new_stream_id()
    if idempotency_key:
        request_fp = fingerprint(request.model_dump(mode="json"))
        claim = await deps.streams.claim_request(
            owner_id, idempotency_key, stream_id, now, request_fp
        )
        if claim is not None and replay_allowed(claim, request_fp, idempotency_key):
            existing = await deps.streams.get(str(claim["stream_id"]))
            if existing is not None and existing.ready:
                return existing, True
            if existing is not None:
                raise Conflict(
                    "a request with this Idempotency-Key is still in progress", "creating"
                )
            await deps.streams.release_request(owner_id, idempotency_key)  # the first one failed
            return await create_stream(owner_id, request, idempotency_key, deps)
    await spend_mux_call(owner_id, deps)
    stream = LiveStream(
        stream_id=stream_id,
        owner_id=owner_id,
        title=request.title,
        created_at=now,
        description=request.description,
        thumbnail=str(request.thumbnail) if request.thumbnail else None,
    )
    await deps.streams.reserve(stream)
    try:
        mux = await deps.mux.create(
            passthrough=stream_id,
            reconnect_window=deps.config.reconnect_window_s,
            latency_mode=deps.config.latency_mode,
        )
    except Exception:
        await _forget(stream, idempotency_key, deps)
        raise
    ready = replace(
        stream,
        state="ready",
        mux_live_stream_id=mux.id,
        stream_key=mux.stream_key,
        playback_id=mux.playback_id,
    )
    created = envelope(
        StreamCreated(
            stream_id=stream_id,
            owner_id=owner_id,
            title=ready.title,
            description=ready.description,
            thumbnail=ready.thumbnail,
            playback_url=deps.config.playback_url(mux.playback_id),
            mux_live_stream_id=mux.id,
            created_at=now,
        )
    )
    try:
        stored = await deps.streams.finish_create(ready, [created])
    except Exception:
        log.exception("storing a created stream failed; deleting it on Mux")
        stored = False
    if not stored:
        await _delete_on_mux(mux.id, deps)
        await _forget(stream, idempotency_key, deps)
        raise Unavailable("could not store the new stream; nothing was created, retry later")
    deps.kick(STREAMS, stream_id)
    return ready, False


async def spend_mux_call(account: str, deps: Deps) -> None:
    """Spend one of ``account``'s Mux calls (``deps.mux_calls``, see ``deps.mux_call_budget``);
    replays are answered before this, so a retried request costs nothing.

    Raises:
        RateLimited: the budget is spent (``retry_after_s`` until the next call passes).
    """
    wait = await deps.mux_calls.take(account, int(deps.clock().timestamp() * 1000))
    if wait > 0:
        raise RateLimited("too many stream creations or key resets: wait before the next one", wait)


async def _forget(stream: LiveStream, key: str | None, deps: Deps) -> None:
    await deps.streams.discard(stream.stream_id)
    if key:
        await deps.streams.release_request(stream.owner_id, key)


async def _delete_on_mux(live_stream_id: str, deps: Deps) -> None:
    with contextlib.suppress(MuxNotFound):
        await deps.mux.delete(live_stream_id)


async def owned_stream(stream_id: str, caller: str, deps: Deps) -> LiveStream:
    """The stream if ``caller`` owns it.

    Raises:
        NotFound: unknown, still being created, or deleted.
        Forbidden: someone else's stream.
    """
    stream = await visible_stream(stream_id, deps)
    if stream.owner_id != caller:
        raise Forbidden("only the stream's owner may do this")
    return stream


async def visible_stream(stream_id: str, deps: Deps) -> LiveStream:
    stream = await deps.streams.get(stream_id)
    if stream is None or not stream.ready:
        raise NotFound(f"no stream {stream_id}")
    if stream.status == StreamStatus.DELETED:
        raise NotFound(f"stream {stream_id} was deleted")
    return stream


async def start_stream(stream_id: str, caller: str, deps: Deps) -> LiveStream:
    """Owner: ``idle -> active`` (again: no change). Raises ``Conflict`` once ended."""
    stream = await owned_stream(stream_id, caller, deps)
    if stream.status == StreamStatus.ENDED:
        raise Conflict("the stream has ended and cannot start again", stream.status.value)
    now = deps.clock()

    def start(s: LiveStream) -> LiveStream | None:
        if s.status != StreamStatus.IDLE:
            return None
        s.facts = lifecycle.owner_start(s.facts, now)
        return s

    result = await change_stream(stream_id, start, deps)
    if result.status not in (StreamStatus.ACTIVE,):
        raise Conflict(f"the stream is {result.status.value}", result.status.value)
    return result


async def end_stream(stream_id: str, caller: str, deps: Deps) -> LiveStream:
    """Owner: ``active -> ended``, telling Mux the stream is complete (again: no change).

    Raises:
        Conflict: the stream never started.
        MuxUnavailable: Mux failed (nothing changed).
    """
    stream = await owned_stream(stream_id, caller, deps)
    if stream.status == StreamStatus.ENDED:
        return stream
    if stream.status != StreamStatus.ACTIVE:
        raise Conflict("only an active stream can be ended", stream.status.value)
    if stream.mux_live_stream_id:
        with contextlib.suppress(MuxNotFound):
            await deps.mux.complete(stream.mux_live_stream_id)
            await deps.mux.disable(stream.mux_live_stream_id)
    now = deps.clock()

    def end(s: LiveStream) -> LiveStream | None:
        if s.status != StreamStatus.ACTIVE:
            return None
        s.facts = lifecycle.owner_end(s.facts, now)
        return s

    return await change_stream(stream_id, end, deps)


async def update_stream(
    stream_id: str, caller: str, request: UpdateLiveStreamRequest, deps: Deps
) -> LiveStream:
    """Owner: change the title, description or thumbnail (fields given in ``request``;
    validated as on create). A change publishes ``stream.updated`` through the outbox; the same
    values again change nothing.

    Raises:
        NotFound / Forbidden: see ``owned_stream``.
    """
    await owned_stream(stream_id, caller, deps)
    given = request.model_fields_set

    def describe(s: LiveStream) -> LiveStream | None:
        before = (s.title, s.description, s.thumbnail)
        if "title" in given and request.title is not None:
            s.title = request.title
        if "description" in given:
            s.description = request.description
        if "thumbnail" in given:
            s.thumbnail = str(request.thumbnail) if request.thumbnail else None
        return None if (s.title, s.description, s.thumbnail) == before else s

    return await change_stream(stream_id, describe, deps)


async def stop_stream_key(stream_id: str, deps: Deps) -> None:
    """After any end (owner's or derived from Mux): disable the Mux live stream, so the old key
    no longer lets an encoder stream (and be billed) for a stream we show as ended. Idempotent.

    Raises:
        MuxUnavailable: Mux kept failing (the consumer's message is retried).
    """
    stream = await deps.streams.get(stream_id)
    if stream is None or stream.status != StreamStatus.ENDED or not stream.mux_live_stream_id:
        return
    with contextlib.suppress(MuxNotFound):
        await deps.mux.disable(stream.mux_live_stream_id)


async def reset_stream_key(stream_id: str, caller: str, deps: Deps) -> LiveStream:
    """Owner: a new stream key from Mux (for a key that leaked); the old one is refused after.

    Mux is the authority on which key works. Concurrent resets (a double click, two tabs)
    interleave their Mux calls and our writes in any order, so the key a reset got back may be
    superseded before it is stored: after storing, the key Mux holds now is read back and stored
    again until the two agree. The last write is always followed by such a read, so the stored
    key ends as the one Mux accepts; each caller gets the key stored when it finished.

    Raises:
        NotFound / Forbidden: see ``owned_stream``.
        Conflict: the stream has ended: its Mux live stream is disabled (see
            ``stop_stream_key``), so no key of it would ever stream again.
        MuxUnavailable: Mux failed (the key is unchanged, or already reset: the next reset or
            read-back stores Mux's key).
    """
    stream = await owned_stream(stream_id, caller, deps)
    if stream.status == StreamStatus.ENDED:
        raise Conflict(
            "the stream has ended and its key no longer streams: create a new stream",
            stream.status.value,
        )
    live_stream_id = stream.mux_live_stream_id
    if not live_stream_id:
        raise NotFound(f"no stream {stream_id}")
    await spend_mux_call(caller, deps)
    key = (await deps.mux.reset_stream_key(live_stream_id)).stream_key
    for _ in range(_REKEY_ROUNDS):
        stored = await change_stream(stream_id, _rekey(key), deps)
        on_mux = (await deps.mux.get(live_stream_id)).stream_key
        if on_mux == key:
            return stored
        key = on_mux
    raise MuxUnavailable("the stream key kept changing on Mux")


#: read-backs of a reset key before giving up (each one needs another concurrent reset)
_REKEY_ROUNDS = 10


def _rekey(key: str) -> Change:
    def rekey(s: LiveStream) -> LiveStream | None:
        if s.stream_key == key:
            return None
        s.stream_key = key
        return s

    return rekey


async def delete_stream(stream_id: str, caller: str, deps: Deps) -> None:
    """Owner: delete on Mux, keep a tombstone here so late events are ignored."""
    stream = await owned_stream(stream_id, caller, deps)
    if stream.mux_live_stream_id:
        await _delete_on_mux(stream.mux_live_stream_id, deps)
    now = deps.clock()

    def delete(s: LiveStream) -> LiveStream | None:
        if s.facts.deleted_at is not None:
            return None
        s.facts = s.facts.merge(lifecycle.Facts(deleted_at=now))
        return s

    await change_stream(stream_id, delete, deps)


async def sweep_failed_creations(deps: Deps, *, older_than_s: float = 300) -> int:
    """Delete reservations left by a crash between the Mux call and our write, and their Mux
    live streams (found by passthrough). Returns how many were cleaned."""
    cleaned = 0
    for stream in await deps.streams.stale_reservations(
        deps.clock() - timedelta(seconds=older_than_s)
    ):
        for orphan in await deps.mux.find_by_passthrough(stream.stream_id):
            await _delete_on_mux(orphan.id, deps)
        await deps.streams.discard(stream.stream_id)
        cleaned += 1
    return cleaned
