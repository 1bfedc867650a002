"""What the chat protocol promises, under bursts across instances (issue 18: messages are
sequenced and stored in groups): gap-free ``seq`` per room, every message stored before its
sender's ack, resume by ``last_seq``, each message once per socket on every instance, a
sender's messages in the order sent; and when an instance dies mid-burst (SIGKILL of a real
gateway process) nothing acknowledged is lost and nothing is reordered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chat_gateway.adapters.mongo import MESSAGES, SEQ
from testkit.faultproxy import FaultProxy
from testkit.infra import InfraUrls
from testkit.servers import free_port
from testkit.wait import eventually

from .conftest import Cluster, Peer, _cluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Doc = dict[str, Any]


@pytest_asyncio.fixture
async def burst_cluster(
    infra: InfraUrls,
    namespace: str,
    service_env: dict[str, str],
    drop_namespace_dbs: None,
    jwt_secret: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cluster]:
    """Two instances with a rate budget no burst here reaches."""
    monkeypatch.setenv("OUTBOX_POLL_S", "0.2")
    monkeypatch.setenv("CHAT_RATE_BURST", "100000")
    monkeypatch.setenv("CHAT_RATE_PER_S", "100000")
    async with _cluster(infra, namespace, jwt_secret) as running_cluster:
        yield running_cluster


@dataclass
class Poster:
    """A client that sends its frames without waiting for acks (pipelined)."""

    ws: ClientConnection
    name: str
    acks: list[Doc] = field(default_factory=list)
    errors: list[Doc] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, name: str) -> Poster:
        ws = await connect(url, max_size=None)
        assert json.loads(await ws.recv())["type"] == "hello"
        poster = cls(ws, name)
        poster.reader = asyncio.create_task(poster._read())
        return poster

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame["type"] == "chat.ack":
                    self.acks.append(frame)
                elif frame["type"] == "chat.error":
                    self.errors.append(frame)

    async def burst(self, count: int, start: int = 0) -> None:
        with contextlib.suppress(ConnectionClosed):
            for i in range(start, start + count):
                cmid = f"{self.name}-{i}"
                self.sent.append(cmid)
                await self.ws.send(
                    json.dumps({"type": "chat.send", "client_msg_id": cmid, "message": cmid})
                )

    def acked_in_send_order(self) -> None:
        """Acks come in the order sent and their numbers rise with it."""
        cmids = [a["client_msg_id"] for a in self.acks]
        assert cmids == self.sent[: len(cmids)], "acks out of the order sent"
        seqs = [a["seq"] for a in self.acks]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "numbers not in send order"


async def stored(infra: InfraUrls, namespace: str, stream_id: str) -> dict[int, Doc]:
    """Every document of the room by number (messages and gap markers)."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongo)
    try:
        db = client[f"{namespace}chat_gateway".replace(".", "_")]
        docs = [d async for d in db[MESSAGES].find({"stream_id": stream_id})]
    finally:
        await client.close()
    by_seq = {d["seq"]: d for d in docs}
    assert len(by_seq) == len(docs), "a number holds two documents"
    return by_seq


def delivered(peer: Peer) -> list[tuple[int, str]]:
    return [(f["seq"], f["message_id"]) for f in peer.of("chat.message")]


def assert_gap_free_and_acked(held: dict[int, Doc], posters: list[Poster]) -> None:
    assert sorted(held) == list(range(1, max(held) + 1)), "a number holds nothing"
    for poster in posters:
        for ack in poster.acks:
            doc = held[ack["seq"]]
            assert (doc["_id"], doc["text"]) == (ack["message_id"], ack["client_msg_id"])


def assert_once_in_order(peer: Peer, held: dict[int, Doc]) -> None:
    got = delivered(peer)
    seqs = [seq for seq, _ in got]
    assert seqs == sorted(set(seqs)), "a message twice or out of order"
    visible = {seq: d["_id"] for seq, d in held.items() if not d.get("gap")}
    assert dict(got) == visible, "a stored message was not delivered (or one never stored was)"


class TestBurstsAcrossInstances:
    async def test_pipelined_bursts_on_both_instances_keep_every_promise(
        self, burst_cluster: Cluster, infra: InfraUrls, namespace: str
    ) -> None:
        cluster = burst_cluster
        await cluster.live_stream("burst")
        viewers = [await cluster.peer("burst", f"v{i}", on=i) for i in (0, 1)]
        posters = [
            await Poster.open(
                f"{cluster.gateways[i % 2].ws_url}/ws/live/burst?token={cluster.token(name)}", name
            )
            for i, name in enumerate(["pa", "pb", "pc"])
        ]
        # a viewer that leaves mid-burst and resumes from the last number it saw; the second
        # half of each burst is sent after it left (else, on a fast machine, it could have
        # seen all 360 before leaving, and there would be nothing to resume)
        resumer = await cluster.peer("burst", "resumer", on=1)
        bursts = [asyncio.create_task(p.burst(60)) for p in posters]
        await resumer.wait(lambda p: len(p.of("chat.message")) >= 40, within=30)
        await resumer.close()
        first_session = delivered(resumer)
        last_seq = first_session[-1][0]
        await asyncio.gather(*bursts)
        await asyncio.gather(*(p.burst(60, start=60) for p in posters))
        for p in posters:
            await eventually(lambda p=p: len(p.acks) + len(p.errors) == 120, within=30)
        again = await cluster.peer("burst", "resumer", on=1, query=f"&last_seq={last_seq}")
        assert again.of("hello"), f"resume refused: {again.closed_code} {again.ws.close_reason}"
        held = await stored(infra, namespace, "burst")
        for viewer in viewers:
            await viewer.wait(lambda v: len(v.of("chat.message")) >= 360, within=30)

        for p in posters:
            assert p.errors == []
            p.acked_in_send_order()
        assert len(held) == 360
        assert_gap_free_and_acked(held, posters)
        for viewer in viewers:
            assert_once_in_order(viewer, held)
        await again.wait(lambda p: p.seqs() and p.seqs()[-1] == 360, within=30)
        resumed = [(m["seq"], m["message_id"]) for m in again.of("hello")[0]["messages"]]
        both = first_session + resumed + delivered(again)
        assert [seq for seq, _ in both] == list(range(1, 361)), "resume lost or repeated some"
        assert dict(both) == {seq: d["_id"] for seq, d in held.items()}


