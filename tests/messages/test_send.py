"""The seeds' curl examples and error catalogue (seeds 002 and 003), as tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Clock, MakeKey, MakeTenant
from tests.fixtures import media
from tests.fixtures.connect import ConnectHelper
from tests.messages.conftest import OWNER, RECIPIENT, wait_status
from tgo.kit.pagination import encode_cursor
from tgo.runtime import Runtime

TEXT = {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "Hello from TGO Business"}
AR_OWNER_TEXT = "يجب أن يكون صاحب الرقم موثقًا داخل TGO Connect قبل استخدام API الإرسال."


async def test_seed_text_message_is_queued_then_delivered_to_the_inbox(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], connect: ConnectHelper
) -> None:
    r = await client.post("/api/v1/messages", json=TEXT, headers={**headers, "Accept": "application/json"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "queued" and body["message_type"] == "text"
    assert body["sender_number_id"] == sender["id"] and body["content"] == "Hello from TGO Business"
    delivered = await wait_status(client, headers, body["id"], "delivered")
    assert delivered["sent_at"] and delivered["delivered_at"]
    inbox = [m for m in await connect.inbox(RECIPIENT) if m.business_message_id == f"msg-{body['id']}"]
    assert len(inbox) == 1 and inbox[0].content == "Hello from TGO Business"
    await connect.client.mark_read(RECIPIENT, inbox[0].id)
    read = await wait_status(client, headers, body["id"], "read")
    assert [h["status"] for h in read["history"]] == ["queued", "sent", "delivered", "read"]


async def test_send_by_sender_number_id(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    payload = {k: v for k, v in TEXT.items() if k != "sender_phone"} | {"sender_number_id": sender["id"]}
    r = await client.post("/api/v1/messages", json=payload, headers=headers)
    assert r.status_code == 201 and r.json()["sender_phone"] == OWNER


async def test_seed_image_and_voice_multipart(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], connect: ConnectHelper
) -> None:
    r = await client.post(
        "/api/v1/messages",
        headers=headers,
        data={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "image"},
        files={"media": ("image.png", media.png(), "image/png")},
    )
    assert r.status_code == 201, r.text
    image = r.json()
    assert image["media"]["content_type"] == "image/png" and image["media"]["size"] > 0
    r = await client.post(
        "/api/v1/messages",
        headers=headers,
        data={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "voice", "duration": "45"},
        files={"media": ("audio.ogg", media.ogg_opus(45), "audio/ogg")},
    )
    assert r.status_code == 201, r.text
    voice = r.json()
    assert voice["duration"] == 45 and voice["media"]["content_type"] == "audio/ogg"
    for m in (image, voice):
        await wait_status(client, headers, m["id"], "delivered")
    got = {m.business_message_id: m for m in await connect.inbox(RECIPIENT)}
    image_ref = got[f"msg-{image['id']}"].media
    assert image_ref is not None and image_ref.content_type == "image/png"
    # The media link Connect received serves the same bytes.
    dl = await client.get(image["media"]["url"], headers=headers)
    assert dl.status_code == 200 and dl.content == media.png()
    assert dl.headers["x-content-type-options"] == "nosniff" and dl.headers["content-disposition"].startswith(
        "attachment"
    )


async def test_seed_lookup(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    r = await client.get(
        "/api/v1/contacts/lookup?phone=+201010000000&sender_phone=+201001187188",
        headers={**headers, "Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "exists",
        "can_receive",
        "reason_code",
        "recipient_id",
        "is_verified",
        "phone_verified_at",
    }
    assert body["exists"] is True and body["can_receive"] is True and body["reason_code"] == "ok"
    assert isinstance(body["recipient_id"], int) and body["phone_verified_at"].endswith("Z")


async def test_lookup_reason_codes(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], connect: ConnectHelper
) -> None:
    async def reason(phone: str, sender_phone: str | None = None) -> tuple[Any, Any]:
        params = {"phone": phone} | ({"sender_phone": sender_phone} if sender_phone else {})
        r = await client.get("/api/v1/contacts/lookup", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["reason_code"], r.json()["can_receive"]

    assert await reason("+201010000099") == ("not_found", False)
    await connect.client.create_account("+201010000011", name="No phone", phone_verified=False)
    assert await reason("+201010000011") == ("phone_not_verified", False)
    await connect.account("+201010000012")
    await connect.client.disable_account("+201010000012")
    assert await reason("+201010000012") == ("account_disabled", False)
    await connect.account("+201010000013")
    await connect.client.block("+201010000013", OWNER)
    assert await reason("+201010000013", OWNER) == ("blocked_sender", False)
    assert await reason("+201010000013") == ("ok", True)
    r = await client.get("/api/v1/contacts/lookup", params={"phone": "12ab"}, headers=headers)
    assert r.status_code == 422 and "phone" in r.json()["errors"]


async def test_lookup_sender_phone_must_be_the_tenants_own(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    connect: ConnectHelper,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    """Another tenant may not learn whether a recipient blocked acme's sender number: its sender_phone is
    refused as sender_not_found, exactly as an unknown number is — even after registering that phone
    itself (a registration without the OTP proves nothing)."""
    await connect.account("+201010000014")
    await connect.client.block("+201010000014", OWNER)
    other = {"X-Api-Key": await make_key(await make_tenant("globex"))}

    async def ask(key_headers: dict[str, str], sender_phone: str) -> httpx.Response:
        return await client.get(
            "/api/v1/contacts/lookup",
            params={"phone": "+201010000014", "sender_phone": sender_phone},
            headers=key_headers,
        )

    r = await ask(headers, OWNER)
    assert r.status_code == 200 and r.json()["reason_code"] == "blocked_sender", r.text
    unknown = await ask(other, "+201001187000")
    assert unknown.status_code == 422 and unknown.json()["code"] == "sender_not_found", unknown.text
    foreign = await ask(other, OWNER)
    assert (foreign.status_code, foreign.json()) == (unknown.status_code, unknown.json())
    r = await client.post("/api/v1/sender-numbers", json={"phone": OWNER}, headers=other)
    assert r.status_code == 201 and r.json()["status"] == "pending_verification", r.text
    registered = await ask(other, OWNER)
    assert (registered.status_code, registered.json()) == (unknown.status_code, unknown.json())
    # Without sender_phone the lookup stays open to any tenant (it reveals no sender's blocks).
    r = await client.get("/api/v1/contacts/lookup", params={"phone": "+201010000014"}, headers=other)
    assert r.status_code == 200 and r.json()["reason_code"] == "ok", r.text


async def test_seed_logs_and_usage(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    ids = []
    for i in range(3):
        r = await client.post("/api/v1/messages", json=TEXT | {"content": f"n{i}"}, headers=headers)
        ids.append(r.json()["id"])
    for i in ids:
        await wait_status(client, headers, i, "delivered")
    logs = (await client.get("/api/v1/messages", headers=headers)).json()
    assert [m["id"] for m in logs["data"]] == list(reversed(ids))
    for m in logs["data"]:
        assert {"id", "sender_number_id", "message_type", "content", "status", "sent_at"} <= set(m)
    usage = (await client.get("/api/v1/usage", headers=headers)).json()
    entry = usage["data"][0]
    assert entry["sender_number_id"] == sender["id"] and entry["total"] == 3
    assert entry["by_type"]["text"] == 3 and entry["by_status"]["delivered"] == 3
    daily = (await client.get("/api/v1/usage", params={"granularity": "day"}, headers=headers)).json()
    assert sum(d["total"] for d in daily["data"][0]["days"]) == 3


async def test_errors_of_seed_003(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    connect: ConnectHelper,
    runtime: Runtime,
) -> None:
    # Sender not active (pending OTP).
    await connect.account("+201001187150", verified=True)
    pending = (
        await client.post("/api/v1/sender-numbers", json={"phone": "+201001187150"}, headers=headers)
    ).json()
    r = await client.post("/api/v1/messages", json=TEXT | {"sender_phone": "+201001187150"}, headers=headers)
    assert r.status_code == 422 and r.json()["message"] == "The sender number is not active."
    assert r.json()["code"] == "sender_not_active"
    # Owner not verified: Arabic by default, English when asked.
    await connect.account("+201001187151", verified=False)
    num = (
        await client.post("/api/v1/sender-numbers", json={"phone": "+201001187151"}, headers=headers)
    ).json()
    await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify",
        json={"otp": await connect.otp("+201001187151")},
        headers=headers,
    )
    r = await client.post("/api/v1/messages", json=TEXT | {"sender_phone": "+201001187151"}, headers=headers)
    assert r.status_code == 422 and r.json() == {
        "message": AR_OWNER_TEXT,
        "code": "sender_owner_not_verified",
    }
    r = await client.post(
        "/api/v1/messages",
        json=TEXT | {"sender_phone": "+201001187151"},
        headers={**headers, "Accept-Language": "en"},
    )
    assert r.json()["message"] == (
        "The number owner must be verified inside TGO Connect before using the sending API."
    )
    # Missing scope → 403 naming it.
    from tgo.models import Tenant

    async with runtime.db.session_scope() as s:
        tenant = await s.get(Tenant, pending["id"] and 1)
        assert tenant is not None
    from tgo.apikeys.service import create_api_key

    async with runtime.db.session_scope() as s:
        _, read_only = await create_api_key(s, tenant.id, name="ro", scopes="messages.read")
    r = await client.post("/api/v1/messages", json=TEXT, headers={"X-Api-Key": read_only})
    assert r.status_code == 403 and r.json()["required_scope"] == "messages.send"
    # Recipient unreachable, with the lookup's reason code.
    r = await client.post("/api/v1/messages", json=TEXT | {"to_phone": "+201010000098"}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "recipient_unreachable"
    assert r.json()["reason_code"] == "not_found"
    # 401 for a missing or revoked key.
    r = await client.post("/api/v1/messages", json=TEXT)
    assert r.status_code == 401 and r.json() == {"message": "Unauthenticated."}


async def test_checks_run_in_the_documented_order(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], connect: ConnectHelper
) -> None:
    # A bad body is reported before anything about the sender.
    r = await client.post(
        "/api/v1/messages", json={"sender_phone": "+201001187000", "type": "text"}, headers=headers
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert {"to_phone", "content"} <= set(r.json()["errors"])
    r = await client.post("/api/v1/messages", json=TEXT | {"sender_number_id": 1}, headers=headers)
    assert r.json()["code"] == "validation_failed" and "sender_phone" in r.json()["errors"]
    # Unknown sender → sender_not_found, before the recipient is checked.
    r = await client.post(
        "/api/v1/messages",
        json=TEXT | {"sender_phone": "+201001187000", "to_phone": "+201010000097"},
        headers=headers,
    )
    assert r.json()["code"] == "sender_not_found"
    bad: object
    for bad in ([], "x", {"type": "image", "to_phone": RECIPIENT, "sender_phone": OWNER}):
        r = await client.post("/api/v1/messages", json=bad, headers=headers)
        assert r.status_code == 422, bad
    r = await client.post(
        "/api/v1/messages", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = await client.post(
        "/api/v1/messages", content=b"a=b", headers={**headers, "Content-Type": "text/plain"}
    )
    assert r.status_code == 415


async def test_idempotency_key(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], connect: ConnectHelper
) -> None:
    h = {**headers, "Idempotency-Key": "order-42"}
    first = await client.post("/api/v1/messages", json=TEXT, headers=h)
    again = await client.post("/api/v1/messages", json=TEXT, headers=h)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post("/api/v1/messages", json=TEXT | {"content": "different"}, headers=h)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    await wait_status(client, headers, first.json()["id"], "delivered")
    inbox = [m for m in await connect.inbox(RECIPIENT) if m.content == TEXT["content"]]
    assert len(inbox) == 1
    # Concurrent requests with one key: exactly one message.
    hc = {**headers, "Idempotency-Key": "burst"}
    results = await asyncio.gather(
        *(client.post("/api/v1/messages", json=TEXT, headers=hc) for _ in range(5))
    )
    created = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(created) == 1 and all(r.status_code in (201, 409) for r in results)
    # A failed request frees its key.
    hf = {**headers, "Idempotency-Key": "fix-me"}
    assert (
        await client.post("/api/v1/messages", json=TEXT | {"to_phone": "+201010000096"}, headers=hf)
    ).status_code == 422
    assert (await client.post("/api/v1/messages", json=TEXT, headers=hf)).status_code == 201


async def test_pagination_is_stable_under_concurrent_inserts(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    for i in range(12):
        await client.post("/api/v1/messages", json=TEXT | {"content": f"a{i}"}, headers=headers)
    seen, cursor, extra = [], None, 0
    while True:
        params = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/messages", params=params, headers=headers)).json()
        seen += [m["id"] for m in page["data"]]
        # Insert while paging: new messages must not shift the pages already cut.
        for _ in range(3):
            await client.post("/api/v1/messages", json=TEXT | {"content": f"b{extra}"}, headers=headers)
            extra += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 12
    assert seen == sorted(seen, reverse=True)


async def test_oversized_json_and_odd_bodies_get_clear_4xx(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    big = b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = await client.post(
        "/api/v1/messages", content=big, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = await client.post(
        "/api/v1/sender-numbers", content=big, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    r = await client.post(
        "/api/v1/sender-numbers", content=b"[1,2", headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = await client.post("/api/v1/sender-numbers", json=["not", "an", "object"], headers=headers)
    assert r.status_code in (400, 422) and "code" in r.json()


async def test_time_range_pages_walk_the_range_newest_first(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], frozen_clock: Clock
) -> None:
    """since/until pages are keyed by (queued_at, id): every message of the range once, newest first, while
    newer messages keep arriving; a tampered cursor is a 422, not a 500."""
    start = frozen_clock.current
    sent = []
    for i in range(12):
        r = await client.post("/api/v1/messages", json=TEXT | {"content": f"t{i}"}, headers=headers)
        assert r.status_code == 201, r.text
        sent.append(r.json()["id"])
        frozen_clock.advance(seconds=60)
    since, until = start + timedelta(minutes=2), start + timedelta(minutes=10)  # messages t2 .. t9
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, "since": since.isoformat(), "until": until.isoformat()}
        page = (
            await client.get(
                "/api/v1/messages", params=params | ({"cursor": cursor} if cursor else {}), headers=headers
            )
        ).json()
        seen += [m["id"] for m in page["data"]]
        await client.post("/api/v1/messages", json=TEXT | {"content": "later"}, headers=headers)
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(sent[2:10]))
    for bad in (
        encode_cursor(id="abc"),
        encode_cursor(id=5, queued_at="yesterday"),
        encode_cursor(id=5, queued_at="2026-01-01T00:00:00"),
    ):
        r = await client.get("/api/v1/messages", params=params | {"cursor": bad}, headers=headers)
        assert r.status_code == 422 and "cursor" in r.json()["errors"], r.text


async def test_tampered_cursors_are_422_on_every_id_keyed_list(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any]
) -> None:
    for bad in (
        encode_cursor(id="abc"),
        encode_cursor(id=2**70),
        encode_cursor(id=1.5),
        encode_cursor(id=True),
    ):
        for path in ("/api/v1/messages", "/api/v1/sender-numbers", "/api/v1/webhooks"):
            r = await client.get(path, params={"cursor": bad}, headers=headers)
            assert r.status_code == 422 and "cursor" in r.json()["errors"], (path, r.text)
