"""Group commit of chat messages (issue 18): sequence and store many messages per write.

A posted message used to cost two database round trips in series (a counter increment, then an
insert) before it could be acknowledged. Here each instance keeps, per room, one writer at a
time: messages posted while a write is in flight wait for it and then go together (natural group
commit, no fixed delay). One write is:

1. one counter increment by N (``ChatStore.reserve``): the room's numbers ``last-N+1 .. last``
   are this batch's, in the order the messages were submitted;
2. one ordered ``insert_many`` of the N messages;
3. each sender's future resolved only after that insert returned: a message is stored before it
   is acknowledged.

The counter stays one atomic document shared by every instance, so two instances serving the
same room never hand out a number twice and need no lease or hand-over: a room has no single
owner whose death could stall or reorder it. A reserved number whose message is never stored
(the instance died between the increment and the insert, or the insert failed) is a hole the
rooms fill with a gap marker after ``gap_give_up_s`` (see :mod:`chat_gateway.hub`); on a failed
insert the writer fills its own range at once. Numbers therefore stay gap-free per room: every
number ends up holding a message or a gap marker, once.

A message whose number a room already filled with a gap marker (the write was late) is
re-sequenced in the next batch; a message whose ``client_msg_id`` was stored before (a resend
racing its original) resolves to that original. The ordered insert stops at such a message,
so the messages after it go to the next write as well, in their order (a sender's messages
keep the order sent), and the numbers they leave unused are filled with gap markers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chat_gateway.adapters.mongo import ChatStore
from servicekit.tasks import fail_future

log = logging.getLogger(__name__)

Doc = dict[str, Any]

#: Batches a message may be re-sequenced in (its number taken by a gap marker each time).
ATTEMPTS = 5
#: Most messages in one write.
MAX_BATCH = 500


class SequenceBusy(Exception):
    """A message found its number taken ``ATTEMPTS`` times in a row (rooms kept filling the
    numbers as gaps before the writes landed): the sender should retry."""


@dataclass(frozen=True, slots=True)
class Stored:
    """``doc`` as stored (with its ``seq``); ``duplicate``: ``doc`` is the message stored
    earlier under the same ``(stream_id, account_id, client_msg_id)``, not the one submitted."""

    doc: Doc
    duplicate: bool


#: Called after each write with the stream and the messages it stored, in ``seq`` order (in
#: the context of the batch's first sender: its trace and correlation id).
OnStored = Callable[[str, list[Doc]], None]


@dataclass(eq=False)
class _Entry:
    doc: Doc
    future: asyncio.Future[Stored]
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    attempts: int = 0


@dataclass(eq=False)
class SendOrder:
    """Keeps one sender's messages in the order it sent them while they are handled
    concurrently: a message is submitted to the sequencer only after the previous one was
    submitted (or refused). Create one per message with ``after`` the previous one's."""

    after: SendOrder | None = None
    _submitted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def turn(self) -> None:
        """Wait until every earlier message of the sender was submitted or refused."""
        if self.after is not None:
            await asyncio.shield(self.after._submitted)
            self.after = None  # let the chain be collected

    def done(self) -> None:
        """This message was submitted (or will never be): the next one may go."""
        self.after = None  # a run of refused posts must not chain up
        if not self._submitted.done():
            self._submitted.set_result(None)


