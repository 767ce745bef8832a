"""SMS in batches (issue 16 item 4): sends that arrive together share one transaction (group commit) and one
delivery job; a batch is claimed in one statement, submitted through the SMPP window at once and its results
recorded together — each message still gets its own outcome (opt-outs, multipart, failures), a duplicate job
claims nothing, and a batch stopped mid-way keeps what the SMSC already answered."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update

from tests.sms.helpers import eventually, verified_sender, wait_message
from tests.sms.smsc import Script
from tests.sms.test_delivery import LONG_GSM, auth, send, start_smsc
from tgo.kit.lazy import Lazy
from tgo.messages.pacing import HeldBudget
from tgo.models.sms import SmsMessage
from tgo.optouts import service as optouts
from tgo.runtime import Runtime
from tgo.sms.accept_batch import build_sms_batcher
from tgo.sms.delivery import deliver_batch
from tgo.sms.repository import SmsOperatorRepository
from tgo.sms.schemas import SmsMessageCreate
from tgo.sms.service import check_message

__all__ = ["auth"]  # the fixture, shared with the SMS delivery tests


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL statements the runtime's engine runs meanwhile."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = runtime.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def queue(runtime: Runtime, tenant_id: int, sender_id: str, to: str, body: str) -> uuid.UUID:
    """A queued SMS written directly (no delivery job published): the test delivers it."""
    async with runtime.db.session_scope() as session:
        message = await check_message(
            session, tenant_id, SmsMessageCreate(sender_id=sender_id, to=to, body=body)
        )
        message.tenant_id = tenant_id
        session.add(message)
    return message.id


async def parts_by_message(runtime: Runtime, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[int]]:
    async with runtime.db.session_scope() as session:
        found = await SmsOperatorRepository(session).parts_of(ids)
    return {message_id: [p.part_number for p in parts] for message_id, parts in found.items()}


async def test_sends_arriving_together_are_written_in_one_transaction_and_each_submitted_once(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime)
    sender = await verified_sender(client, auth)
    # A window long enough that the concurrent sends below meet in the same batch.
    batcher = build_sms_batcher(runtime.db, window_ms=200, max_batch=64)
    runtime.sms_batcher = Lazy(lambda: batcher)
    phones = [f"+614123456{i:02d}" for i in range(12)]
    created = await asyncio.gather(*(send(client, auth, sender, to=p) for p in phones))
    assert all(c["status"] == "queued" for c in created)
    assert 1 <= batcher.batches < len(phones), batcher.batches  # not one transaction per send
    for c in created:  # every one answered only after its row committed: readable, then delivered
        await wait_message(client, auth, c["id"], "delivered")
    assert Counter(a.destination for a in sim.accepted) == Counter(p.lstrip("+") for p in phones)


async def test_a_batch_is_claimed_in_one_statement_each_message_with_its_own_outcome(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime, Script(nack_destinations={"61412345602"}))
    sender = await verified_sender(client, auth)
    tenant_id = await _tenant_of(runtime, sender["id"])
    ok = await queue(runtime, tenant_id, sender["id"], "+61412345601", "Your code is 1")
    nacked = await queue(runtime, tenant_id, sender["id"], "+61412345602", "Your code is 2")
    stopped = await queue(runtime, tenant_id, sender["id"], "+61412345603", "Your code is 3")
    long = await queue(runtime, tenant_id, sender["id"], "+61412345604", LONG_GSM)
    async with runtime.db.session_scope() as session:  # a STOP after the message was queued
        await optouts.opt_out(session, tenant_id, "+61412345603", channel="sms", source="keyword")
    ids = [ok, nacked, stopped, long]
    with statements(runtime) as seen:
        outcome = await deliver_batch(runtime, ids + ids)  # a duplicate id in the job changes nothing
    claims = [s for s in seen if s.startswith("UPDATE sms_messages SET attempts=")]
    assert len(claims) == 1, claims
    assert outcome[ok] == "sent" and outcome[long] == "sent"
    assert outcome[nacked] == "failed" and outcome[stopped] == "failed"
    assert (await wait_message(client, auth, str(nacked), "failed"))["errorCode"] == "ESME_RINVDSTADR"
    assert (await wait_message(client, auth, str(stopped), "failed"))[
        "errorCode"
    ] == "sms_recipient_opted_out"
    await wait_message(client, auth, str(ok), "delivered")
    await wait_message(client, auth, str(long), "delivered")
    parts = await parts_by_message(runtime, ids)
    assert parts[ok] == [1] and parts[long] == [1, 2] and nacked not in parts and stopped not in parts
    assert "61412345603" not in {a.destination for a in sim.accepted}  # the opted-out one never went
    submitted = len(sim.accepted)
    assert await deliver_batch(runtime, ids) == {}  # a duplicate job: nothing left to claim
    assert len(sim.accepted) == submitted


async def test_a_batch_stopped_mid_way_records_what_the_smsc_answered_and_never_resubmits_it(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    # One submit in flight at a time, each answered after 0.3 s: the batch is stopped while the second waits.
    sim, _ = await start_smsc(runtime, Script(receipts=False, answer_delay=0.3), window=1, response_timeout=5)
    sender = await verified_sender(client, auth)
    tenant_id = await _tenant_of(runtime, sender["id"])
    ids = [
        await queue(runtime, tenant_id, sender["id"], f"+6141234560{i}", f"Your code is {i}")
        for i in range(3)
    ]
    job = asyncio.create_task(deliver_batch(runtime, ids))
    await eventually(lambda: _async(len(sim.accepted) >= 2), timeout=5, every=0.01)
    job.cancel()
    await asyncio.gather(job, return_exceptions=True)
    async with runtime.db.session_scope() as session:
        rows = {
            m.id: m
            for m in await session.scalars(
                select(SmsMessage).where(SmsMessage.id.in_(ids)).execution_options(populate_existing=True)
            )
        }
    answered = [i for i in ids if rows[i].status == "sent"]
    assert len(answered) == 1, {i: rows[i].status for i in ids}  # the first: answered before the stop
    first = answered[0]
    assert (await parts_by_message(runtime, ids)) == {first: [1]}
    # Their claims expire; the next attempt submits the others, never the one the SMSC answered.
    async with runtime.db.session_scope() as session:
        await session.execute(update(SmsMessage).where(SmsMessage.id.in_(ids)).values(claimed_until=None))
    after = await deliver_batch(runtime, ids)
    assert first not in after and all(after[i] == "sent" for i in ids if i != first)
    destination = rows[first].to.lstrip("+")
    assert [a.destination for a in sim.accepted].count(destination) == 1


async def _async(value: bool) -> bool:
    return value


async def _tenant_of(runtime: Runtime, sender_id: str) -> int:
    async with runtime.db.session_scope() as session:
        sender = await SmsOperatorRepository(session).sender(uuid.UUID(sender_id))
    assert sender is not None
    return sender.tenant_id


async def test_a_process_holds_at_most_its_budget_of_claims_and_a_stopping_one_claims_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime, Script(receipts=False))
    sender = await verified_sender(client, auth)
    tenant_id = await _tenant_of(runtime, sender["id"])
    held = HeldBudget(2)
    runtime.sms_held = Lazy(lambda: held)
    ids = [
        await queue(runtime, tenant_id, sender["id"], f"+6141234560{i}", f"Your code is {i}")
        for i in range(5)
    ]
    with statements(runtime) as seen:
        outcome = await deliver_batch(runtime, ids)
    claims = [s for s in seen if s.startswith("UPDATE sms_messages SET attempts=")]
    assert len(claims) == 3  # 2 + 2 + 1: never more than the budget claimed at once
    assert outcome == dict.fromkeys(ids, "sent") and len(sim.accepted) == 5
    assert held.in_use == 0
    later = [await queue(runtime, tenant_id, sender["id"], "+61412345609", "Your code is 9")]
    await held.stop()  # the worker is stopping: waiting jobs give up before they claim
    assert await deliver_batch(runtime, later) == {}
    async with runtime.db.session_scope() as session:
        message = await SmsOperatorRepository(session).message(later[0])
    assert message is not None and message.status == "queued" and message.attempts == 0  # the sweeper's


async def test_the_send_reads_its_sender_from_a_cache_that_a_suspension_drops_at_once(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    from tgo.sms.service import suspend_sender

    await start_smsc(runtime, Script(receipts=False))
    sender = await verified_sender(client, auth)
    cache = runtime.sms_sender_cache.get().senders
    await send(client, auth, sender)
    hits = cache.hits
    await send(client, auth, sender)
    assert cache.hits == hits + 1  # the second send read no sender row
    async with runtime.db.session_scope() as session:
        await suspend_sender(session, sender["id"])
    r = await client.post(
        "/v1/sms/messages", json={"senderId": sender["id"], "to": "+61412345678", "body": "x"}, headers=auth
    )
    assert r.status_code == 422 and r.json()["code"] == "sms_sender_not_active", r.text


async def test_results_are_recorded_once_the_database_answers_again(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from tgo.sms import delivery

    sim, _ = await start_smsc(runtime, Script(receipts=False))
    sender = await verified_sender(client, auth)
    tenant_id = await _tenant_of(runtime, sender["id"])
    ids = [await queue(runtime, tenant_id, sender["id"], f"+6141234560{i}", f"Code {i}") for i in range(2)]
    record_once = delivery._record_once
    calls = 0

    async def unreachable_once(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # the database drops out just as the SMSC's answers are to be recorded
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database restarting"))
        await record_once(*args)

    monkeypatch.setattr(delivery, "_record_once", unreachable_once)
    monkeypatch.setattr(delivery, "RECORD_RETRY_DELAYS", (0.01,))
    assert await deliver_batch(runtime, ids) == dict.fromkeys(ids, "sent")
    assert calls == 2 and len(sim.accepted) == 2
    assert (await parts_by_message(runtime, ids)) == {i: [1] for i in ids}
