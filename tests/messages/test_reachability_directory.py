"""The reachability directory (issue 15 item 3): Connect pushes every change of what decides reachability
(account created, phone verified, account verified, disabled, blocked/unblocked) as a versioned snapshot; the
send path and ``GET /contacts/lookup`` answer from the Business side's copy without a Connect call, and ask
Connect live only for a phone the directory has never seen or one that is catching up (a version gap)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import delete, select, update

from tests.conftest import MakeKey, MakeTenant
from tests.connect.test_events import signed
from tests.fixtures.connect import ConnectHelper
from tests.messages.conftest import OWNER, RECIPIENT
from tgo.channels.connect_protocol import EVENTS_PATH
from tgo.channels.connect_types import EVENT_ACCOUNT_REACHABILITY_CHANGED, Reachability
from tgo.kit.clock import now
from tgo.models import RecipientReachability
from tgo.reachability.sync import sync_directory
from tgo.runtime import Runtime

OTHER_OWNER = "+201001187199"


class LiveLookups:
    """Counts the runtime's live Connect lookups (the round trip the directory saves)."""

    def __init__(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runtime = runtime
        client = runtime.connect.get()
        original = client.lookup
        self.calls: list[tuple[str, str | None]] = []

        async def counting(phone: str, sender_phone: str | None = None) -> Any:
            self.calls.append((phone, sender_phone))
            return await original(phone, sender_phone)

        monkeypatch.setattr(client, "lookup", counting)


@pytest.fixture
def live(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> LiveLookups:
    return LiveLookups(runtime, monkeypatch)


def text_to(phone: str, sender_phone: str = OWNER) -> dict[str, str]:
    return {"sender_phone": sender_phone, "to_phone": phone, "type": "text", "content": "hi"}


async def _entry(runtime: Runtime, phone: str) -> RecipientReachability | None:
    async with runtime.db.session_scope() as s:
        return await s.scalar(select(RecipientReachability).where(RecipientReachability.phone == phone))


async def test_a_disabled_recipient_is_refused_from_the_directory_without_a_connect_call(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, connect: ConnectHelper, live: LiveLookups
) -> None:
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 201, r.text
    await connect.client.disable_account(RECIPIENT)
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "recipient_unreachable", r.text
    assert r.json()["reason_code"] == "account_disabled"
    await connect.client.disable_account(RECIPIENT, False)
    await connect.client.set_phone_verified(RECIPIENT, False)
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 422 and r.json()["reason_code"] == "phone_not_verified", r.text
    assert live.calls == []


async def test_a_block_refuses_only_that_sender_and_leaks_to_no_other_tenant(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: Any,
    connect: ConnectHelper,
    live: LiveLookups,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    # Another tenant with its own proven sender number.
    other = {"X-Api-Key": await make_key(await make_tenant("globex"))}
    await connect.account(OTHER_OWNER, verified=True)
    num = (await client.post("/api/v1/sender-numbers", json={"phone": OTHER_OWNER}, headers=other)).json()
    otp = await connect.otp(OTHER_OWNER)
    r = await client.post(f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": otp}, headers=other)
    assert r.json()["can_send"] is True, r.text

    await connect.client.block(RECIPIENT, OWNER)
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 422 and r.json()["reason_code"] == "blocked_sender", r.text
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT, OTHER_OWNER), headers=other)
    assert r.status_code == 201, r.text
    looked = await client.get(
        "/api/v1/contacts/lookup", params={"phone": RECIPIENT, "sender_phone": OTHER_OWNER}, headers=other
    )
    assert looked.status_code == 200 and looked.json()["reason_code"] == "ok", looked.text
    looked = await client.get(
        "/api/v1/contacts/lookup", params={"phone": RECIPIENT, "sender_phone": OWNER}, headers=headers
    )
    assert looked.json()["reason_code"] == "blocked_sender" and looked.json()["can_receive"] is False
    await connect.client.unblock(RECIPIENT, OWNER)
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 201, r.text
    assert live.calls == []


async def test_the_directory_answers_as_connect_does(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, connect: ConnectHelper, runtime: Runtime
) -> None:
    await connect.client.block(RECIPIENT, OWNER)
    for sender_phone in (None, OWNER):
        live = await runtime.connect.get().lookup(RECIPIENT, sender_phone)
        assert await runtime.reachability.get().lookup(RECIPIENT, sender_phone) == live


async def test_a_phone_the_directory_never_saw_is_looked_up_live(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, live: LiveLookups
) -> None:
    r = await client.post("/api/v1/messages", json=text_to("+201010000077"), headers=headers)
    assert r.status_code == 422 and r.json()["reason_code"] == "not_found", r.text
    assert live.calls == [("+201010000077", OWNER)]


async def test_forged_replayed_and_late_events_change_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime, live: LiveLookups
) -> None:
    entry = await _entry(runtime, RECIPIENT)
    assert entry is not None and not entry.disabled
    disabled = Reachability(
        phone=RECIPIENT,
        version=entry.version + 1,
        recipient_id=entry.recipient_id,
        disabled=True,
        phone_verified_at=entry.phone_verified_at,
        account_verified=entry.account_verified,
        blocked_senders=[],
    )
    event = {
        "id": uuid.uuid4().hex,
        "type": EVENT_ACCOUNT_REACHABILITY_CHANGED,
        "created_at": now().isoformat(),
        "data": msgspec.to_builtins(disabled),
    }
    body, forged_headers = signed(b"not-the-secret", event)
    r = await client.post(EVENTS_PATH, content=body, headers=forged_headers)
    assert r.status_code == 401
    assert (
        await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    ).status_code == 201

    # Signed by Connect: applied once; the same event again is a duplicate.
    body, good_headers = signed(runtime.settings.secret(), event)
    assert (await client.post(EVENTS_PATH, content=body, headers=good_headers)).json()["status"] == "applied"
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 422 and r.json()["reason_code"] == "account_disabled", r.text
    assert (await client.post(EVENTS_PATH, content=body, headers=good_headers)).json()[
        "status"
    ] == "duplicate"

    # An older snapshot arriving late (a new event id, properly signed) does not go back in time.
    late = {
        **event,
        "id": uuid.uuid4().hex,
        "data": {**event["data"], "version": entry.version, "disabled": False},
    }
    body, late_headers = signed(runtime.settings.secret(), late)
    assert (await client.post(EVENTS_PATH, content=body, headers=late_headers)).status_code == 200
    r = await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    assert r.status_code == 422 and r.json()["reason_code"] == "account_disabled", r.text
    assert live.calls == []


async def test_a_version_gap_is_catching_up_until_a_resync(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime, live: LiveLookups
) -> None:
    entry = await _entry(runtime, RECIPIENT)
    assert entry is not None
    snapshot = msgspec.to_builtins(
        Reachability(
            phone=RECIPIENT,
            version=entry.version + 2,  # one event went missing
            recipient_id=entry.recipient_id,
            disabled=False,
            phone_verified_at=entry.phone_verified_at,
            account_verified=entry.account_verified,
            blocked_senders=[],
        )
    )
    event = {
        "id": uuid.uuid4().hex,
        "type": EVENT_ACCOUNT_REACHABILITY_CHANGED,
        "created_at": "x",
        "data": snapshot,
    }
    body, good_headers = signed(runtime.settings.secret(), event)
    assert (await client.post(EVENTS_PATH, content=body, headers=good_headers)).json()["status"] == "applied"
    assert (
        await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    ).status_code == 201
    assert live.calls == [(RECIPIENT, OWNER)]  # catching up: asked live
    # The resync takes Connect's own (lower) version as the truth again: the phone is in sequence.
    async with runtime.db.session_scope() as s:
        await s.execute(update(RecipientReachability).values(version=0))
    assert await sync_directory(runtime) >= 1
    entry = await _entry(runtime, RECIPIENT)
    assert entry is not None and entry.in_sequence
    assert (
        await client.post("/api/v1/messages", json=text_to(RECIPIENT), headers=headers)
    ).status_code == 201
    assert live.calls == [(RECIPIENT, OWNER)]


async def test_a_fresh_directory_is_filled_by_the_bulk_sync(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, connect: ConnectHelper, runtime: Runtime
) -> None:
    await connect.account("+201010000031")
    await connect.client.block("+201010000031", OWNER)
    await connect.client.disable_account(RECIPIENT)
    async with runtime.db.session_scope() as s:
        await s.execute(delete(RecipientReachability))
    runtime.reachability.get().entries.reset()
    assert await runtime.reachability.get().lookup(RECIPIENT, OWNER) is None  # never seen: live
    assert await sync_directory(runtime, page_size=1) == 3  # owner, recipient and the new account
    blocked = await runtime.reachability.get().lookup("+201010000031", OWNER)
    assert blocked is not None and blocked.reason_code == "blocked_sender"
    disabled = await runtime.reachability.get().lookup(RECIPIENT, None)
    assert disabled is not None and disabled.reason_code == "account_disabled"
