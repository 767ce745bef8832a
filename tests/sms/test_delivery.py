"""SMS delivery over SMPP against the scripted SMSC simulator: happy path with receipts, throttling,
nacks, no response, dropped connections — every message ends in the right status, and every part is
accepted by the SMSC exactly once."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Clock, MakeKey
from tests.sms.helpers import bearer, create_sender, eventually, message_status, verified_sender, wait_message
from tests.sms.smsc import Script, SmscSimulator
from tgo import events
from tgo.channels.smpp import SmppClient
from tgo.channels.sms_encoding import decode_gsm
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.sms.jobs import decide_sender, deliver_sms, install_channel, sweep

ARABIC = "مرحبا بكم في خدمة الرسائل القصيرة من أكمي. رمز التحقق الخاص بك هو ١٢٣٤٥٦. لا تشاركه مع أي شخص. " * 2
LONG_GSM = "Your Acme order {#1234} has shipped and will arrive tomorrow between 9am and 5pm. " * 3


@pytest.fixture
async def auth(make_key: MakeKey, tenant: Tenant) -> dict[str, str]:
    return bearer(await make_key(tenant, "*"))


async def start_smsc(
    runtime: Runtime, script: Script | None = None, **client_kw: Any
) -> tuple[SmscSimulator, SmppClient]:
    sim = SmscSimulator(script)
    port = await sim.start()
    client = SmppClient(
        "127.0.0.1",
        port,
        "tgo",
        (script or Script()).password,
        response_timeout=client_kw.pop("response_timeout", 0.5),
        throttle_backoff=0.02,
        reconnect_backoff=0.05,
        **client_kw,
    )
    install_channel(runtime, client)
    runtime.on_shutdown(sim.stop)
    return sim, client


async def send(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    sender: dict[str, Any],
    to: str = "+61412345678",
    body: str = "Your code is 123456",
    **extra: Any,
) -> Any:
    r = await client.post(
        "/v1/sms/messages", json={"senderId": sender["id"], "to": to, "body": body, **extra}, headers=auth
    )
    assert r.status_code == 201, r.text
    return r.json()


def reassemble(sim: SmscSimulator, destination: str) -> dict[int, str]:
    """Concatenated parts by UDH reference, decoded back to text."""
    by_ref: dict[int, dict[int, bytes]] = {}
    singles: list[bytes] = []
    coding = {}
    for a in sim.accepted:
        if a.destination != destination:
            continue
        if a.esm_class & 0x40:
            udh = a.short_message[: a.short_message[0] + 1]
            assert udh[1:3] == b"\x00\x03"
            ref, total, number = udh[3], udh[4], udh[5]
            by_ref.setdefault(ref, {})[number] = a.short_message[6:]
            coding[ref] = (a.data_coding, total)
        else:
            singles.append(a.short_message)
    texts = {}
    for ref, parts in by_ref.items():
        data_coding, total = coding[ref]
        assert sorted(parts) == list(range(1, total + 1))
        raw = b"".join(parts[i] for i in sorted(parts))
        texts[ref] = raw.decode("utf-16-be") if data_coding == 8 else decode_gsm(raw)
    for i, raw in enumerate(singles):
        texts[1000 + i] = decode_gsm(raw)
    return texts


async def test_happy_path_arabic_concatenated_with_receipts(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime)
    sender = await verified_sender(client, auth)
    captured = []

    async def capture(session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
        if event_type == events.EventType.SMS_MESSAGE_STATUS_CHANGED:
            captured.append(data["status"])

    runtime.registry.listeners.append(capture)
    try:
        created = await send(client, auth, sender, body=ARABIC)
        assert created["status"] == "queued"
        assert created["encoding"] == "UCS-2"
        assert created["characters"] == len(ARABIC)
        assert created["segments"] == -(-len(ARABIC) // 67)
        done = await wait_message(client, auth, created["id"], "delivered", "undelivered", "failed")
    finally:
        runtime.registry.listeners.remove(capture)
    assert done["status"] == "delivered", done
    assert done["sentAt"] and done["doneAt"]
    assert captured == ["sent", "delivered"]
    assert len(sim.accepted) == created["segments"]
    assert all(a.data_coding == 8 and a.esm_class & 0x40 and a.registered_delivery for a in sim.accepted)
    assert all(a.source == "AcmeAlerts" and a.source_ton == 5 for a in sim.accepted)
    assert list(reassemble(sim, "61412345678").values()) == [ARABIC]
    assert sorted(sim.receipts_acked) == sorted(a.message_id for a in sim.accepted)


async def test_gsm_single_and_long_messages(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime)
    sender = await verified_sender(client, auth)
    short = await send(client, auth, sender, body="Hi [Acme] €5 off ^_^")
    long = await send(client, auth, sender, to="+61412345679", body=LONG_GSM)
    assert (short["encoding"], short["segments"]) == ("GSM-7", 1)
    assert (long["encoding"], long["segments"]) == ("GSM-7", 2)
    for m in (short, long):
        assert (await wait_message(client, auth, m["id"], "delivered", "failed"))["status"] == "delivered"
    assert list(reassemble(sim, "61412345678").values()) == ["Hi [Acme] €5 off ^_^"]
    assert list(reassemble(sim, "61412345679").values()) == [LONG_GSM]


async def test_throttled_submits_back_off_and_go_through_once(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime, Script(throttle_first=4))
    sender = await verified_sender(client, auth)
    ids = [(await send(client, auth, sender, to=f"+6141234567{i}", body=LONG_GSM))["id"] for i in range(3)]
    for mid in ids:
        assert (await wait_message(client, auth, mid, "delivered", "failed"))["status"] == "delivered"
    assert sim.throttled == 4
    assert len(sim.accepted) == 6
    assert len(set(sim.accepted_keys())) == 6  # none twice


async def test_nack_fails_the_message_with_the_smsc_error(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime, Script(nack_destinations={"61412345670"}))
    sender = await verified_sender(client, auth)
    bad = await send(client, auth, sender, to="+61412345670")
    good = await send(client, auth, sender, to="+61412345671")
    failed = await wait_message(client, auth, bad["id"], "failed", "delivered")
    assert failed["status"] == "failed" and failed["errorCode"] == "ESME_RINVDSTADR"
    assert (await wait_message(client, auth, good["id"], "delivered", "failed"))["status"] == "delivered"
    assert [a.destination for a in sim.accepted] == ["61412345671"]


async def test_no_response_rebinds_and_submits_again(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, smpp = await start_smsc(runtime, Script(silent_first=1))
    sender = await verified_sender(client, auth)
    created = await send(client, auth, sender)
    assert (await wait_message(client, auth, created["id"], "delivered", "failed"))["status"] == "delivered"
    assert sim.submits == 2 and len(sim.accepted) == 1
    assert smpp.binds == 2


async def test_dropped_connections_lose_nothing_and_send_nothing_twice(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, smpp = await start_smsc(runtime, Script(drop_on={3, 8, 9, 15}))
    sender = await verified_sender(client, auth)
    messages = [
        await send(client, auth, sender, to=f"+614123456{i:02d}", body=LONG_GSM if i % 2 else "Short one")
        for i in range(12)
    ]
    for m in messages:
        assert (await wait_message(client, auth, m["id"], "delivered", "failed", timeout=20))[
            "status"
        ] == "delivered"
    expected_parts = sum(m["segments"] for m in messages)
    assert len(sim.accepted) == expected_parts
    counts = Counter(sim.accepted_keys())
    assert all(c == 1 for c in counts.values()), counts
    assert smpp.binds >= 3
    for m in messages:
        texts = list(reassemble(sim, m["to"].lstrip("+")).values())
        assert texts == [LONG_GSM if m["segments"] > 1 else "Short one"]


async def test_receipts_set_the_final_status(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    outcomes = {"61412345670": ("UNDELIV", "undelivered"), "61412345671": ("EXPIRED", "undelivered")}
    outcomes["61412345672"] = ("REJECTD", "failed")
    outcomes["61412345673"] = ("DELIVRD", "delivered")
    await start_smsc(runtime, Script(receipt_states={to: state for to, (state, _) in outcomes.items()}))
    sender = await verified_sender(client, auth)
    created = {to: await send(client, auth, sender, to=f"+{to}") for to in outcomes}
    for to, (state, status) in outcomes.items():
        done = await wait_message(client, auth, created[to]["id"], "delivered", "undelivered", "failed")
        assert done["status"] == status
        assert done["errorCode"] == (None if state == "DELIVRD" else state)


async def test_a_receipt_for_an_unknown_message_is_refused_for_later(runtime: Runtime) -> None:
    from tgo.channels.sms_types import Receipt
    from tgo.sms import receipts

    delivery_wait = receipts.RECEIPT_WAIT_SECONDS
    receipts.RECEIPT_WAIT_SECONDS = 0.1
    try:
        batches = receipts.ReceiptBatches(runtime.db)
        assert await batches.apply(Receipt("nope", "DELIVRD")) is False
        assert await batches.apply(Receipt("nope", "ENROUTE")) is True
    finally:
        receipts.RECEIPT_WAIT_SECONDS = delivery_wait


async def test_smsc_outage_keeps_the_message_queued_until_the_sweeper_retries(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, frozen_clock: Clock
) -> None:
    sim = SmscSimulator()
    port = await sim.start()
    await sim.stop()  # the port is closed now: the SMSC is down
    smpp = SmppClient(
        "127.0.0.1", port, "tgo", "secret", response_timeout=0.5, reconnect_backoff=0.01, connect_timeout=0.5
    )
    install_channel(runtime, smpp)
    sender = await create_sender(client, auth)
    await client.post(f"/v1/sms/senders/{sender['id']}/verify", headers=auth)
    frozen_clock.advance(seconds=1)  # the carrier's answer is due (the clock is frozen for the task)
    # Decide it here unless the verification job (in-process worker, same frozen clock) already has.
    assert await decide_sender(runtime, uuid.UUID(sender["id"])) in ("active", None)
    decided = await client.get(f"/v1/sms/senders/{sender['id']}", headers=auth)
    assert decided.json()["status"] == "active"
    created = await send(client, auth, sender)

    async def retry_scheduled() -> object:
        body = await message_status(client, auth, created["id"])
        return body if body["errorCode"] == "smsc_unreachable" else None

    queued = await eventually(retry_scheduled)
    assert queued["status"] == "queued"
    assert (
        await deliver_sms(runtime, uuid.UUID(created["id"])) == "queued"
    )  # not due yet: tried again, still down
    # The SMSC comes back on the same port; the sweeper re-publishes the message once its retry is due.
    sim2 = SmscSimulator()
    await sim2.start(port)
    runtime.on_shutdown(sim2.stop)
    frozen_clock.advance(seconds=3600)
    assert (await sweep(runtime))["messages"] == 1
    done = await wait_message(client, auth, created["id"], "delivered", "failed")
    assert done["status"] == "delivered" and len(sim2.accepted) == 1