class TestGroupCommitOverTheSocket:
    async def test_one_senders_pipelined_burst_shares_writes(
        self, burst_cluster: Cluster, infra: InfraUrls, namespace: str
    ) -> None:
        """A sender's frames are handled while earlier ones wait for the database, so its
        burst goes to the room's writes together (one write per frame before issue 18)."""
        cluster = burst_cluster
        await cluster.live_stream("one")
        gateway = cluster.gateways[0]
        poster = await Poster.open(f"{gateway.ws_url}/ws/live/one?token={cluster.token('p')}", "p")
        writes = gateway.service.sequencer.writes
        await poster.burst(100)
        await eventually(lambda: len(poster.acks) == 100, within=30)
        assert gateway.service.sequencer.writes - writes <= 50
        poster.acked_in_send_order()
        assert_gap_free_and_acked(await stored(infra, namespace, "one"), [poster])


@contextlib.contextmanager
def gateway_process(
    name: str, mongo_url: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """A real gateway process (the test's environment: broker, namespace, budget; the
    database at ``mongo_url``); yields (process, ws base URL, http base URL)."""
    http, ws = free_port(), free_port()
    env = {
        **os.environ,
        "MONGODB_URL": mongo_url,
        "CHAT_INSTANCE_ID": name,
        "HTTP_PORT": str(http),
        "CHAT_WS_PORT": str(ws),
        "CHAT_PRESENCE_INTERVAL_S": "3600",
    }
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chat_gateway"], env=env, stdout=out, stderr=out
        )
        try:
            yield proc, f"ws://127.0.0.1:{ws}", f"http://127.0.0.1:{http}"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


async def ready(http: str, proc: subprocess.Popen[bytes]) -> bool:
    assert proc.poll() is None, "the gateway process exited"
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{http}/readyz")).status_code == 200
    return False


async def reserved_unwritten(infra: InfraUrls, namespace: str, stream_id: str) -> bool:
    """The room's counter is ahead of what is stored: a range reserved, its insert not done."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongo)
    try:
        db = client[f"{namespace}chat_gateway".replace(".", "_")]
        counter = await db[SEQ].find_one({"_id": stream_id})
        count = await db[MESSAGES].count_documents({"stream_id": stream_id})
    finally:
        await client.close()
    return counter is not None and int(counter["seq"]) > count


class TestFailover:
    async def test_an_instance_killed_mid_burst_loses_and_reorders_nothing(
        self,
        burst_cluster: Cluster,
        infra: InfraUrls,
        namespace: str,
        fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    ) -> None:
        """A poster bursts into a room through a gateway process whose database link is slow
        (0.3 s each way); the process is killed (SIGKILL, its database traffic in flight cut)
        at a moment its counter increment is applied and its insert is not. Every message
        acknowledged before is stored under the number its ack gave; the numbers the dead
        instance reserved but never wrote are filled, so the room moves on: a poster on
        gateway a goes on, and viewers on both surviving instances get every stored message
        once, in order."""
        cluster = burst_cluster
        await cluster.live_stream("failover")
        proxy, slow_mongo = fault_proxy(infra.mongo)
        with gateway_process("gw-doomed", slow_mongo) as (proc, ws_c, http_c):
            await eventually(lambda: ready(http_c, proc), within=30)
            viewers = [await cluster.peer("failover", f"v{i}", on=i) for i in (0, 1)]
            room = "/ws/live/failover?token="
            doomed = await Poster.open(f"{ws_c}{room}{cluster.token('pc')}", "pc")
            proxy.delay(0.3)
            burst = asyncio.create_task(doomed.burst(400))
            await eventually(lambda: len(doomed.acks) >= 30, within=60)
            await eventually(
                lambda: reserved_unwritten(infra, namespace, "failover"), within=30, interval=0.01
            )
            proxy.cut()  # what the dead instance had in flight dies with it
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            acked_by_doomed = list(doomed.acks)
            await burst
            assert len(acked_by_doomed) < 400, "the burst was over before the kill"
        a_url = cluster.gateways[0].ws_url
        steady = await Poster.open(f"{a_url}{room}{cluster.token('pa')}", "pa")
        await steady.burst(200)  # the room goes on after the failover
        await eventually(lambda: len(steady.acks) == 200, within=60)
        last = steady.acks[-1]["seq"]
        for viewer in viewers:  # past the dead instance's holes, after gap_give_up_s
            await viewer.wait(lambda v: v.seqs() and v.seqs()[-1] == last, within=30)
        held = await stored(infra, namespace, "failover")

        assert any(d.get("gap") for d in held.values()), "the kill left no hole to fill"
        assert steady.errors == []
        steady.acked_in_send_order()
        doomed.acks = acked_by_doomed
        doomed.acked_in_send_order()
        assert_gap_free_and_acked(held, [steady, doomed])
        for viewer in viewers:
            assert_once_in_order(viewer, held)
