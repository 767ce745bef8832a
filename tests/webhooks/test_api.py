"""Managing webhook endpoints over /api/v1/webhooks: shapes, validation, the secret shown once and stored
encrypted, pagination, and tenant isolation."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.conftest import MakeKey, MakeTenant
from tgo import events
from tgo.models import Tenant, WebhookEndpoint
from tgo.runtime import Runtime

ALL_MESSAGE_EVENTS = [
    events.EventType.MESSAGE_QUEUED,
    events.EventType.MESSAGE_SENT,
    events.EventType.MESSAGE_DELIVERED,
    events.EventType.MESSAGE_READ,
    events.EventType.MESSAGE_FAILED,
]


async def test_create_shows_the_secret_once_and_stores_it_encrypted(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime
) -> None:
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": "https://hooks.example.com/tgo", "events": ALL_MESSAGE_EVENTS, "description": "ops"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert created["url"] == "https://hooks.example.com/tgo"
    assert created["events"] == ALL_MESSAGE_EVENTS
    assert created["active"] is True and created["disabled_reason"] is None
    assert created["description"] == "ops"
    assert created["created_at"].endswith("Z")

    shown = (await client.get(f"/api/v1/webhooks/{created['id']}", headers=headers)).json()
    assert "secret" not in shown
    assert shown["id"] == created["id"]
    listed = (await client.get("/api/v1/webhooks", headers=headers)).json()
    assert [w["id"] for w in listed["data"]] == [created["id"]] and listed["next_cursor"] is None
    assert all("secret" not in w for w in listed["data"])

    async with runtime.db.session_scope() as s:
        row = await s.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == created["id"]))
    assert row is not None
    assert secret not in row.secret_ciphertext
    assert secret.removeprefix("whsec_") not in row.secret_ciphertext


async def test_every_event_type_is_accepted_including_sms_and_sender(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    names = [
        *ALL_MESSAGE_EVENTS,
        events.EventType.SENDER_NUMBER_STATUS_CHANGED,
        events.EventType.SMS_SENDER_STATUS_CHANGED,
        events.EventType.SMS_MESSAGE_STATUS_CHANGED,
    ]
    r = await client.post(
        "/api/v1/webhooks", headers=headers, json={"url": "https://a.example/h", "events": names}
    )
    assert r.status_code == 201, r.text
    assert r.json()["events"] == names


async def test_validation_reports_every_bad_field(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    cases = [
        ({"url": "ftp://files.example.com/x", "events": ["message.sent"]}, "url"),
        ({"url": "https://user:pass@hooks.example.com/", "events": ["message.sent"]}, "url"),
        ({"url": "not a url", "events": ["message.sent"]}, "url"),
        ({"url": "https:///nohost", "events": ["message.sent"]}, "url"),
        ({"url": "https://hooks.example.com/" + "a" * 2100, "events": ["message.sent"]}, "url"),
        ({"url": "https://hooks.example.com/", "events": ["message.nope"]}, "events"),
        ({"url": "https://hooks.example.com/", "events": []}, "events"),
        (
            {"url": "https://hooks.example.com/", "events": ["message.sent"], "description": "d" * 501},
            "description",
        ),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/webhooks", headers=headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == "validation_failed"
        assert field in r.json()["errors"], (body, r.json())

    for bad in (
        "https://hooks.example.com/a\x00b",
        "https://hooks.example.com/a b",
        "https://hooks.\nexample.com/",
    ):
        r = await client.post(
            "/api/v1/webhooks", headers=headers, json={"url": bad, "events": ["message.sent"]}
        )
        assert r.status_code == 422 and "url" in r.json()["errors"], bad
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": "https://hooks.example.com/", "events": ["message.sent"], "description": "a\x00"},
    )
    assert r.status_code == 422 and "description" in r.json()["errors"]
    r = await client.post("/api/v1/webhooks", headers=headers, json={"url": "gopher://x", "events": ["bad"]})
    assert set(r.json()["errors"]) == {"url", "events"}
    r = await client.post("/api/v1/webhooks", headers=headers, json={"url": 5, "events": "message.sent"})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"


async def test_update_and_delete(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    r = await client.post(
        "/api/v1/webhooks", headers=headers, json={"url": "https://a.example/h", "events": ["message.sent"]}
    )
    wid = r.json()["id"]
    r = await client.patch(
        f"/api/v1/webhooks/{wid}",
        headers=headers,
        json={"url": "https://b.example/h2", "events": ["message.read", "message.read"], "active": False},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"] == "https://b.example/h2" and body["events"] == ["message.read"]
    assert body["active"] is False and body["disabled_at"] is not None
    r = await client.patch(
        f"/api/v1/webhooks/{wid}", headers=headers, json={"active": True, "description": "x"}
    )
    assert r.json()["active"] is True and r.json()["disabled_at"] is None and r.json()["description"] == "x"
    r = await client.patch(f"/api/v1/webhooks/{wid}", headers=headers, json={"url": "ftp://x"})
    assert r.status_code == 422 and "url" in r.json()["errors"]
    assert (await client.get(f"/api/v1/webhooks/{wid}", headers=headers)).json()[
        "url"
    ] == "https://b.example/h2"

    r = await client.delete(f"/api/v1/webhooks/{wid}", headers=headers)
    assert r.status_code == 204 and r.content == b""
    r = await client.get(f"/api/v1/webhooks/{wid}", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "webhook_not_found"
    r = await client.get(f"/api/v1/webhooks/{wid}", headers={**headers, "Accept-Language": "ar"})
    assert r.status_code == 404 and r.json()["message"] != "Webhook not found."


async def test_list_pages_with_a_cursor(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    ids = []
    for i in range(5):
        r = await client.post(
            "/api/v1/webhooks",
            headers=headers,
            json={"url": f"https://h{i}.example/", "events": ["message.sent"]},
        )
        ids.append(r.json()["id"])
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/webhooks", headers=headers, params=params)).json()
        seen += [w["id"] for w in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    r = await client.get("/api/v1/webhooks", headers=headers, params={"cursor": "garbage!"})
    assert r.status_code == 422
    from tgo.kit.pagination import encode_cursor

    for position in ({"id": 10**30}, {"id": "x"}, {"id": -1}):
        r = await client.get(
            "/api/v1/webhooks", headers=headers, params={"cursor": encode_cursor(**position)}
        )
        assert r.status_code == 422, (position, r.text)
    for limit in (0, -5, 10**30):
        r = await client.get("/api/v1/webhooks", headers=headers, params={"limit": limit})
        assert r.status_code == 422, (limit, r.text)


async def test_out_of_range_ids_are_not_found(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    huge = 10**30
    for method, path in [
        ("GET", f"/api/v1/webhooks/{huge}"),
        ("PATCH", f"/api/v1/webhooks/{huge}"),
        ("DELETE", f"/api/v1/webhooks/{huge}"),
        ("POST", f"/api/v1/webhooks/{huge}/rotate-secret"),
        ("GET", f"/api/v1/webhooks/{huge}/deliveries"),
        ("GET", f"/api/v1/webhooks/{huge}/deliveries/{huge}"),
        ("GET", f"/api/v1/webhooks/{huge}/deliveries/1"),
        ("POST", f"/api/v1/webhooks/{huge}/deliveries/1/replay"),
        ("POST", f"/api/v1/webhooks/{huge}/deliveries/{huge}/replay"),
    ]:
        r = await client.request(method, path, headers=headers, json={} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path, r.text)
    r = await client.post(
        "/api/v1/webhooks", headers=headers, json={"url": "https://a.example/h", "events": ["message.sent"]}
    )
    wid = r.json()["id"]
    r = await client.get(f"/api/v1/webhooks/{wid}/deliveries/{huge}", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "webhook_delivery_not_found"


async def test_scope_webhooks_manage_is_required(
    client: httpx.AsyncClient, tenant: Tenant, make_key: MakeKey
) -> None:
    key = await make_key(tenant, "messages.send,messages.read")
    r = await client.get("/api/v1/webhooks", headers={"X-Api-Key": key})
    assert r.status_code == 403 and r.json()["required_scope"] == "webhooks.manage"
    key = await make_key(tenant, "webhooks.manage")
    assert (await client.get("/api/v1/webhooks", headers={"X-Api-Key": key})).status_code == 200


async def test_another_tenants_webhook_is_indistinguishable_from_a_missing_one(
    client: httpx.AsyncClient, headers: dict[str, str], make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    r = await client.post(
        "/api/v1/webhooks", headers=headers, json={"url": "https://a.example/h", "events": ["message.sent"]}
    )
    wid = r.json()["id"]
    other = await make_tenant("globex")
    other_headers = {"X-Api-Key": await make_key(other, "*")}
    missing = 10_000_000
    for path_id in (wid, missing):
        for method, path, body in [
            ("GET", f"/api/v1/webhooks/{path_id}", None),
            ("PATCH", f"/api/v1/webhooks/{path_id}", {"active": False}),
            ("DELETE", f"/api/v1/webhooks/{path_id}", None),
            ("POST", f"/api/v1/webhooks/{path_id}/rotate-secret", None),
            ("GET", f"/api/v1/webhooks/{path_id}/deliveries", None),
            ("GET", f"/api/v1/webhooks/{path_id}/deliveries/1", None),
            ("POST", f"/api/v1/webhooks/{path_id}/deliveries/1/replay", None),
        ]:
            r = await client.request(method, path, headers=other_headers, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json() == {"message": "Webhook not found.", "code": "webhook_not_found"}
    assert (await client.get("/api/v1/webhooks", headers=other_headers)).json()["data"] == []
    # Still there, untouched, for its owner.
    assert (await client.get(f"/api/v1/webhooks/{wid}", headers=headers)).json()["active"] is True
