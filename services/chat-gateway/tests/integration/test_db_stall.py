"""Issue 17: the database stalls under two real gateway instances (MongoDB reached through the
testkit fault proxy, paused: connections stay open, nothing is forwarded, as with a stopped
process). REST answers 503 JSON with Retry-After, the socket answers ``chat.error``
``unavailable`` and stays open, no accepted message is lost, and delivery resumes within 2 s of
the database's return although counter increments applied late left numbers with no message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from testkit.faultproxy import FaultProxy
from testkit.infra import InfraUrls

from .conftest import Cluster, Peer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: Longer than the database operation timeout (5 s), so requests in flight give up.
STALL_S = 6.5


@pytest.fixture
def db_proxy(
    infra: InfraUrls,
    service_env: dict[str, str],
    fault_proxy: Callable[[str], tuple[FaultProxy, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> FaultProxy:
    proxy, url = fault_proxy(infra.mongo)
    monkeypatch.setenv("MONGODB_URL", url)
    return proxy


def texts(peer: Peer) -> list[str]:
    return [f["text"] for f in peer.of("chat.message")]


async def test_a_database_stall_answers_503_loses_nothing_and_recovers_within_2s(
    db_proxy: FaultProxy, cluster: Cluster
) -> None:
    await cluster.live_stream("stall")
    viewers = [await cluster.peer("stall", "v-a", on=0), await cluster.peer("stall", "v-b", on=1)]
    poster = await cluster.peer("stall", "poster", on=0)
    other = await cluster.peer("stall", "poster-b", on=1)
    # sends only after the stall: its frames do not queue behind ones that waited on the database
    fresh = await cluster.peer("stall", "poster-c", on=0)
    for i in range(3):
        await poster.send(type="chat.send", client_msg_id=f"before-{i}", message=f"before {i}")
    for viewer in viewers:
        await viewer.wait(lambda p: len(p.of("chat.message")) == 3)

    db_proxy.pause()
    loop = asyncio.get_running_loop()
    stalled_at = loop.time()
    # posts during the stall: over the socket (both instances) and over HTTP
    for i in range(3):
        await poster.send(type="chat.send", client_msg_id=f"during-{i}", message=f"during {i}")
    await other.send(type="chat.send", client_msg_id="during-b", message="during b")
    async with cluster.http(on=1, account="http-poster") as client:
        r = await client.post("/live/stall/chats", json={"message": "during http"}, timeout=15)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"] == "unavailable"
    await poster.wait(lambda p: len(p.of("chat.error")) >= 1, within=15)
    error = poster.of("chat.error")[0]
    assert error["reason"] == "unavailable" and error["retry_after_s"] >= 1
    assert error["client_msg_id"] == "during-0"
    assert poster.closed_code is None and other.closed_code is None  # sockets kept
    await asyncio.sleep(max(0.0, STALL_S - (loop.time() - stalled_at)))

    db_proxy.restore()
    restored_at = loop.time()
    frames_before = len(fresh.frames)
    # a sender who gets "unavailable" retries with the same client_msg_id until acked
    await fresh.send(type="chat.send", client_msg_id="after-0", message="after 0")

    async def acked(peer: Peer, cmid: str) -> bool:
        if any(a["client_msg_id"] == cmid for a in peer.of("chat.ack")):
            return True
        refusals = [e for e in peer.of("chat.error") if e.get("client_msg_id") == cmid]
        if len(refusals) > acked.retries.get(cmid, 0):  # type: ignore[attr-defined]
            acked.retries[cmid] = len(refusals)  # type: ignore[attr-defined]
            await peer.send(type="chat.send", client_msg_id=cmid, message=cmid.replace("-", " "))
        return False

    acked.retries = {}  # type: ignore[attr-defined]
    await fresh.wait(lambda p: acked(p, "after-0"), within=10)
    for viewer in viewers:
        await viewer.wait(lambda p: "after 0" in texts(p), within=10)
    resumed_in = loop.time() - restored_at
    after = [f for f in fresh.frames[frames_before:] if f["type"] != "viewer_count"]
    assert resumed_in < 2.0, (
        f"delivery resumed {resumed_in:.2f} s after the database returned; the poster got {after}"
    )

    for i in range(1, 4):
        await poster.send(type="chat.send", client_msg_id=f"after-{i}", message=f"after {i}")
    # the poster's frames sent during the stall are handled first, in order (each waited for
    # the database at most its operation timeout); then these
    await poster.wait(
        lambda p: (
            {f"after-{i}" for i in range(1, 4)} <= {a["client_msg_id"] for a in p.of("chat.ack")}
        ),
        within=30,
    )
    accepted = {
        a["client_msg_id"].replace("-", " "): a["seq"]
        for peer in (poster, other, fresh)
        for a in peer.of("chat.ack")
    }
    for viewer in viewers:
        await viewer.wait(lambda p: set(accepted) <= set(texts(p)), within=10)
    await asyncio.sleep(0.3)
    for viewer in viewers:
        seqs = [f["seq"] for f in viewer.of("chat.message")]
        assert seqs == sorted(set(seqs)), "in order, each once"
        got = {f["text"]: f["seq"] for f in viewer.of("chat.message")}
        assert {t: got[t] for t in accepted} == accepted  # every accepted message, its number
    assert texts(viewers[0]) == texts(viewers[1])
