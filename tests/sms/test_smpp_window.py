"""SMPP windowing (issue 16 item 4) against the scripted SMSC simulator: several submit_sm in flight per bind,
each submit_sm_resp matched to its submit by sequence number, throttling still pausing the bind, several
binds, and an SMSC that answers only part of a window: the rest are re-submitted once, never twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.sms.helpers import verified_sender, wait_message
from tests.sms.smsc import Script, SmscSimulator
from tests.sms.test_delivery import auth, send, start_smsc
from tgo.channels.smpp import SmppClient, SmppPool, smpp_channel
from tgo.channels.sms_types import OutboundSms, Receipt, SubmitResult
from tgo.config import Settings
from tgo.runtime import Runtime
from tgo.sms.jobs import default_channel, sweep
from tgo.wiring import build_runtime

__all__ = ["auth"]  # the fixture, shared with the SMS delivery tests


def sms(i: int) -> OutboundSms:
    return OutboundSms(
        message_id=f"sms-{i}",
        source="Acme",
        source_type="alphanumeric_id",
        destination=f"+614123456{i:02d}",
        body=f"Your code is {100000 + i}",
    )


async def simulator(script: Script) -> SmscSimulator:
    sim = SmscSimulator(script)
    await sim.start()
    return sim


def client(sim: SmscSimulator, window: int, **options: float) -> SmppClient:
    return SmppClient(
        "127.0.0.1",
        sim.port,
        "tgo",
        sim.script.password,
        window=window,
        response_timeout=options.pop("response_timeout", 2.0),
        throttle_backoff=0.02,
        reconnect_backoff=0.02,
        **options,  # type: ignore[arg-type]
    )


async def submit_all(channel: SmppClient | SmppPool, n: int) -> list[SubmitResult]:
    return list(await asyncio.gather(*(channel.submit(sms(i)) for i in range(n))))


def destination_of(sim: SmscSimulator) -> dict[str, str]:
    return {a.message_id: a.destination for a in sim.accepted}


async def test_a_window_of_submits_is_in_flight_at_once_each_answer_matched_by_sequence() -> None:
    sim = await simulator(Script(receipts=False, answer_delay=0.2))
    smpp = client(sim, window=4)
    try:
        started = time.monotonic()
        results = await submit_all(smpp, 12)
        took = time.monotonic() - started
    finally:
        await smpp.close()
        await sim.stop()
    assert all(r.ok for r in results), results
    assert sim.max_in_flight == 4  # the window is full, and never more
    assert took < 12 * 0.2 / 2, f"{took:.2f}s: the submits went one by one"
    # Each submit got the message id the SMSC gave that very submit (answers arrive in any order).
    by_id = destination_of(sim)
    for i, result in enumerate(results):
        assert [p.number for p in result.accepted] == [1]
        assert by_id[result.accepted[0].smsc_message_id] == sms(i).destination.lstrip("+")
    assert len(sim.accepted) == 12 and smpp.binds == 1


async def test_a_window_of_one_sends_one_at_a_time() -> None:
    sim = await simulator(Script(receipts=False, answer_delay=0.05))
    smpp = client(sim, window=1)
    try:
        assert all(r.ok for r in await submit_all(smpp, 5))
    finally:
        await smpp.close()
        await sim.stop()
    assert sim.max_in_flight == 1


async def test_throttling_pauses_the_window_and_every_submit_goes_once() -> None:
    sim = await simulator(Script(receipts=False, throttle_first=3, answer_delay=0.02))
    smpp = client(sim, window=4)
    try:
        results = await submit_all(smpp, 8)
    finally:
        await smpp.close()
        await sim.stop()
    assert all(r.ok for r in results), results
    assert sim.throttled == 3 and sim.submits == 8 + 3
    assert Counter(a.destination for a in sim.accepted) == Counter(
        sms(i).destination.lstrip("+") for i in range(8)
    )


async def test_an_smsc_answering_part_of_a_window_gets_the_rest_once_more() -> None:
    # Submits 2 and 4 of the first window are never answered: the bind times out and is replaced, and
    # those two go again (submits 5 and 6) on the new bind.
    sim = await simulator(Script(receipts=False, silent_on={2, 4}))
    smpp = client(sim, window=4, response_timeout=0.3)
    try:
        results = await submit_all(smpp, 4)
    finally:
        await smpp.close()
        await sim.stop()
    assert all(r.ok for r in results), results
    assert sim.submits == 6 and smpp.binds == 2
    assert sorted(a.destination for a in sim.accepted) == sorted(
        sms(i).destination.lstrip("+") for i in range(4)
    )


async def test_a_part_unanswered_twice_fails_and_is_never_submitted_a_third_time() -> None:
    sim = await simulator(Script(receipts=False, silent_on={2, 4, 5, 6}))
    smpp = client(sim, window=4, response_timeout=0.3)
    try:
        results = await submit_all(smpp, 4)
        await asyncio.sleep(0.5)  # nothing more goes out afterwards
    finally:
        await smpp.close()
        await sim.stop()
    failed = [r for r in results if not r.ok]
    assert len(failed) == 2 and len(sim.accepted) == 2
    assert {(r.error_code, r.retryable) for r in failed} == {("smsc_no_response", False)}
    assert sim.submits == 6


async def test_several_binds_share_the_submits_and_receipts_come_on_any() -> None:
    sim = await simulator(Script(answer_delay=0.2, receipt_delay=0.3))
    pool = smpp_channel("127.0.0.1", sim.port, "tgo", sim.script.password, window=2, binds=2)
    assert isinstance(pool, SmppPool)
    receipts: list[Receipt] = []

    async def on_receipt(receipt: Receipt) -> bool:
        receipts.append(receipt)
        return True

    pool.set_receipt_handler(on_receipt)
    try:
        results = await submit_all(pool, 8)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while len(receipts) < 8 and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await pool.close()
        await sim.stop()
    assert all(r.ok for r in results), results
    assert sim.binds == 2 and pool.binds == 2
    assert sim.max_in_flight == 4  # two binds, a window of two each
    assert sorted(r.smsc_message_id for r in receipts) == sorted(a.message_id for a in sim.accepted)


async def test_the_settings_choose_the_window_and_the_binds(settings: Settings) -> None:
    runtime = build_runtime(
        settings.model_copy(update={"smpp_host": "127.0.0.1", "smpp_window": 3, "smpp_binds": 2})
    )
    try:
        channel = default_channel(runtime)
        assert isinstance(channel, SmppPool)
        assert [c.window for c in channel.clients] == [3, 3]
        single = default_channel(build_runtime(settings.model_copy(update={"smpp_host": "127.0.0.1"})))
        assert isinstance(single, SmppClient) and single.window == 10
    finally:
        await runtime.close()


async def test_a_message_unanswered_twice_fails_and_no_retry_or_sweep_submits_it_again(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime, Script(silent_first=2, receipts=False))
    sender = await verified_sender(client, auth)
    created = await send(client, auth, sender)
    failed = await wait_message(client, auth, created["id"], "failed", "delivered")
    assert (failed["status"], failed["errorCode"]) == ("failed", "smsc_no_response")
    await sweep(runtime)
    await asyncio.sleep(0.5)
    assert sim.submits == 2 and sim.accepted == []
