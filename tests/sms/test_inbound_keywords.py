"""Inbound SMS leftovers of issue 18: an MO the SMSC delivers again (its deliver_sm_resp was lost) is stored
once and acknowledged each time; STOP/START/HELP on SMS are confirmed by SMS from the number written to, in
the contact's language (the keyword's script), HELP with the tenant's help text, and not at all when the
tenant turned confirmations off (HELP is still answered); a STOP racing an SMS already queued fails that SMS
at delivery (``sms_recipient_opted_out``) while the STOP's own confirmation still goes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.sms.helpers import eventually
from tests.sms.smsc import SmscSimulator
from tests.sms.test_delivery import start_smsc
from tests.sms.test_inbound import HANDSET, NUMBER, auth, number_sender, received
from tgo.channels.sms_encoding import decode_gsm
from tgo.i18n import translate
from tgo.models import Tenant
from tgo.runtime import Runtime

__all__ = ["auth"]  # the fixture, shared with the inbound SMS tests


async def bound(runtime: Runtime) -> SmscSimulator:
    sim, smpp = await start_smsc(runtime)
    await smpp.keepalive()
    await eventually(lambda: _bound(sim))
    return sim


async def _bound(sim: SmscSimulator) -> bool:
    await asyncio.sleep(0)
    return sim.binds > 0


def texts_to_handset(sim: SmscSimulator) -> list[str]:
    """What the SMSC was asked to send to the handset, decoded (single-part replies)."""
    out = []
    for a in sim.accepted:
        if a.destination == HANDSET.lstrip("+"):
            assert a.source == NUMBER.lstrip("+") and a.source_ton == 1  # from the number written to
            out.append(
                a.short_message.decode("utf-16-be") if a.data_coding == 8 else decode_gsm(a.short_message)
            )
    return out


async def outbound_to_handset(client: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/v1/sms/messages", headers=auth)
    assert r.status_code == 200, r.text
    return [m for m in r.json()["data"] if m["to"] == HANDSET]


async def test_an_mo_delivered_again_is_stored_once_and_acknowledged_each_time(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    await number_sender(client, auth)
    sim = await bound(runtime)
    sim.mobile_originated(HANDSET, NUMBER, [b"Where is my order?"])
    await eventually(lambda: _acked(sim, 1))
    # The SMSC did not get that answer (say the bind dropped): it delivers the same SMS again.
    sim.mobile_originated(HANDSET, NUMBER, [b"Where is my order?"])
    await eventually(lambda: _acked(sim, 2))
    assert sim.mo_statuses == [0, 0]  # both acknowledged: the SMSC stops redelivering
    assert [r["body"] for r in await received(client, auth)] == ["Where is my order?"]
    # Another text from the same handset is another SMS.
    sim.mobile_originated(HANDSET, NUMBER, [b"Order 1234"])
    await eventually(lambda: _acked(sim, 3))
    assert [r["body"] for r in await received(client, auth)] == ["Order 1234", "Where is my order?"]


async def test_two_copies_racing_on_two_binds_store_one(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    from tgo.channels.sms_types import InboundSms
    from tgo.sms.inbound import apply_inbound

    await number_sender(client, auth)
    sms = InboundSms(source=HANDSET, destination=NUMBER, body="Is the shop open today?")
    assert await asyncio.gather(*(apply_inbound(runtime, sms) for _ in range(4))) == [True] * 4
    assert [r["body"] for r in await received(client, auth)] == ["Is the shop open today?"]


async def _acked(sim: SmscSimulator, n: int) -> bool:
    await asyncio.sleep(0)
    return len(sim.mo_statuses) >= n


async def test_keywords_are_confirmed_by_sms_from_the_number_in_the_contacts_language(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, tenant: Tenant
) -> None:
    await number_sender(client, auth)
    sim = await bound(runtime)
    sim.mobile_originated(HANDSET, NUMBER, [b"STOP"])

    async def replies(n: int) -> list[str] | None:
        found = texts_to_handset(sim)
        return found if len(found) >= n else None

    [stop] = await eventually(lambda: replies(1))
    assert stop == translate("optouts.reply.stop", "en", organization=tenant.name)
    [queued] = await outbound_to_handset(client, auth)
    assert queued["senderId"] and queued["messageType"] == "transactional"
    # Opted out, yet the confirmation went out (a tenant's own SMS to the phone is refused); START in Arabic
    # gets the Arabic confirmation.
    sim.mobile_originated(HANDSET, NUMBER, ["ابدأ".encode("utf-16-be")], data_coding=0x08)
    stop_again, start = await eventually(lambda: replies(2))
    assert stop_again == stop
    assert start == translate("optouts.reply.start", "ar", organization=tenant.name)
    opted = (await client.get("/api/v1/opt-outs", params={"channel": "sms"}, headers=auth)).json()["data"]
    assert opted == []  # the Arabic START took the phone off the list


async def test_confirmations_off_silences_stop_and_start_but_help_is_answered_with_the_help_text(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    await number_sender(client, auth)
    r = await client.put(
        "/api/v1/opt-outs/settings",
        json={"confirmations": False, "help_text": "Acme support: call 1300 000 000."},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    sim = await bound(runtime)
    sim.mobile_originated(HANDSET, NUMBER, [b"stop"])
    await eventually(lambda: _acked(sim, 1))  # stored (a HELP answered before a later STOP would not go)
    sim.mobile_originated(HANDSET, NUMBER, [b"HELP"])
    await eventually(lambda: _acked(sim, 2))

    async def one_reply() -> list[str] | None:
        found = texts_to_handset(sim)
        return found or None

    assert await eventually(one_reply) == ["Acme support: call 1300 000 000."]
    await asyncio.sleep(0.5)
    assert texts_to_handset(sim) == ["Acme support: call 1300 000 000."]  # no confirmation of the STOP
    opted = (await client.get("/api/v1/opt-outs", params={"channel": "sms"}, headers=auth)).json()["data"]
    assert [e["phone"] for e in opted] == [HANDSET]  # the STOP itself applied


async def test_a_stop_racing_a_queued_sms_fails_it_at_delivery_and_its_confirmation_still_goes(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    import uuid

    from tgo.channels.smpp import SmppClient
    from tgo.channels.sms_types import InboundSms
    from tgo.sms.inbound import apply_inbound
    from tgo.sms.jobs import deliver_sms, install_channel

    sender = await number_sender(client, auth)
    sim = SmscSimulator()
    port = await sim.start()
    await sim.stop()  # the SMSC is down: what is sent now stays queued
    down = SmppClient("127.0.0.1", port, "tgo", "secret", reconnect_backoff=0.01, connect_timeout=0.5)
    install_channel(runtime, down)
    r = await client.post(
        "/v1/sms/messages",
        json={"senderId": sender["id"], "to": HANDSET, "body": "Sale today!"},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    sale = r.json()["id"]

    async def retry_scheduled() -> bool:
        body = (await client.get(f"/v1/sms/messages/{sale}", headers=auth)).json()
        return bool(body["status"] == "queued" and body["errorCode"] == "smsc_unreachable")

    await eventually(retry_scheduled)
    assert await apply_inbound(runtime, InboundSms(source=HANDSET, destination=NUMBER, body="STOP"))
    [confirmation] = [m for m in await outbound_to_handset(client, auth) if m["id"] != sale]
    up = SmscSimulator()
    await up.start(port)
    runtime.on_shutdown(up.stop)
    assert await deliver_sms(runtime, uuid.UUID(sale)) == "failed"
    failed = (await client.get(f"/v1/sms/messages/{sale}", headers=auth)).json()
    assert failed["errorCode"] == "sms_recipient_opted_out"

    async def confirmation_sent() -> bool:
        await deliver_sms(runtime, uuid.UUID(confirmation["id"]))  # None while a worker's attempt holds it
        body = (await client.get(f"/v1/sms/messages/{confirmation['id']}", headers=auth)).json()
        return bool(body["status"] in ("sent", "delivered"))

    await eventually(confirmation_sent)
    assert len(up.accepted) == 1 and up.accepted[0].destination == HANDSET.lstrip("+")
