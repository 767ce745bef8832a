"""SMS delivery receipts applied in batches (issue 16 item 4): receipts arriving together are recorded in one
transaction, every message they settle moves once with one event, a concatenated message is settled by its
parts' receipts together, a receipt redelivered (in the same batch or later) changes nothing, and one whose
part is unknown is refused for later without holding back the others."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.sms.helpers import verified_sender, wait_message
from tests.sms.smsc import Script
from tests.sms.test_delivery import LONG_GSM, auth, send, start_smsc
from tgo import events
from tgo.channels.sms_types import Receipt
from tgo.runtime import Runtime
from tgo.sms import receipts as receipts_module
from tgo.sms.receipts import ReceiptBatches

__all__ = ["auth"]  # the fixture, shared with the SMS delivery tests

SINGLES = 30


async def test_receipts_arriving_together_are_applied_in_one_transaction(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, _ = await start_smsc(runtime, Script(receipts=False))  # the receipts are this test's to send
    sender = await verified_sender(client, auth)
    singles = [await send(client, auth, sender, to=f"+614123{i:05d}") for i in range(SINGLES)]
    long = await send(client, auth, sender, to="+61499999999", body=LONG_GSM)
    assert long["segments"] >= 2
    for m in [*singles, long]:
        assert (await wait_message(client, auth, m["id"], "sent"))["status"] == "sent"
    smsc_ids: dict[str, list[str]] = {}
    for a in sim.accepted:
        smsc_ids.setdefault("+" + a.destination, []).append(a.message_id)
    changes: Counter[str] = Counter()

    async def capture(session: Any, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
        if event_type == events.EventType.SMS_MESSAGE_STATUS_CHANGED:
            changes[f"{data['id']}:{data['status']}"] += 1

    runtime.registry.listeners.append(capture)
    try:
        batch = [Receipt(smsc_ids[m["to"]][0], "DELIVRD", "000") for m in singles]
        parts = smsc_ids[long["to"]]
        assert len(parts) == long["segments"]
        # Its second part undelivered (the others delivered): the message is undelivered.
        batch += [Receipt(p, "UNDELIV" if i == 1 else "DELIVRD", "001") for i, p in enumerate(parts)]
        batch.append(Receipt(smsc_ids[singles[0]["to"]][0], "DELIVRD", "000"))  # redelivered, same batch
        batches = ReceiptBatches(runtime.db)
        assert await asyncio.gather(*(batches.apply(r) for r in batch)) == [True] * len(batch)
        assert batches.batches == 1  # every receipt of the burst in one transaction
        for m in singles:
            done = await wait_message(client, auth, m["id"], "delivered", "undelivered", "failed")
            assert (done["status"], done["errorCode"]) == ("delivered", None)
        done = await wait_message(client, auth, long["id"], "delivered", "undelivered", "failed")
        assert (done["status"], done["errorCode"]) == ("undelivered", "UNDELIV")
        expected = {f"{m['id']}:delivered": 1 for m in singles} | {f"{long['id']}:undelivered": 1}
        assert dict(changes) == expected
        # The SMSC redelivering the lot, with a receipt for a message nobody here sent: the known ones are
        # acknowledged at once (nothing moves, no event), the unknown one is refused once its wait is over.
        monkeypatch.setattr(receipts_module, "RECEIPT_WAIT_SECONDS", 0.5)
        again = ReceiptBatches(runtime.db)
        finished: list[str] = []

        async def apply(receipt: Receipt) -> bool:
            ok = await again.apply(receipt)
            finished.append(receipt.smsc_message_id)
            return ok

        results = await asyncio.gather(apply(Receipt("unknown-to-us", "DELIVRD")), *(apply(r) for r in batch))
        assert results == [False] + [True] * len(batch)
        assert finished[-1] == "unknown-to-us"
        assert dict(changes) == expected
    finally:
        runtime.registry.listeners.remove(capture)
