"""The message log's search (id, part of a phone number, text), its result count, and the CSV export of
the filtered log, streamed over keyset pages (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.dashboard.conftest import RECIPIENT, SENDER
from tgo.dashboard.pages import messages as messages_page


async def send_text(client: httpx.AsyncClient, headers: dict[str, str], content: str) -> int:
    sent = await client.post(
        "/api/v1/messages",
        json={"sender_phone": SENDER, "to_phone": RECIPIENT, "type": "text", "content": content},
        headers=headers,
    )
    assert sent.status_code == 201, sent.text
    return int(sent.json()["id"])


def shown_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-message-id="(\d+)">', html)]


def count_of(html: str) -> str:
    found = re.search(r'<span id="result-count" role="status">([^<]+)</span>', html)
    assert found, html
    return found.group(1)


async def test_search_by_id_phone_and_text_with_a_count(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int
) -> None:
    invoice = await send_text(signed_in, headers, "Your INVOICE 42 is ready")
    otp = await send_text(signed_in, headers, "رمز الدخول 1234")
    percent = await send_text(signed_in, headers, "50% off today")
    everything = await signed_in.get("/dashboard/messages")
    assert count_of(everything.text) == "Messages found: 3"

    by_text = await signed_in.get("/dashboard/messages", params={"q": "invoice"})
    assert shown_ids(by_text.text) == [invoice]
    assert count_of(by_text.text) == "Messages found: 1"
    arabic = await signed_in.get("/dashboard/messages", params={"q": "الدخول"})
    assert shown_ids(arabic.text) == [otp]
    by_id = await signed_in.get("/dashboard/messages", params={"q": str(percent)})
    assert percent in shown_ids(by_id.text)
    partial_phone = await signed_in.get("/dashboard/messages", params={"q": RECIPIENT[-5:]})
    assert sorted(shown_ids(partial_phone.text)) == sorted([invoice, otp, percent])
    no_phone = await signed_in.get("/dashboard/messages", params={"q": "+4477"})
    assert shown_ids(no_phone.text) == [] and count_of(no_phone.text) == "Messages found: 0"
    wildcard = await signed_in.get("/dashboard/messages", params={"q": "%"})  # a literal %, not "anything"
    assert shown_ids(wildcard.text) == [percent]
    combined = await signed_in.get("/dashboard/messages", params={"q": "1234", "status": "failed"})
    assert shown_ids(combined.text) == []
    assert 'value="1234"' in combined.text  # the search box keeps the query


async def test_csv_export_of_the_filtered_log_is_streamed_over_keyset_pages(
    signed_in: httpx.AsyncClient,
    headers: dict[str, str],
    active_sender: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [await send_text(signed_in, headers, f"order {i}") for i in range(7)]
    formula = await send_text(signed_in, headers, '=HYPERLINK("http://evil")')
    monkeypatch.setattr(messages_page, "EXPORT_PAGE_SIZE", 3)  # 8 rows: three keyset pages
    log = await signed_in.get("/dashboard/messages", params={"q": "order"})
    link = re.search(r'<a href="(messages\.csv\?[^"]+)" id="messages-csv"', log.text)
    assert link and link.group(1) == "messages.csv?q=order"
    async with signed_in.stream("GET", "/dashboard/messages.csv", params={"q": "order"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].startswith('attachment; filename="messages-')
        assert "content-length" not in response.headers  # streamed, not built first
        chunks = [chunk async for chunk in response.aiter_text()]
    body = "".join(chunks)
    assert body.startswith("\ufeffid,queued_at,sender_phone,to_phone,type,status,content")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert [int(r["id"]) for r in rows] == sorted(ids, reverse=True)  # every match once, newest first
    assert {r["to_phone"] for r in rows} == {RECIPIENT} and rows[-1]["content"] == "order 0"

    everything = await signed_in.get("/dashboard/messages.csv")
    all_rows = list(csv.DictReader(io.StringIO(everything.text.lstrip("\ufeff"))))
    assert len(all_rows) == 8
    cell = next(r["content"] for r in all_rows if int(r["id"]) == formula)
    assert cell == '\'=HYPERLINK("http://evil")'  # a spreadsheet does not run it

    bad = await signed_in.get("/dashboard/messages.csv", params={"to": "12"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]


async def test_another_tenants_messages_are_not_exported(
    signed_in: httpx.AsyncClient,
    headers: dict[str, str],
    active_sender: int,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    mine = await send_text(signed_in, headers, "secret order")
    other = await make_tenant("other")
    from tgo.users.service import create_user

    runtime = signed_in._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session_scope() as session:
        await create_user(session, other.id, email="someone@other.example", password="password-other")
    signed_in.cookies.clear()
    from tests.dashboard.conftest import log_in

    await log_in(signed_in, "someone@other.example", "password-other")
    exported = await signed_in.get("/dashboard/messages.csv")
    assert exported.text.lstrip("\ufeff").count("\r\n") == 1  # the header only
    found = await signed_in.get("/dashboard/messages", params={"q": str(mine)})
    assert shown_ids(found.text) == [] and count_of(found.text) == "Messages found: 0"


async def test_the_csv_export_takes_every_filter_the_log_takes(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int
) -> None:
    # The page and its export read the filter form from one parser: each filter narrows both alike.
    ids = [await send_text(signed_in, headers, f"note {i}") for i in range(3)]
    today = datetime.now(UTC).date()
    cases: list[tuple[dict[str, str], list[int]]] = [
        ({}, ids),
        ({"q": "note 1"}, [ids[1]]),
        ({"sender": str(active_sender)}, ids),
        ({"sender": str(active_sender + 1000)}, []),
        ({"to": RECIPIENT}, ids),
        ({"type": "text"}, ids),
        ({"type": "image"}, []),
        ({"status": "failed", "q": "no such text"}, []),
        (
            {
                "since": (today - timedelta(days=1)).isoformat(),
                "until": (today + timedelta(days=1)).isoformat(),
            },
            ids,
        ),
        ({"until": (today - timedelta(days=2)).isoformat()}, []),
        ({"since": (today + timedelta(days=2)).isoformat()}, []),
    ]
    for params, expected in cases:
        page = await signed_in.get("/dashboard/messages", params=params)
        assert page.status_code == 200, (params, page.text)
        exported = await signed_in.get("/dashboard/messages.csv", params=params)
        assert exported.status_code == 200, (params, exported.text)
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert sorted(shown_ids(page.text)) == sorted(int(r["id"]) for r in rows) == sorted(expected), params
    for bad in ({"since": "not-a-day"}, {"until": "2026-13-40"}):
        assert (await signed_in.get("/dashboard/messages", params=bad)).status_code == 422
        assert (await signed_in.get("/dashboard/messages.csv", params=bad)).status_code == 422
