"""Seed 004, rule by rule: SMS sender identities (/v1/sms/senders)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Clock, MakeKey, MakeTenant
from tests.sms.helpers import (
    SEED_REQUEST,
    bearer,
    create_sender,
    eventually,
    sender_status,
    verified_sender,
    verified_senders,
)
from tgo import events
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.sms.rules import RULES, Alphanumeric

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SEED_KEYS = [
    "id",
    "name",
    "senderId",
    "senderType",
    "status",
    "defaultMessageType",
    "transactionalOnly",
    "country",
    "rejectionReason",
    "createdAt",
    "updatedAt",
]


@pytest.fixture
async def auth(make_key: MakeKey, tenant: Tenant) -> dict[str, str]:
    return bearer(await make_key(tenant, "*"))


@pytest.fixture
def captured_events(runtime: Runtime) -> Iterator[list[tuple[int, str, dict[str, Any]]]]:
    seen: list[tuple[int, str, dict[str, Any]]] = []

    async def capture(session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
        seen.append((tenant_id, event_type, data))

    runtime.registry.listeners.append(capture)
    try:
        yield seen
    finally:
        runtime.registry.listeners.remove(capture)


async def test_seed_example_request_gives_the_seed_example_response(
    client: httpx.AsyncClient, auth: dict[str, str], frozen_clock: Clock
) -> None:
    frozen_clock.current = datetime.fromisoformat("2026-04-12T10:00:00+00:00")
    r = await client.post("/v1/sms/senders", json=SEED_REQUEST, headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert list(body) == SEED_KEYS
    assert uuid.UUID(body["id"]).version == 4
    assert {k: v for k, v in body.items() if k != "id"} == {
        "name": "Acme Alerts",
        "senderId": "AcmeAlerts",
        "senderType": "alphanumeric_id",
        "status": "not_started",
        "defaultMessageType": "transactional",
        "transactionalOnly": False,
        "country": "AU",
        "rejectionReason": None,
        "createdAt": "2026-04-12T10:00:00Z",
        "updatedAt": "2026-04-12T10:00:00Z",
    }
    assert r.headers["content-type"].startswith("application/json")


async def test_get_and_list_return_the_same_shape(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await create_sender(client, auth)
    got = await sender_status(client, auth, created["id"])
    assert got == created
    r = await client.get("/v1/sms/senders", headers=auth)
    assert r.status_code == 200
    page = r.json()
    assert set(page) == {"data", "nextCursor"}
    assert page["data"] == [created] and page["nextCursor"] is None
    assert ISO_Z.match(created["createdAt"]) and ISO_Z.match(created["updatedAt"])


async def test_list_is_the_current_team_only_and_paginates(
    client: httpx.AsyncClient, auth: dict[str, str], make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    other = bearer(await make_key(await make_tenant("globex"), "*"))
    await create_sender(client, other, senderId="Globex")
    ids = [(await create_sender(client, auth, senderId=f"Acme {i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/v1/sms/senders", params=params, headers=auth)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["data"]) <= 2
        seen += [s["id"] for s in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    bad = await client.get("/v1/sms/senders", params={"cursor": "nonsense"}, headers=auth)
    assert bad.status_code == 422 and "cursor" in bad.json()["errors"]
    assert (await client.get("/v1/sms/senders", params={"limit": 0}, headers=auth)).status_code == 422


async def test_default_message_type_defaults_to_transactional(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = {k: v for k, v in SEED_REQUEST.items() if k != "defaultMessageType"}
    r = await client.post("/v1/sms/senders", json=body, headers=auth)
    assert r.status_code == 201 and r.json()["defaultMessageType"] == "transactional"
    r = await client.post(
        "/v1/sms/senders",
        json={**SEED_REQUEST, "senderId": "Acme2", "defaultMessageType": "promotional"},
        headers=auth,
    )
    assert r.status_code == 201 and r.json()["defaultMessageType"] == "promotional"


FIELD_CASES: list[tuple[str, Any]] = [
    ("name", None),
    ("name", ""),
    ("name", "   "),
    ("name", 42),
    ("name", "Acme\x00"),
    ("senderType", None),
    ("senderType", "alphanumeric"),
    ("senderType", "LONG_CODE"),
    ("country", None),
    ("country", "XX"),
    ("country", "AUS"),
    ("country", "A1"),
    ("country", 61),
    ("defaultMessageType", "marketing"),
    ("senderId", None),
    ("senderId", 12345),
]


async def test_each_field_is_validated_with_a_field_error(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    for field, value in FIELD_CASES:
        body: dict[str, Any] = dict(SEED_REQUEST)
        if value is None:
            body.pop(field)
        else:
            body[field] = value
        r = await client.post("/v1/sms/senders", json=body, headers=auth)
        assert r.status_code == 422, (field, value, r.text)
        err = r.json()
        assert err["code"] == "validation_failed"
        assert list(err["errors"]) == [field], err
        assert all(isinstance(m, str) and m for m in err["errors"][field])


SENDER_ID_CASES = [
    # alphanumeric: 1-11 letters, digits and spaces, with at least one letter
    ("alphanumeric_id", "A", "AU", True),
    ("alphanumeric_id", "Acme Alerts", "AU", True),  # 11 characters
    ("alphanumeric_id", "Acme 24 7", "AU", True),
    ("alphanumeric_id", "Acme Alerts1", "AU", False),  # 12
    ("alphanumeric_id", "", "AU", False),
    ("alphanumeric_id", "12345", "AU", False),  # no letter
    ("alphanumeric_id", "Acme-Alerts", "AU", False),
    ("alphanumeric_id", "Acmé", "AU", False),
    ("alphanumeric_id", "Acme_1", "AU", False),
    # long code: E.164 and valid for the country
    ("long_code", "+61412345678", "AU", True),
    ("long_code", "+12025550143", "US", True),
    ("long_code", "61412345678", "AU", False),  # no +
    ("long_code", "+61 412 345 678", "AU", False),  # not E.164
    ("long_code", "+61412345678", "NZ", False),  # another country's number
    ("long_code", "+6141234", "AU", False),
    ("long_code", "+18005550199", "US", False),  # toll-free, not a long code
    # toll-free: E.164 and a toll-free number of the country
    ("toll_free", "+18005550199", "US", True),
    ("toll_free", "+18005550199", "CA", True),
    ("toll_free", "+611800123456", "AU", True),
    ("toll_free", "+12025550143", "US", False),  # not toll-free
    ("toll_free", "+18005550199", "AU", False),
    ("toll_free", "18005550199", "US", False),
    # short code: 4-6 digits
    ("short_code", "1234", "US", True),
    ("short_code", "123456", "US", True),
    ("short_code", "123", "US", False),
    ("short_code", "1234567", "US", False),
    ("short_code", "12a45", "US", False),
    ("short_code", "+12345", "US", False),
]


async def test_sender_id_format_depends_on_type(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for sender_type, sender_id, country, ok in SENDER_ID_CASES:
        body = {**SEED_REQUEST, "senderType": sender_type, "senderId": sender_id, "country": country}
        r = await client.post("/v1/sms/senders", json=body, headers=auth)
        if ok:
            assert r.status_code == 201, (sender_type, sender_id, country, r.text)
            assert r.json()["senderId"] == sender_id
        else:
            assert r.status_code == 422, (sender_type, sender_id, country, r.text)
            assert list(r.json()["errors"]) == ["senderId"]


async def test_the_same_identity_twice_is_a_conflict(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await create_sender(client, auth)
    r = await client.post("/v1/sms/senders", json=SEED_REQUEST, headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "sms_sender_exists"


async def test_another_teams_sender_is_indistinguishable_from_a_missing_one(
    client: httpx.AsyncClient, auth: dict[str, str], make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    other = bearer(await make_key(await make_tenant("globex"), "*"))
    theirs = await create_sender(client, other)
    missing = str(uuid.uuid4())
    for sid in (theirs["id"], missing, "not-a-uuid"):
        for method, path, body in [
            ("GET", f"/v1/sms/senders/{sid}", None),
            ("PATCH", f"/v1/sms/senders/{sid}", {"name": "x"}),
            ("DELETE", f"/v1/sms/senders/{sid}", None),
            ("POST", f"/v1/sms/senders/{sid}/verify", None),
        ]:
            r = await client.request(method, path, json=body, headers=auth)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json() == {"message": "SMS sender not found.", "code": "not_found"}
    assert (await sender_status(client, other, theirs["id"]))["name"] == "Acme Alerts"


async def test_update_changes_name_and_default_message_type_only(
    client: httpx.AsyncClient, auth: dict[str, str], frozen_clock: Clock
) -> None:
    created = await create_sender(client, auth)
    frozen_clock.advance(seconds=5)
    r = await client.patch(
        f"/v1/sms/senders/{created['id']}",
        json={"name": "Acme Notices", "defaultMessageType": "promotional"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "Acme Notices" and body["defaultMessageType"] == "promotional"
    assert body["createdAt"] == created["createdAt"] and body["updatedAt"] != created["updatedAt"]
    assert body["senderId"] == "AcmeAlerts"


async def test_identity_fields_cannot_be_changed(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await create_sender(client, auth)
    for field, value in [("senderId", "Other"), ("senderType", "short_code"), ("country", "NZ")]:
        r = await client.patch(
            f"/v1/sms/senders/{created['id']}", json={"name": "New", field: value}, headers=auth
        )
        assert r.status_code == 422, r.text
        assert list(r.json()["errors"]) == [field]
        assert (await sender_status(client, auth, created["id"])) == created  # nothing applied


async def test_update_validates_its_fields(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    created = await create_sender(client, auth)
    bodies: list[dict[str, Any]] = [
        {"name": ""},
        {"name": None},
        {"defaultMessageType": "spam"},
        {"defaultMessageType": None},
    ]
    for body in bodies:
        r = await client.patch(f"/v1/sms/senders/{created['id']}", json=body, headers=auth)
        assert r.status_code == 422 and list(r.json()["errors"]) == list(body), (body, r.text)


async def test_delete_answers_204_and_the_sender_is_gone(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    created = await create_sender(client, auth)
    r = await client.delete(f"/v1/sms/senders/{created['id']}", headers=auth)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get(f"/v1/sms/senders/{created['id']}", headers=auth)).status_code == 404


async def test_a_sender_that_has_sent_a_message_cannot_be_deleted(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    sender = await verified_sender(client, auth)
    r = await client.post(
        "/v1/sms/messages", json={"senderId": sender["id"], "to": "+61412345678", "body": "hi"}, headers=auth
    )
    assert r.status_code == 201, r.text
    r = await client.delete(f"/v1/sms/senders/{sender['id']}", headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "sms_sender_in_use"
    assert (await sender_status(client, auth, sender["id"]))["status"] == "active"


async def test_lifecycle_not_started_pending_active_by_itself(
    client: httpx.AsyncClient, auth: dict[str, str], captured_events: list[tuple[int, str, dict[str, Any]]]
) -> None:
    created = await create_sender(client, auth)
    assert created["status"] == "not_started"
    r = await client.post(f"/v1/sms/senders/{created['id']}/verify", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "pending"

    async def active() -> object:
        body = await sender_status(client, auth, created["id"])
        return body if body["status"] == "active" else None

    body = await eventually(active, timeout=5)
    assert body["rejectionReason"] is None and body["transactionalOnly"] is False
    changes = [d["status"] for _, t, d in captured_events if t == events.EventType.SMS_SENDER_STATUS_CHANGED]
    assert changes == ["pending", "active"]
    assert captured_events[-1][2] == body  # the event carries the object as the API shows it


async def test_verify_only_from_not_started_failed_or_rejected(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime, tenant: Tenant
) -> None:
    from tgo.sms import service

    active, suspended = await verified_senders(
        client, auth, [{"senderId": "Acme Two"}, {"senderId": "Acme Three"}]
    )
    async with runtime.db.session_scope() as s:
        await service.suspend_sender(s, suspended["id"])
    pending = await create_sender(client, auth)
    async with runtime.db.session_scope() as s:  # a carrier that takes its time: stays pending here
        await service.start_verification(s, tenant.id, pending["id"], delay_seconds=600)
    for sender, status in [(pending, "pending"), (active, "active"), (suspended, "suspended")]:
        assert (await sender_status(client, auth, sender["id"]))["status"] == status
        r = await client.post(f"/v1/sms/senders/{sender['id']}/verify", headers=auth)
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "sms_sender_not_verifiable"


async def test_rejected_in_us_with_a_reason_and_can_be_retried(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    body = await verified_sender(client, auth, expect="rejected", country="US")
    assert "alphanumeric" in body["rejectionReason"].lower()
    r = await client.post(f"/v1/sms/senders/{body['id']}/verify", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert r.json()["rejectionReason"] is None


async def test_failed_can_be_retried(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = await verified_sender(
        client, auth, expect="failed", senderType="long_code", senderId="+61298765432", country="AU"
    )
    assert "landline" in body["rejectionReason"]
    r = await client.post(f"/v1/sms/senders/{body['id']}/verify", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "pending"


RULE_CASES = [
    ({"country": "CA"}, "rejected", False, "alphanumeric"),
    ({"country": "AE"}, "active", True, None),
    ({"country": "SA", "senderId": "Acme"}, "active", True, None),
    ({"country": "GB"}, "active", False, None),
    ({"senderId": "TEST"}, "rejected", False, "generic"),
    ({"senderId": "SMS"}, "rejected", False, "generic"),
    ({"senderId": "Info"}, "rejected", False, "generic"),
    ({"senderId": "HSBC"}, "rejected", False, "protected"),
    ({"senderId": "HSBC Alerts"}, "rejected", False, "protected"),
    ({"senderId": "Westpac"}, "rejected", False, "protected"),
    ({"senderType": "short_code", "senderId": "12345", "country": "US"}, "active", False, None),
    (
        {"senderType": "short_code", "senderId": "12345", "country": "DE"},
        "rejected",
        False,
        "short codes",
    ),
    ({"senderType": "toll_free", "senderId": "+18005550199", "country": "US"}, "active", False, None),
    (
        {"senderType": "toll_free", "senderId": "+611800123456", "country": "AU"},
        "rejected",
        False,
        "toll-free",
    ),
    ({"senderType": "long_code", "senderId": "+61412345678", "country": "AU"}, "active", False, None),
]


async def test_sandbox_carrier_applies_the_country_rule_table(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    settled = await verified_senders(client, auth, [overrides for overrides, *_ in RULE_CASES])
    for body, (overrides, status, transactional_only, reason_has) in zip(settled, RULE_CASES, strict=True):
        assert body["status"] == status, (overrides, body)
        assert body["transactionalOnly"] is transactional_only, (overrides, body)
        if reason_has is None:
            assert body["rejectionReason"] is None, (overrides, body)
        else:
            assert reason_has in body["rejectionReason"].lower(), (overrides, body)


def test_rule_table_examples_hold() -> None:
    assert RULES["US"].alphanumeric is Alphanumeric.NOT_SUPPORTED
    assert RULES["CA"].alphanumeric is Alphanumeric.NOT_SUPPORTED
    assert RULES["AE"].alphanumeric is Alphanumeric.TRANSACTIONAL_ONLY
    assert RULES["US"].short_codes and not RULES["DE"].short_codes


async def test_suspended_sender_cannot_send_and_unsuspend_restores_it(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    from tgo.sms import service

    sender = await verified_sender(client, auth)
    async with runtime.db.session_scope() as s:
        await service.suspend_sender(s, sender["id"])
    assert (await sender_status(client, auth, sender["id"]))["status"] == "suspended"
    r = await client.post(
        "/v1/sms/messages", json={"senderId": sender["id"], "to": "+61412345678", "body": "hi"}, headers=auth
    )
    assert r.status_code == 422 and r.json()["code"] == "sms_sender_not_active"
    async with runtime.db.session_scope() as s:
        await service.unsuspend_sender(s, sender["id"])
    assert (await sender_status(client, auth, sender["id"]))["status"] == "active"


async def test_scopes_of_the_sms_surface(
    client: httpx.AsyncClient, tenant: Tenant, make_key: MakeKey
) -> None:
    for scope, method, path in [
        ("sms.senders", "POST", "/v1/sms/senders"),
        ("sms.senders", "GET", "/v1/sms/senders"),
        ("sms.send", "POST", "/v1/sms/messages"),
        ("sms.read", "GET", "/v1/sms/messages"),
    ]:
        key = await make_key(tenant, scope)
        r = await client.request(method, path, headers=bearer(key), json={})
        assert r.status_code in (200, 422), r.text  # allowed (the empty body may be invalid)
        others = ",".join(s for s in ("sms.senders", "sms.send", "sms.read") if s != scope)
        r = await client.request(method, path, headers=bearer(await make_key(tenant, others)), json={})
        assert r.status_code == 403 and r.json()["required_scope"] == scope


async def test_errors_are_localised(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.get(f"/v1/sms/senders/{uuid.uuid4()}", headers={**auth, "Accept-Language": "ar"})
    assert r.status_code == 404 and r.json()["message"] == "لم يتم العثور على مُرسِل الرسائل القصيرة."


async def test_an_alphanumeric_id_active_for_another_organization_is_rejected(
    client: httpx.AsyncClient, auth: dict[str, str], make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    """An alphanumeric ID is a brand: the seed's AcmeAlerts in AU, active for acme, is rejected for globex
    (also spelt with other case and spaces), while globex may use it in another country; acme's own
    answers never mention globex's attempt."""
    other = bearer(await make_key(await make_tenant("globex"), "*"))
    first = await verified_sender(client, auth)
    assert first["status"] == "active"
    for sender_id in ("AcmeAlerts", "ACME alerts"):
        body = await verified_sender(client, other, expect="rejected", senderId=sender_id)
        assert "another organization" in body["rejectionReason"], body
        assert "acme" not in body["rejectionReason"].lower().replace(sender_id.lower(), ""), body
    elsewhere = await verified_sender(client, other, country="NZ")
    assert elsewhere["status"] == "active" and elsewhere["rejectionReason"] is None
    assert (await sender_status(client, auth, first["id"]))["status"] == "active"
    listed = (await client.get("/v1/sms/senders", headers=auth)).json()["data"]
    assert [s["id"] for s in listed] == [first["id"]]


async def test_two_organizations_verifying_one_brand_at_once_get_one_active(
    client: httpx.AsyncClient, auth: dict[str, str], make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    other = bearer(await make_key(await make_tenant("globex"), "*"))
    mine = await create_sender(client, auth)
    theirs = await create_sender(client, other)
    for sender, headers in ((mine, auth), (theirs, other)):
        r = await client.post(f"/v1/sms/senders/{sender['id']}/verify", headers=headers)
        assert r.status_code == 200, r.text

    async def settled() -> object:
        bodies = [
            await sender_status(client, auth, mine["id"]),
            await sender_status(client, other, theirs["id"]),
        ]
        return bodies if all(b["status"] != "pending" for b in bodies) else None

    statuses = sorted(b["status"] for b in await eventually(settled))
    assert statuses == ["active", "rejected"]
