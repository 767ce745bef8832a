"""Interop with an SMPP implementation we did not write: the Jasmin SMS gateway 0.11.1 from PyPI, in its
own virtual environment (bench/jasmin/setup.sh), on 127.0.0.1 with the machine's RabbitMQ (a vhost of its
own) and Redis (a db index of its own). Our client binds as a transceiver to Jasmin's SMPP server and gets
accepted submit_sm_resp with message ids; Jasmin routes the parts to our SMSC simulator unchanged.
Jasmin 0.11.1 never returns delivery receipts to SMPP clients (fixed upstream after the release), so
receipts are proven against the simulator in test_delivery.py."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import MakeKey
from tests.sms.helpers import bearer, verified_sender, wait_message
from tests.sms.smsc import Script, SmscSimulator
from tgo.channels.smpp import SmppClient
from tgo.channels.sms_encoding import decode_gsm, split
from tgo.channels.sms_types import OutboundSms
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.sms.jobs import install_channel

if TYPE_CHECKING:
    from bench.jasmin.gateway import JasminGateway

ROOT = Path(__file__).resolve().parents[2]
ARABIC = "عزيزي العميل، تم شحن طلبك رقم ٤٥٦٧ وسيصل غدًا بين الساعة التاسعة صباحًا والخامسة مساءً. شكرًا لك." * 2
LONG_GSM = "Your Acme order {#1234} has shipped and will arrive tomorrow between 9am and 5pm. " * 3


def _gateway_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "tgo_bench_jasmin_gateway", ROOT / "bench/jasmin/gateway.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ThreadedSmsc:
    """The SMSC simulator on a loop of its own, so it outlives single tests (Jasmin's connector binds to it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim = SmscSimulator(Script(password="jasmin"))
        self.port = asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def jasmin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JasminGateway, ThreadedSmsc]]:
    gw_module = _gateway_module()
    smsc = ThreadedSmsc()
    gw = gw_module.JasminGateway(tmp_path_factory.mktemp("jasmin"))
    try:
        gw.start()
        gw.provision("tgo", "secret", smsc=("127.0.0.1", smsc.port))
        deadline = time.monotonic() + 30
        while (
            smsc.sim.binds == 0 and time.monotonic() < deadline
        ):  # Jasmin's connector binds to the simulator
            time.sleep(0.1)
        assert smsc.sim.binds >= 1, gw.log_tail()
        yield gw, smsc
    finally:
        gw.stop()
        smsc.close()


async def _wait_forwarded(smsc: ThreadedSmsc, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(smsc.sim.accepted) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def test_our_client_binds_to_jasmin_and_gets_message_ids(
    jasmin: tuple[JasminGateway, ThreadedSmsc],
) -> None:
    gw, smsc = jasmin
    before = len(smsc.sim.accepted)
    client = SmppClient("127.0.0.1", gw.smpp_port, "tgo", "secret", response_timeout=10)
    try:
        results = []
        for body, to in [
            ("Hello from TGO [1] €", "+61412345601"),
            (LONG_GSM, "+61412345602"),
            (ARABIC, "+61412345603"),
        ]:
            result = await client.submit(
                OutboundSms(str(uuid.uuid4()), "AcmeAlerts", "alphanumeric_id", to, body, 42)
            )
            assert result.ok, result
            assert [p.number for p in result.accepted] == list(range(1, len(split(body)) + 1))
            results.append((body, to, result))
        assert client.binds == 1 and client.bound
    finally:
        await client.close()
    ids = [p.smsc_message_id for _, _, r in results for p in r.accepted]
    assert len(set(ids)) == len(ids) == 1 + 2 + 3
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in ids), ids  # Jasmin's UUID message ids
    log = gw.log()
    assert all(f"[msgid:{i}]" in log for i in ids)  # Jasmin routed every part (SMS-MT log lines)
    # Jasmin hands the parts to its SMSC connector as we sent them: UDH, data coding, text.
    await _wait_forwarded(smsc, before + len(ids))
    forwarded = smsc.sim.accepted[before:]
    assert len(forwarded) == len(ids), gw.log_tail()
    for body, to, _ in results:
        parts = [a for a in forwarded if a.destination == to.lstrip("+")]
        if len(parts) == 1:
            assert decode_gsm(parts[0].short_message) == body
            continue
        parts.sort(key=lambda a: a.short_message[5])
        assert all(a.esm_class & 0x40 and a.short_message[:3] == b"\x05\x00\x03" for a in parts)
        payload = b"".join(a.short_message[6:] for a in parts)
        text = payload.decode("utf-16-be") if parts[0].data_coding == 8 else decode_gsm(payload)
        assert text == body


async def test_wrong_password_is_refused_by_jasmin(jasmin: tuple[JasminGateway, ThreadedSmsc]) -> None:
    gw, _ = jasmin
    client = SmppClient("127.0.0.1", gw.smpp_port, "tgo", "wrong", response_timeout=10)
    try:
        result = await client.submit(OutboundSms("x", "AcmeAlerts", "alphanumeric_id", "+61412345678", "hi"))
    finally:
        await client.close()
    assert not result.ok and result.error_code == "bind_failed" and result.retryable


async def test_sms_api_to_jasmin_end_to_end(
    jasmin: tuple[JasminGateway, ThreadedSmsc],
    client: httpx.AsyncClient,
    runtime: Runtime,
    make_key: MakeKey,
    tenant: Tenant,
) -> None:
    gw, _ = jasmin
    install_channel(runtime, SmppClient("127.0.0.1", gw.smpp_port, "tgo", "secret", response_timeout=10))
    auth = bearer(await make_key(tenant, "*"))
    sender = await verified_sender(client, auth)
    r = await client.post(
        "/v1/sms/messages",
        json={"senderId": sender["id"], "to": "+61412345678", "body": ARABIC},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["encoding"] == "UCS-2" and created["segments"] == 3
    sent = await wait_message(client, auth, created["id"], "sent", "failed", timeout=20)
    assert sent["status"] == "sent", sent  # accepted by Jasmin; 0.11.1 sends no receipt back
    from sqlalchemy import select

    from tgo.models.sms import SmsMessagePart

    async with runtime.db.session_scope() as s:
        parts = (
            await s.scalars(
                select(SmsMessagePart).where(SmsMessagePart.message_id == uuid.UUID(created["id"]))
            )
        ).all()
    assert sorted(p.part_number for p in parts) == [1, 2, 3]
    assert all(f"[msgid:{p.smsc_message_id}]" in gw.log() for p in parts)
