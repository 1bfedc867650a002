"""Blocked terms (projected from stream-svc's events) and pins (chat-gateway's own), with two
real instances on the real broker and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chat_gateway.service import Refused
from contracts.blocked_terms import BlockedTermAdded, BlockedTermRemoved
from contracts.moderation import ModeratorAdded
from testkit.wait import eventually

from .conftest import Cluster

pytestmark = pytest.mark.integration


async def _known_everywhere(cluster: Cluster, stream_id: str, term_id: str, active: bool) -> None:
    """Both instances' rooms hold the term's latest state."""

    def known() -> bool:
        for gateway in cluster.gateways:
            room = gateway.hub.rooms.get(stream_id)
            term = room.state.blocklist.terms.get(term_id) if room else None
            if term is None or term.active != active:
                return False
        return True

    await eventually(known, within=10)


async def test_a_blocked_term_is_refused_for_viewers_only_and_never_stored(
    cluster: Cluster,
) -> None:
    await cluster.live_stream("bt1", owner="owner")
    now = datetime.now(UTC)
    await cluster.publish(ModeratorAdded(stream_id="bt1", account_id="mod", by="owner", at=now))
    viewer = await cluster.peer("bt1", "viewer", on=0)
    mod = await cluster.peer("bt1", "mod", on=1)
    owner = await cluster.peer("bt1", "owner", on=0)
    await cluster.publish(
        BlockedTermAdded(stream_id="bt1", term_id="bt_1", term="heck", by="mod", at=now)
    )
    await _known_everywhere(cluster, "bt1", "bt_1", active=True)

    await viewer.send(type="chat.send", client_msg_id="c1", message="what the ＨＥＣＫ")
    await viewer.wait(lambda p: p.of("chat.error"))
    error = viewer.of("chat.error")[0]
    assert (error["reason"], error["client_msg_id"]) == ("blocked_term", "c1")
    async with cluster.http(on=1, account="viewer") as http:
        refused = await http.post("/live/bt1/chats", json={"message": "Heck!"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "blocked_term"

    await viewer.send(type="chat.send", client_msg_id="c2", message="a heckler is fine")
    await mod.send(type="chat.send", client_msg_id="m1", message="heck, says the mod")
    await owner.send(type="chat.send", client_msg_id="o1", message="HECK says the owner")
    await viewer.wait(lambda p: len(p.of("chat.message")) == 3)
    texts = sorted(m["text"] for m in viewer.of("chat.message"))
    assert texts == ["HECK says the owner", "a heckler is fine", "heck, says the mod"]
    async with cluster.http(account="viewer") as http:
        stored = (await http.get("/live/bt1/chats")).json()["items"]
    assert sorted(m["text"] for m in stored) == texts  # the refused ones were never stored

    await cluster.publish(
        BlockedTermRemoved(
            stream_id="bt1", term_id="bt_1", term="heck", by="mod", at=now + timedelta(seconds=1)
        )
    )
    await _known_everywhere(cluster, "bt1", "bt_1", active=False)
    await viewer.send(type="chat.send", client_msg_id="c3", message="heck again")
    await mod.wait(lambda p: any(m["text"] == "heck again" for m in p.of("chat.message")))


async def test_invisible_characters_and_unspaced_scripts_do_not_slip_past(
    cluster: Cluster,
) -> None:
    """atk19: ``h\u200deck`` (a zero-width joiner inside the word, kept by the text rule) showed
    "heck" yet was stored and fanned out; a Han term was never found inside a sentence."""
    await cluster.live_stream("bt3", owner="owner")
    now = datetime.now(UTC)
    viewer = await cluster.peer("bt3", "viewer", on=0)
    owner = await cluster.peer("bt3", "owner", on=1)
    for term_id, term in (("bt_h", "heck"), ("bt_c", "坏蛋")):
        await cluster.publish(
            BlockedTermAdded(stream_id="bt3", term_id=term_id, term=term, by="owner", at=now)
        )
        await _known_everywhere(cluster, "bt3", term_id, active=True)

    await viewer.send(type="chat.send", client_msg_id="z1", message="what the h\u200dE\u00adck")
    await viewer.wait(lambda p: p.of("chat.error"))
    assert viewer.of("chat.error")[0]["reason"] == "blocked_term"
    async with cluster.http(on=1, account="viewer") as http:
        for message in ("he\u2060ck!", "你是坏蛋吗"):
            refused = await http.post("/live/bt3/chats", json={"message": message})
            assert (refused.status_code, refused.json()["error"]) == (422, "blocked_term")
        assert (await http.post("/live/bt3/chats", json={"message": "fine"})).status_code == 201
    await owner.wait(lambda p: p.of("chat.message"))
    assert [m["text"] for m in owner.of("chat.message")] == ["fine"]


async def test_a_socket_probing_the_list_with_refused_messages_is_closed(
    cluster: Cluster,
) -> None:
    """atk19: a blocked-term refusal spent no rate budget and was not counted as abuse, so a
    viewer could send refused messages without limit and learn the list word by word (the
    refusal names no term, but refused or not answers "is this word blocked?")."""
    await cluster.live_stream("bt4", owner="owner")
    now = datetime.now(UTC)
    prober = await cluster.peer("bt4", "prober", on=0)
    await cluster.peer("bt4", "owner", on=1)
    await cluster.publish(
        BlockedTermAdded(stream_id="bt4", term_id="bt_p", term="heck", by="owner", at=now)
    )
    await _known_everywhere(cluster, "bt4", "bt_p", active=True)
    for i in range(60):
        try:
            await prober.send(type="chat.send", client_msg_id=f"p{i}", message=f"heck {i}")
        except Exception:
            break
    await prober.wait(lambda p: p.closed_code is not None, within=30)
    assert prober.closed_code == 4008
    assert {e["reason"] for e in prober.of("chat.error")} == {"blocked_term"}


async def test_a_term_reaches_an_instance_without_the_room_through_the_projection(
    cluster: Cluster,
) -> None:
    await cluster.live_stream("bt2", owner="owner")
    now = datetime.now(UTC)
    await cluster.publish(
        BlockedTermAdded(stream_id="bt2", term_id="bt_2", term="*spam*", by="owner", at=now)
    )
    await cluster.publish(
        BlockedTermAdded(
            stream_id="bt2",
            term_id="bt_3",
            term="gone",
            by="owner",
            at=now,
            expires_at=now - timedelta(seconds=1),
        )
    )

    async def refused() -> bool:
        async with cluster.http(on=1, account="viewer") as http:
            r = await http.post("/live/bt2/chats", json={"message": "antispammers"})
            return r.status_code == 422

    await eventually(refused, within=10)
    async with cluster.http(on=0, account="viewer") as http:
        assert (await http.post("/live/bt2/chats", json={"message": "gone"})).status_code == 201


async def test_a_pin_shows_everywhere_and_to_late_joiners_and_goes_with_its_message(
    cluster: Cluster,
) -> None:
    await cluster.live_stream("pn1", owner="owner")
    now = datetime.now(UTC)
    await cluster.publish(ModeratorAdded(stream_id="pn1", account_id="mod", by="owner", at=now))
    viewer = await cluster.peer("pn1", "viewer", on=0)
    await viewer.send(type="chat.send", client_msg_id="c1", message="pin me")
    await viewer.wait(lambda p: p.of("chat.message"))
    message_id = viewer.of("chat.message")[0]["message_id"]
    async with cluster.http(on=0, account="viewer") as http:
        forbidden = await http.put("/live/pn1/chat/pin", json={"message_id": message_id})
    assert forbidden.status_code == 403

    async def pinned() -> bool:  # the moderator's role reached instance b
        async with cluster.http(on=1, account="mod") as http:
            r = await http.put("/live/pn1/chat/pin", json={"message_id": message_id})
            return r.status_code == 200

    await eventually(pinned, within=10)
    await viewer.wait(lambda p: p.of("pin"))
    pin = viewer.of("pin")[0]["pin"]
    assert (pin["message_id"], pin["text"], pin["account_id"], pin["pinned_by"]) == (
        message_id,
        "pin me",
        "viewer",
        "mod",
    )
    late = await cluster.peer("pn1", "late", on=1)
    assert late.of("hello")[0]["pin"]["pin_id"] == pin["pin_id"]

    async with cluster.http(on=1, account="mod") as http:
        assert (await http.delete(f"/live/pn1/chats/{message_id}")).status_code == 204
    for peer in (viewer, late):
        await peer.wait(lambda p: p.of("pin")[-1]["pin"] is None)
    later = await cluster.peer("pn1", "later", on=0)
    assert later.of("hello")[0]["pin"] is None


async def test_an_announcement_pin_until_a_time_and_unpin(cluster: Cluster) -> None:
    await cluster.live_stream("pn2", owner="owner")
    viewer = await cluster.peer("pn2", "viewer", on=1)
    async with cluster.http(on=0, account="owner") as http:
        assert (await http.put("/live/pn2/chat/pin", json={"text": "  "})).status_code == 422
        assert (
            await http.put("/live/pn2/chat/pin", json={"text": "a", "message_id": "m"})
        ).status_code == 422
        past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        assert (
            await http.put("/live/pn2/chat/pin", json={"text": "x", "until": past})
        ).status_code == 422
        until = datetime.now(UTC) + timedelta(seconds=1.5)
        r = await http.put(
            "/live/pn2/chat/pin", json={"text": "Giveaway at 9!", "until": until.isoformat()}
        )
        assert r.status_code == 200, r.text
    await viewer.wait(lambda p: p.of("pin"))
    assert viewer.of("pin")[0]["pin"]["text"] == "Giveaway at 9!"
    assert viewer.of("pin")[0]["pin"]["message_id"] is None
    await viewer.wait(lambda p: p.of("pin")[-1]["pin"] is None)  # expired: the room says so
    late = await cluster.peer("pn2", "late", on=0)
    assert late.of("hello")[0]["pin"] is None

    async with cluster.http(on=0, account="owner") as http:
        assert (await http.put("/live/pn2/chat/pin", json={"text": "Welcome"})).status_code == 200
        await viewer.wait(lambda p: (p.of("pin")[-1]["pin"] or {}).get("text") == "Welcome")
        assert (await http.delete("/live/pn2/chat/pin")).status_code == 204
        await viewer.wait(lambda p: p.of("pin")[-1]["pin"] is None)
        again = await http.delete("/live/pn2/chat/pin")
        assert (again.status_code, again.json()) == (200, {"changed": False})


async def test_a_message_deleted_while_it_is_being_pinned_never_stays_pinned(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the attack on issue 19 read in the code: the pin checks the message, the
    delete runs to its end (finding no pin yet), then the pin is written. The pin must not
    show the deleted message."""
    from chat_gateway import pinning

    await cluster.live_stream("pn3", owner="owner")
    viewer = await cluster.peer("pn3", "viewer", on=0)
    await viewer.send(type="chat.send", client_msg_id="c1", message="soon gone")
    await viewer.wait(lambda p: p.of("chat.message"))
    message_id = viewer.of("chat.message")[0]["message_id"]
    service = cluster.gateways[0].service
    real_change = pinning._change

    async def delete_first(*args: Any, **kwargs: Any) -> bool:
        if args[4] == "pinned":
            assert await service.delete("pn3", message_id, "owner")
        return await real_change(*args, **kwargs)

    monkeypatch.setattr(pinning, "_change", delete_first)
    with pytest.raises(Refused) as refused:
        await pinning.pin(service, "pn3", "owner", message_id=message_id, text=None, until=None)
    assert refused.value.status == 404
    pins = await service.projection.pins.load("pn3")
    assert pins.shown(datetime.now(UTC)) is None
    await viewer.wait(lambda p: p.of("pin") and p.of("pin")[-1]["pin"] is None)