class Sequencer:
    """Per-room group commit on ``store`` (see the module docstring)."""

    def __init__(
        self, store: ChatStore, *, on_stored: OnStored | None = None, max_batch: int = MAX_BATCH
    ) -> None:
        self._store = store
        self._on_stored = on_stored
        self._max = max_batch
        self._pending: dict[str, deque[_Entry]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self.writes = 0  # batches written (tests, metrics)

    def submit(self, doc: Doc) -> asyncio.Future[Stored]:
        """Queue ``doc`` (a message without ``seq``) for its room's next write; the future
        resolves once it is stored, or raises the write's error (the database's, or
        :class:`SequenceBusy`)."""
        stream_id = doc["stream_id"]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._pending.setdefault(stream_id, deque()).append(_Entry(doc, future))
        if stream_id not in self._writers:
            self._writers[stream_id] = loop.create_task(self._write(stream_id))
        return future

    async def store(self, doc: Doc) -> Stored:
        """Submit ``doc`` and wait until it is stored."""
        return await self.submit(doc)

    async def drain(self) -> None:
        """Wait for every write in flight and queued (shutdown, tests)."""
        while self._writers:
            await asyncio.gather(*list(self._writers.values()), return_exceptions=True)

    async def _write(self, stream_id: str) -> None:
        try:
            while queue := self._pending.get(stream_id):
                batch = [queue.popleft() for _ in range(min(len(queue), self._max))]
                batch = [e for e in batch if not e.future.done()]  # the sender gave up
                if batch:
                    await self._commit(stream_id, batch)
                if not queue and self._pending.get(stream_id) is queue:
                    del self._pending[stream_id]
        finally:
            del self._writers[stream_id]
            for entry in self._pending.pop(stream_id, ()):  # only when cancelled (shutdown)
                _fail(entry, asyncio.CancelledError())

    async def _commit(self, stream_id: str, batch: list[_Entry]) -> None:
        try:
            last = await self._store.reserve(stream_id, len(batch))
        except BaseException as exc:
            for entry in batch:
                _fail(entry, exc)
            _reraise_cancel(exc)
            return
        self.writes += 1
        first = last - len(batch) + 1
        docs = [{**e.doc, "seq": first + i} for i, e in enumerate(batch)]
        try:
            refused = await self._store.insert_batch(docs)
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the database may be the reason
                await asyncio.shield(self._store.insert_gaps(stream_id, range(first, last + 1)))
            for entry in batch:
                _fail(entry, exc)
            _reraise_cancel(exc)
            return
        stored = docs if refused is None else docs[:refused]
        if stored and self._on_stored is not None:
            try:
                batch[0].context.run(self._on_stored, stream_id, stored)
            except Exception:  # stored all the same; rooms read it when they see a later seq
                log.exception("announcing stored messages failed")
        for entry, doc in zip(batch, stored, strict=False):
            if not entry.future.done():
                entry.future.set_result(Stored(doc, False))
        if refused is not None:
            await self._refused(stream_id, batch[refused:], docs[refused:])

    async def _refused(self, stream_id: str, entries: list[_Entry], docs: list[Doc]) -> None:
        """The insert stopped at ``entries[0]``: a resend's original resolves it, a number held
        by a gap marker sends it to the next write. The later entries (not stored) go to the
        next write too, in their order; every number of theirs is filled so nobody waits."""
        head, doc = entries[0], docs[0]
        retry = entries[1:]
        key = (doc["account_id"], doc["client_msg_id"])
        try:
            original = (await self._store.originals(stream_id, [key])).get(key)
        except Exception as exc:
            _fail(head, exc)
        else:
            if original is not None:  # a concurrent resend stored it first
                if not head.future.done():
                    head.future.set_result(Stored(original, True))
            else:
                log.info("seq %d of %s was filled as a gap; re-sequencing", doc["seq"], stream_id)
                head.attempts += 1
                if head.attempts >= ATTEMPTS:
                    _fail(head, SequenceBusy(stream_id))
                else:
                    retry.insert(0, head)
        try:
            await self._store.insert_gaps(stream_id, [d["seq"] for d in docs])
        except Exception as exc:  # the rooms fill them after gap_give_up_s
            log.warning("unused numbers of %s not filled: %r", stream_id, exc)
        queue = self._pending.setdefault(stream_id, deque())
        queue.extendleft(reversed(retry))  # first in the next write, in their order


def _fail(entry: _Entry, exc: BaseException) -> None:
    fail_future(entry.future, exc)


def _reraise_cancel(exc: BaseException) -> None:
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
        raise exc
