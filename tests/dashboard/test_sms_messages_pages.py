"""SMS in the dashboard: the SMS log and detail (status, segments, encoding, errorCode, filters), SMS in Usage
(defect 1: two SMS sent through /v1/sms/messages appeared on no page), and sending an SMS with its encoding
and segments previewed (in process, SQLite and PostgreSQL; the sandbox carrier)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import httpx

from tests.conftest import MakeTenant
from tests.dashboard.conftest import assert_beside, csrf_of, log_in
from tests.sms.helpers import verified_sender, wait_message

ARABIC = "رمز التحقق الخاص بك هو 4821، صالح لمدة عشر دقائق فقط. لا تشاركه مع أي شخص."


async def test_two_sms_from_the_api_appear_in_the_log_detail_and_usage(
    signed_in: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    sender = await verified_sender(signed_in, headers)
    first = await signed_in.post(
        "/v1/sms/messages",
        json={"senderId": sender["id"], "to": "+61412345678", "body": "Your code is 1234"},
        headers=headers,
    )
    second = await signed_in.post(
        "/v1/sms/messages",
        json={"senderId": sender["id"], "to": "+61412340000", "body": ARABIC},
        headers=headers,
    )
    assert first.status_code == 201 and second.status_code == 201, (first.text, second.text)
    await wait_message(signed_in, headers, first.json()["id"], "delivered")
    undelivered = await wait_message(signed_in, headers, second.json()["id"], "undelivered")
    assert undelivered["errorCode"]

    log = await signed_in.get("/dashboard/sms-messages")
    assert log.status_code == 200
    assert (
        f'data-sms-id="{first.json()["id"]}"' in log.text
        and f'data-sms-id="{second.json()["id"]}"' in log.text
    )
    assert '<bdi dir="ltr" class="phone">+61412345678</bdi>' in log.text
    assert 'sms-status">Delivered<' in log.text and 'sms-status">Undelivered<' in log.text
    only_delivered = await signed_in.get("/dashboard/sms-messages", params={"status": "delivered"})
    assert first.json()["id"] in only_delivered.text and second.json()["id"] not in only_delivered.text
    by_sender = await signed_in.get("/dashboard/sms-messages", params={"sender": sender["id"]})
    assert first.json()["id"] in by_sender.text and second.json()["id"] in by_sender.text
    assert (await signed_in.get("/dashboard/sms-messages", params={"status": "bogus"})).status_code == 422

    detail = await signed_in.get(f"/dashboard/sms-messages/{second.json()['id']}")
    assert detail.status_code == 200
    assert f'<dd class="message-content" dir="auto" id="sms-body">{ARABIC}</dd>' in detail.text
    assert 'id="sms-encoding">UCS-2 (Unicode)<' in detail.text
    assert f'id="sms-segments"><bdi dir="ltr">{second.json()["segments"]}</bdi>' in detail.text
    assert second.json()["segments"] == 2
    assert f'<code dir="ltr">{undelivered["errorCode"]}</code>' in detail.text
    assert 'data-status="undelivered"' in detail.text
    first_detail = await signed_in.get(f"/dashboard/sms-messages/{first.json()['id']}")
    assert 'id="sms-encoding">GSM-7<' in first_detail.text

    usage = await signed_in.get("/dashboard/usage")
    row = re.search(rf'<tr data-sms-sender-id="{sender["id"]}">(.*?)</tr>', usage.text, re.S)
    assert row, usage.text
    assert re.search(r'<td [^>]*class="sms-total"><bdi dir="ltr">2</bdi></td>', row.group(1))
    assert re.search(r'<td [^>]*class="sms-segments"><bdi dir="ltr">3</bdi></td>', row.group(1))
    exported = await signed_in.get("/dashboard/usage.csv")
    assert exported.status_code == 200
    sms_rows = [r for r in csv.DictReader(io.StringIO(exported.text)) if r["channel"] == "sms"]
    today = datetime.now(UTC).date().isoformat()
    assert [
        (r["day"], r["sms_sender_id"], r["sms_sender"], r["sms_from"], r["total"], r["segments"])
        for r in sms_rows
    ] == [(today, sender["id"], sender["name"], sender["senderId"], "2", "3")]
    assert (sms_rows[0]["delivered"], sms_rows[0]["undelivered"], sms_rows[0]["read"]) == ("1", "1", "")
    assert sms_rows[0]["sender_number_id"] == "" and sms_rows[0]["text"] == ""
    assert "/dashboard/sms-messages" in (await signed_in.get("/dashboard/messages")).text


async def test_send_an_sms_from_the_dashboard_with_the_preview(
    signed_in: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    sender = await verified_sender(signed_in, headers)
    preview = await signed_in.get("/dashboard/sms-messages/preview", params={"body": "x" * 161})
    assert "161 characters, 2 SMS segment(s)" in preview.text and ">GSM-7<" in preview.text
    arabic = await signed_in.get("/dashboard/sms-messages/preview", params={"body": "مرحبا"})
    assert "5 characters, 1 SMS segment(s)" in arabic.text and ">UCS-2 (Unicode)<" in arabic.text

    page = await signed_in.get("/dashboard/sms-messages/new")
    assert f'<option value="{sender["id"]}"' in page.text
    sent = await signed_in.post(
        "/dashboard/sms-messages/new",
        data={
            "sender_id": sender["id"],
            "to": "+61412345678",
            "body": "Hello from the dashboard",
            "_csrf": csrf_of(page.text),
        },
    )
    assert sent.status_code == 303, sent.text
    message_id = sent.headers["location"].rsplit("/", 1)[1]
    await wait_message(signed_in, headers, message_id, "delivered")
    detail = await signed_in.get(sent.headers["location"])
    assert "The SMS was accepted" in detail.text
    assert 'data-status="delivered"' in detail.text and "Hello from the dashboard" in detail.text
    status = await signed_in.get(f"/dashboard/sms-messages/{message_id}/status")
    assert (
        'data-status="delivered"' in status.text and "hx-get" not in status.text
    )  # settled: no more polling

    refused = await signed_in.post(
        "/dashboard/sms-messages/new",
        data={"sender_id": sender["id"], "to": "+2010", "body": "", "_csrf": csrf_of(page.text)},
    )
    assert refused.status_code == 422
    assert_beside(refused.text, "sms-send-body", "body-error", "The message body is required.")
    assert_beside(refused.text, "sms-send-to", "to-error", "Must be a valid phone number")
    unknown = await signed_in.post(
        "/dashboard/sms-messages/new",
        data={"sender_id": "not-a-sender", "to": "+61412345678", "body": "hi", "_csrf": csrf_of(page.text)},
    )
    assert unknown.status_code == 422
    assert_beside(unknown.text, "sms-send-sender", "sender-id-error", "Must be the id (UUID)")


async def test_an_inactive_sender_is_not_offered_and_another_tenants_sms_is_missing(
    signed_in: httpx.AsyncClient, headers: dict[str, str], make_tenant: MakeTenant
) -> None:
    sender = await verified_sender(signed_in, headers)
    sent = await signed_in.post(
        "/v1/sms/messages",
        json={"senderId": sender["id"], "to": "+61412345678", "body": "mine"},
        headers=headers,
    )
    other = await make_tenant("other")
    from tgo.users.service import create_user

    runtime = signed_in._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session_scope() as session:
        await create_user(session, other.id, email="someone@other.example", password="password-other")
    signed_in.cookies.clear()
    await log_in(signed_in, "someone@other.example", "password-other")
    assert (await signed_in.get(f"/dashboard/sms-messages/{sent.json()['id']}")).status_code == 404
    assert (await signed_in.get("/dashboard/sms-messages/not-a-uuid")).status_code == 404
    log = await signed_in.get("/dashboard/sms-messages")
    assert "No SMS messages match." in log.text
    page = await signed_in.get("/dashboard/sms-messages/new")
    assert 'id="no-sender"' in page.text
    theirs = await signed_in.post(
        "/dashboard/sms-messages/new",
        data={"sender_id": sender["id"], "to": "+61412345678", "body": "hi", "_csrf": csrf_of(page.text)},
    )
    assert theirs.status_code == 422 and "No SMS sender with this id exists." in theirs.text
    assert "usage-sms" in (usage := (await signed_in.get("/dashboard/usage")).text)
    assert sender["id"] not in usage
