"""Opt-out (issue 18): STOP and its Arabic forms put the contact on the tenant's suppression list, START takes
it off, HELP answers; the send, the lookup and a delivery already queued all honour it; the list's API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.conftest import MakeKey, MakeTenant
from tests.conversations.conftest import CONTACT, CONTACT_AR, OWNER, eventually
from tests.fixtures.connect import ConnectHelper
from tests.webhooks.receiver import Receiver
from tgo.config import Settings
from tgo.optouts.keywords import Keyword, classify


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A failed delivery is retried after ~2 s: time for a STOP to arrive while the message waits.
    return settings.model_copy(
        update={
            "delivery_retry_base_seconds": 2.0,
            "delivery_retry_max_seconds": 2.0,
            "sweeper_interval_seconds": 0.2,
            "sweeper_stale_seconds": 0.5,
        }
    )


@pytest.fixture
async def receiver() -> Any:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Keyword.STOP),
        ("  stop \n", Keyword.STOP),
        ("StopAll", Keyword.STOP),
        ("unsubscribe", Keyword.STOP),
        ("Cancel", Keyword.STOP),
        ("END", Keyword.STOP),
        ("quit", Keyword.STOP),
        ("إيقاف", Keyword.STOP),
        (" توقف ", Keyword.STOP),
        ("الغاء", Keyword.STOP),
        ("إلغاء", Keyword.STOP),
        ("START", Keyword.START),
        ("unstop", Keyword.START),
        ("Yes", Keyword.START),
        ("ابدأ", Keyword.START),
        ("help", Keyword.HELP),
        ("مساعدة", Keyword.HELP),
        ("stop please", None),
        ("STOP!", None),
        ("stopp", None),
        ("", None),
        (None, None),
    ],
)
def test_the_keyword_table(text: str | None, expected: Keyword | None) -> None:
    assert classify(text) is expected


async def opt_outs(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/opt-outs", headers=headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def send(
    client: httpx.AsyncClient, headers: dict[str, str], to: str, text: str = "Offer!", **kw: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/messages",
        json={"sender_phone": OWNER, "to_phone": to, "type": "text", "content": text},
        headers=headers | kw,
    )


async def inbox_texts(connect: ConnectHelper, phone: str) -> list[str]:
    return [m.content or "" for m in await connect.inbox(phone)]


@pytest.mark.parametrize(("word", "phone", "lang"), [("STOP", CONTACT, "en"), ("إيقاف", CONTACT_AR, "ar")])
async def test_stop_suppresses_and_start_restores(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connect: ConnectHelper,
    sender: Any,
    word: str,
    phone: str,
    lang: str,
) -> None:
    await connect.client.write(phone, OWNER, content=word)
    [entry] = await eventually(lambda: opt_outs(client, headers))
    assert entry["phone"] == phone and entry["channel"] == "connect" and entry["source"] == "keyword"

    # The confirmation, in the contact's language, from the business's number.
    confirmation = "no longer receive" if lang == "en" else "لن تصلك رسائل"
    texts = await eventually(lambda: _containing(connect, phone, confirmation))
    assert any("Support" in t for t in texts)

    r = await send(client, headers, phone, **{"Accept-Language": lang})
    assert r.status_code == 422 and r.json()["code"] == "recipient_opted_out", r.text
    assert ("START" in r.json()["message"]) if lang == "en" else ("ألغى" in r.json()["message"])
    lookup = (await client.get("/api/v1/contacts/lookup", params={"phone": phone}, headers=headers)).json()
    assert (
        lookup["can_receive"] is False and lookup["reason_code"] == "opted_out" and lookup["exists"] is True
    )
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    assert conv["opted_out"] is True

    await connect.client.write(phone, OWNER, content="START" if lang == "en" else "ابدأ")
    await eventually(lambda: _none_left(client, headers))
    assert (await send(client, headers, phone)).status_code == 201
    lookup = (await client.get("/api/v1/contacts/lookup", params={"phone": phone}, headers=headers)).json()
    assert lookup["can_receive"] is True and lookup["reason_code"] == "ok"


async def _containing(connect: ConnectHelper, phone: str, part: str) -> list[str]:
    return [t for t in await inbox_texts(connect, phone) if part in t]


async def _none_left(client: httpx.AsyncClient, headers: dict[str, str]) -> bool:
    return await opt_outs(client, headers) == []


async def test_help_answers_with_the_tenants_text_and_confirmations_can_be_turned_off(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    r = await client.put(
        "/api/v1/opt-outs/settings",
        json={"confirmations": False, "help_text": "Acme support: call 19000."},
        headers=headers,
    )
    assert r.status_code == 200 and r.json() == {
        "confirmations": False,
        "help_text": "Acme support: call 19000.",
    }
    await connect.client.write(CONTACT, OWNER, content="HELP")
    await eventually(lambda: _containing(connect, CONTACT, "Acme support: call 19000."))
    await connect.client.write(CONTACT, OWNER, content="stop")
    await eventually(lambda: opt_outs(client, headers))
    # HELP and STOP both reached the conversation; STOP had no confirmation (turned off).
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    assert conv["unread_count"] == 2 and conv["opted_out"] is True
    assert not await _containing(connect, CONTACT, "no longer receive")


async def test_an_unknown_keyword_is_an_ordinary_message(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    await connect.client.write(CONTACT, OWNER, content="Stop sending me the blue one, I want red")
    [conv] = await eventually(lambda: _conversations(client, headers))
    assert conv["opted_out"] is False
    assert await opt_outs(client, headers) == []
    assert (await send(client, headers, CONTACT)).status_code == 201


async def _conversations(client: httpx.AsyncClient, headers: dict[str, str]) -> Any:
    return (await client.get("/api/v1/conversations", headers=headers)).json()["data"]


async def test_a_stop_racing_a_queued_message_fails_it_at_delivery(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    await connect.client.fail_next_messages(1)  # the first attempt fails: the message waits for its retry
    r = await send(client, headers, CONTACT, text="Flash sale")
    assert r.status_code == 201, r.text
    message_id = r.json()["id"]

    async def attempted() -> bool:
        body = (await client.get(f"/api/v1/messages/{message_id}", headers=headers)).json()
        return bool(body["status"] == "queued" and "retrying" in (body["failure_reason"] or ""))

    await eventually(attempted)
    await connect.client.write(CONTACT, OWNER, content="STOP")
    await eventually(lambda: opt_outs(client, headers))

    async def failed() -> Any:
        body = (await client.get(f"/api/v1/messages/{message_id}", headers=headers)).json()
        return body if body["status"] == "failed" else None

    body = await eventually(failed)
    assert body["failure_code"] == "recipient_opted_out"
    assert "Flash sale" not in await inbox_texts(connect, CONTACT)


async def test_a_confirmation_is_a_queued_message_that_is_retried_and_shown_in_the_conversation(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    """A STOP's confirmation whose first attempt fails (Connect answers 503) is retried and delivered to the
    phone that just opted out; it is an outbound message of the conversation, not a fire-and-forget call."""
    await connect.client.fail_next_messages(1)
    await connect.client.write(CONTACT, OWNER, content="STOP")
    await eventually(lambda: opt_outs(client, headers))
    texts = await eventually(lambda: _containing(connect, CONTACT, "no longer receive"), timeout=20.0)
    assert len(texts) == 1  # delivered once, on its retry
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    thread = (await client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=headers)).json()[
        "data"
    ]
    [reply] = [m for m in thread if m["direction"] == "outbound"]
    assert "no longer receive" in reply["content"] and reply["to_phone"] == CONTACT
    assert reply["status"] in ("sent", "delivered", "read"), reply


async def test_the_opt_out_list_api(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: Any,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    r = await client.post(
        "/api/v1/opt-outs", json={"phone": CONTACT, "source": "crm-import"}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "crm-import" and r.json()["channel"] == "connect"
    again = await client.post("/api/v1/opt-outs", json={"phone": CONTACT, "source": "other"}, headers=headers)
    assert again.status_code == 200 and again.json()["source"] == "crm-import"
    bad = await client.post(
        "/api/v1/opt-outs", json={"phone": "12", "channel": "fax", "source": ""}, headers=headers
    )
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"phone", "channel", "source"}
    assert (await send(client, headers, CONTACT)).json()["code"] == "recipient_opted_out"

    # Another tenant's list is its own.
    other = {"X-Api-Key": await make_key(await make_tenant("other"))}
    assert await opt_outs(client, other) == []
    r = await client.delete(f"/api/v1/opt-outs/{CONTACT}", headers=other)
    assert r.status_code == 404 and r.json()["code"] == "opt_out_not_found"

    r = await client.delete(f"/api/v1/opt-outs/{CONTACT}", headers=headers)
    assert r.status_code == 204
    assert await opt_outs(client, headers) == []
    assert (await send(client, headers, CONTACT)).status_code == 201


async def test_message_received_and_opt_out_webhooks_arrive_signed(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connect: ConnectHelper,
    sender: Any,
    receiver: Receiver,
) -> None:
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": receiver.url, "events": ["message.received", "contact.opted_out", "contact.opted_in"]},
    )
    assert r.status_code == 201, r.text
    verifier = StandardWebhook(r.json()["secret"])
    await connect.client.write(CONTACT, OWNER, content="hi there")
    await connect.client.write(CONTACT, OWNER, content="STOP")
    await connect.client.write(CONTACT, OWNER, content="START")

    async def five() -> bool:
        return len(receiver.delivered) >= 5

    await eventually(five)
    got = sorted(
        (verifier.verify(q.body, q.headers) for q in receiver.delivered), key=lambda p: p["sequence"]
    )
    assert [p["type"] for p in got] == [
        "message.received",
        "message.received",
        "contact.opted_out",
        "message.received",
        "contact.opted_in",
    ]
    first = got[0]["data"]
    assert (
        first["direction"] == "inbound" and first["from_phone"] == CONTACT and first["content"] == "hi there"
    )
    assert first["conversation_id"] >= 1
    assert got[2]["data"]["phone"] == CONTACT and got[2]["data"]["source"] == "keyword"
