"""Sending SMS (/v1/sms/messages) with the sandbox carrier of the embedded default."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.sms.helpers import (
    bearer,
    create_sender,
    message_status,
    verified_sender,
    verified_senders,
    wait_message,
)
from tgo.channels.sms_sandbox import SandboxSmsChannel
from tgo.models import Tenant
from tgo.runtime import Runtime

MESSAGE_KEYS = [
    "id",
    "senderId",
    "to",
    "body",
    "messageType",
    "status",
    "encoding",
    "segments",
    "characters",
    "errorCode",
    "errorMessage",
    "sentAt",
    "doneAt",
    "createdAt",
    "updatedAt",
]


@pytest.fixture
async def auth(make_key: MakeKey, tenant: Tenant) -> dict[str, str]:
    return bearer(await make_key(tenant, "*"))


@pytest.fixture
async def sender(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    return await verified_sender(client, auth)


async def post(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/v1/sms/messages", json=body, headers=auth)


async def test_issue_example_is_queued_then_delivered_by_the_sandbox_carrier(
    client: httpx.AsyncClient, auth: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    r = await post(
        client,
        auth,
        senderId=sender["id"],
        to="+61412345678",
        body="Your code is 123456",
        messageType="transactional",
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert list(body) == MESSAGE_KEYS
    assert uuid.UUID(body["id"])
    assert body["status"] == "queued"
    assert (body["encoding"], body["segments"], body["characters"]) == ("GSM-7", 1, 19)
    assert body["senderId"] == sender["id"] and body["to"] == "+61412345678"
    done = await wait_message(client, auth, body["id"], "delivered", "undelivered", "failed")
    assert done["status"] == "delivered" and done["sentAt"] and done["doneAt"]
    assert runtime.sms_channel.built and isinstance(runtime.sms_channel.get(), SandboxSmsChannel)


async def test_arabic_is_ucs2_with_the_right_segments(
    client: httpx.AsyncClient, auth: dict[str, str], sender: dict[str, Any]
) -> None:
    text = "مرحبا " * 20  # 120 characters
    r = await post(client, auth, senderId=sender["id"], to="+61412345678", body=text)
    assert r.status_code == 201
    assert (r.json()["encoding"], r.json()["segments"], r.json()["characters"]) == ("UCS-2", 2, 120)


async def test_message_type_defaults_to_the_senders_default(
    client: httpx.AsyncClient, auth: dict[str, str], sender: dict[str, Any]
) -> None:
    r = await post(client, auth, senderId=sender["id"], to="+61412345678", body="hi")
    assert r.json()["messageType"] == "transactional"
    r = await post(
        client, auth, senderId=sender["id"], to="+61412345678", body="hi", messageType="promotional"
    )
    assert r.status_code == 201 and r.json()["messageType"] == "promotional"


FIELD_CASES: list[tuple[dict[str, Any], str]] = [
    ({"senderId": None}, "senderId"),
    ({"senderId": "not-a-uuid"}, "senderId"),
    ({"senderId": str(uuid.uuid4())}, "senderId"),
    ({"to": None}, "to"),
    ({"to": "0412345678"}, "to"),
    ({"to": "+6141234"}, "to"),
    ({"to": 61412345678}, "to"),
    ({"body": None}, "body"),
    ({"body": ""}, "body"),
    ({"body": "x" * 1601}, "body"),
    ({"body": 5}, "body"),
    ({"body": "a\x00b"}, "body"),
    ({"messageType": "marketing"}, "messageType"),
]


async def test_fields_are_validated(
    client: httpx.AsyncClient, auth: dict[str, str], sender: dict[str, Any]
) -> None:
    for patch, field in FIELD_CASES:
        body = {"senderId": sender["id"], "to": "+61412345678", "body": "hi"} | patch
        body = {k: v for k, v in body.items() if v is not None}
        r = await client.post("/v1/sms/messages", json=body, headers=auth)
        assert r.status_code == 422, (patch, r.text)
        assert list(r.json()["errors"]) == [field], (patch, r.text)


async def test_only_an_active_sender_may_send(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    new = await create_sender(client, auth)
    r = await post(client, auth, senderId=new["id"], to="+61412345678", body="hi")
    assert r.status_code == 422 and r.json()["code"] == "sms_sender_not_active"
    rejected = await verified_sender(client, auth, expect="rejected", senderId="TEST")
    r = await post(client, auth, senderId=rejected["id"], to="+61412345678", body="hi")
    assert r.status_code == 422 and r.json()["code"] == "sms_sender_not_active"


async def test_another_teams_sender_cannot_be_used(
    client: httpx.AsyncClient, auth: dict[str, str], make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    other = bearer(await make_key(await make_tenant("globex"), "*"))
    theirs = await verified_sender(client, other)
    r = await post(client, auth, senderId=theirs["id"], to="+61412345678", body="hi")
    assert r.status_code == 422 and list(r.json()["errors"]) == ["senderId"]
    missing = await post(client, auth, senderId=str(uuid.uuid4()), to="+61412345678", body="hi")
    assert missing.json() == r.json()


async def test_promotional_traffic_from_a_transactional_only_sender_is_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    sender = await verified_sender(client, auth, country="AE")
    assert sender["transactionalOnly"] is True
    r = await post(
        client, auth, senderId=sender["id"], to="+971501234567", body="Sale!", messageType="promotional"
    )
    assert r.status_code == 422 and r.json()["code"] == "sms_sender_transactional_only"
    r = await post(client, auth, senderId=sender["id"], to="+971501234567", body="Code 1234")
    assert r.status_code == 201
    # ...nor may it be made promotional by default
    r = await client.patch(
        f"/v1/sms/senders/{sender['id']}", json={"defaultMessageType": "promotional"}, headers=auth
    )
    assert r.status_code == 422 and list(r.json()["errors"]) == ["defaultMessageType"]


REACH_CASES = [
    ({}, "+61412345678", "transactional", True),  # alphanumeric AU -> AU
    ({}, "+447911123456", "transactional", True),  # alphanumeric -> GB allows them
    ({}, "+12025550143", "transactional", False),  # alphanumeric -> US: not supported
    ({}, "+971501234567", "transactional", True),  # -> AE transactional is fine
    ({}, "+971501234567", "promotional", False),  # -> AE promotional is not
    ({"senderType": "long_code", "senderId": "+61412345678"}, "+61498765432", "promotional", True),
    ({"senderType": "long_code", "senderId": "+61412345678"}, "+6421123456", "transactional", False),
    (
        {"senderType": "short_code", "senderId": "12345", "country": "US"},
        "+12025550143",
        "promotional",
        True,
    ),
    (
        {"senderType": "short_code", "senderId": "12345", "country": "US"},
        "+61412345678",
        "transactional",
        False,
    ),
]


async def test_recipient_country_must_be_reachable_by_the_sender_type(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    variants = [{}, {"senderType": "long_code", "senderId": "+61412345678"}]
    variants.append({"senderType": "short_code", "senderId": "12345", "country": "US"})
    senders = await verified_senders(client, auth, variants)
    by_variant = {repr(v): s for v, s in zip(variants, senders, strict=True)}
    for overrides, to, message_type, allowed in REACH_CASES:
        sender = by_variant[repr(overrides)]
        assert sender["status"] == "active", sender
        r = await post(client, auth, senderId=sender["id"], to=to, body="hello", messageType=message_type)
        if allowed:
            assert r.status_code == 201, (overrides, to, r.text)
        else:
            assert r.status_code == 422, (overrides, to, r.text)
            assert r.json()["code"] == "sms_recipient_not_allowed" and r.json()["reason"]


async def test_sandbox_carrier_scripted_outcomes(
    client: httpx.AsyncClient, auth: dict[str, str], sender: dict[str, Any]
) -> None:
    ids = {}
    for to, status in [
        ("+61412340000", "undelivered"),
        ("+61412340001", "failed"),
        ("+61412340002", "delivered"),
    ]:
        ids[(await post(client, auth, senderId=sender["id"], to=to, body="hi")).json()["id"]] = status
    for mid, status in ids.items():
        done = await wait_message(client, auth, mid, "delivered", "undelivered", "failed")
        assert done["status"] == status
        assert done["errorCode"] == {"undelivered": "UNDELIV", "failed": "REJECTD", "delivered": None}[status]


async def test_list_and_get_messages_of_the_team_only(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    sender: dict[str, Any],
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    ids = [
        (await post(client, auth, senderId=sender["id"], to="+61412345678", body=f"m{i}")).json()["id"]
        for i in range(5)
    ]
    other = bearer(await make_key(await make_tenant("globex"), "*"))
    assert (await client.get("/v1/sms/messages", headers=other)).json() == {"data": [], "nextCursor": None}
    for mid in ids:
        assert (await client.get(f"/v1/sms/messages/{mid}", headers=other)).status_code == 404
        assert (await message_status(client, auth, mid))["id"] == mid
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/sms/messages", params=params, headers=auth)).json()
        seen += [m["id"] for m in page["data"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    r = await client.get(
        "/v1/sms/messages", params={"senderId": sender["id"], "status": "queued"}, headers=auth
    )
    assert r.status_code == 200
    assert (await client.get("/v1/sms/messages", params={"status": "nope"}, headers=auth)).status_code == 422
    assert (await client.get("/v1/sms/messages/not-a-uuid", headers=auth)).status_code == 404


async def test_duplicate_jobs_send_a_message_once(
    client: httpx.AsyncClient, auth: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    from tgo.sms.jobs import deliver_sms

    channel = runtime.sms_channel.get()
    r = await post(client, auth, senderId=sender["id"], to="+61412345678", body="once")
    mid = uuid.UUID(r.json()["id"])
    for _ in range(3):
        await deliver_sms(runtime, mid)  # the job published at commit may run too: claims make these no-ops
    await wait_message(client, auth, str(mid), "delivered")
    assert isinstance(channel, SandboxSmsChannel)
    assert [s for s in channel.submitted if s[0] == str(mid)] == [(str(mid), 1)]
