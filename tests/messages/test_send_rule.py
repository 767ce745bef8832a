"""One "may this number send" rule (issue 14.5): the sender number's ``can_send`` (SPEC section 4) and the
send path's sender checks (SPEC section 5) come from ``senders.state.send_refusal``. For every status
combination the API's ``can_send`` and the answer to a send agree, and match this table."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.messages.conftest import RECIPIENT
from tgo.models import SenderNumber, Tenant
from tgo.runtime import Runtime
from tgo.senders.send_cache import publish_sender_change
from tgo.senders.state import SenderStatus as S
from tgo.senders.state import SendRefusal, can_send, send_refusal
from tgo.senders.state import VerificationStatus as V

NOT_ACTIVE, NOT_VERIFIED = SendRefusal.SENDER_NOT_ACTIVE, SendRefusal.OWNER_NOT_VERIFIED
EXPECTED: dict[tuple[S, V], SendRefusal | None] = {
    (S.ACTIVE, V.VERIFIED): None,
    (S.ACTIVE, V.PENDING_ACCOUNT_VERIFICATION): NOT_VERIFIED,
    (S.ACTIVE, V.PENDING_OTP): NOT_VERIFIED,
    (S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_ACCOUNT_VERIFICATION): NOT_VERIFIED,
    (S.PENDING_ACCOUNT_VERIFICATION, V.PENDING_OTP): NOT_VERIFIED,
    # Not reachable through the state machine; can_send is false, so the send path refuses it too.
    (S.PENDING_ACCOUNT_VERIFICATION, V.VERIFIED): NOT_ACTIVE,
    **{(s, v): NOT_ACTIVE for s in (S.PENDING_VERIFICATION, S.REJECTED, S.SUSPENDED) for v in V},
}
COMBINATIONS = list(itertools.product(S, V))


def test_the_table_covers_every_combination() -> None:
    assert set(EXPECTED) == set(COMBINATIONS)


@pytest.mark.parametrize(("status", "verification"), COMBINATIONS, ids=[f"{s}+{v}" for s, v in COMBINATIONS])
def test_the_rule(status: S, verification: V) -> None:
    number = SenderNumber(status=status.value, verification_status=verification.value)
    assert send_refusal(status.value, verification.value) == EXPECTED[(status, verification)]
    assert can_send(number) is (EXPECTED[(status, verification)] is None)


async def test_the_api_and_the_send_path_agree_for_every_combination(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime, tenant: Tenant
) -> None:
    seen: dict[tuple[S, V], tuple[Any, Any]] = {}
    for status, verification in COMBINATIONS:
        async with runtime.db.session_scope() as s:
            await s.execute(
                update(SenderNumber)
                .where(SenderNumber.id == sender["id"])
                .values(status=status.value, verification_status=verification.value)
            )
            # Written behind the state machine's back: announce it as senders.state.apply does.
            await publish_sender_change(s, tenant.id)
        shown = (await client.get(f"/api/v1/sender-numbers/{sender['id']}", headers=headers)).json()
        r = await client.post(
            "/api/v1/messages",
            json={"sender_number_id": sender["id"], "to_phone": RECIPIENT, "type": "text", "content": "hi"},
            headers=headers,
        )
        code = None if r.status_code == 201 else r.json()["code"]
        assert r.status_code in (201, 422), r.text
        seen[(status, verification)] = (shown["can_send"], code)
    assert seen == {k: (v is None, v and v.value) for k, v in EXPECTED.items()}
