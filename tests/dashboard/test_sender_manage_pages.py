"""Rename and delete a sender number from the dashboard; usage KPIs (delivery and read rates per sender,
senders with no traffic listed) (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import MakeKey, MakeTenant
from tests.dashboard.conftest import RECIPIENT, SENDER, csrf_of, wait_status
from tests.fixtures.connect import ConnectHelper
from tgo.usage.service import rates


async def test_rename_then_delete_a_sender_number(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int
) -> None:
    detail_url = f"/dashboard/sender-numbers/{active_sender}"
    detail = await signed_in.get(detail_url)
    renamed = await signed_in.post(
        detail_url + "/rename", data={"display_name": "  فريق الدعم  ", "_csrf": csrf_of(detail.text)}
    )
    assert renamed.status_code == 303
    api = (await signed_in.get(f"/api/v1/sender-numbers/{active_sender}", headers=headers)).json()
    assert api["display_name"] == "فريق الدعم"
    shown = await signed_in.get(detail_url)
    assert "The display name was saved." in shown.text and "فريق الدعم" in shown.text

    too_long = await signed_in.post(
        detail_url + "/rename", data={"display_name": "x" * 101, "_csrf": csrf_of(detail.text)}
    )
    assert too_long.status_code == 422
    assert "at most 100 characters" in too_long.text
    api = (await signed_in.get(f"/api/v1/sender-numbers/{active_sender}", headers=headers)).json()
    assert api["display_name"] == "فريق الدعم"  # unchanged

    cleared = await signed_in.post(
        detail_url + "/rename", data={"display_name": " ", "_csrf": csrf_of(detail.text)}
    )
    assert cleared.status_code == 303
    api = (await signed_in.get(f"/api/v1/sender-numbers/{active_sender}", headers=headers)).json()
    assert api["display_name"] is None

    sent = await signed_in.post(
        "/api/v1/messages",
        json={"sender_number_id": active_sender, "to_phone": RECIPIENT, "type": "text", "content": "kept"},
        headers=headers,
    )
    assert sent.status_code == 201
    confirm = await signed_in.get(detail_url + "/delete")
    assert confirm.status_code == 200 and f'<bdi dir="ltr" class="phone">{SENDER}</bdi>' in confirm.text
    deleted = await signed_in.post(detail_url + "/delete", data={"_csrf": csrf_of(confirm.text)})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/dashboard/sender-numbers"
    listing = await signed_in.get("/dashboard/sender-numbers")
    assert f"The sender number {SENDER} was deleted." in listing.text
    assert f'data-sender-id="{active_sender}"' not in listing.text
    assert (await signed_in.get(detail_url)).status_code == 404
    assert (
        await signed_in.get(f"/api/v1/sender-numbers/{active_sender}", headers=headers)
    ).status_code == 404
    assert "kept" in (await signed_in.get("/dashboard/messages")).text  # its messages stay


async def test_another_tenants_number_cannot_be_renamed_or_deleted(
    signed_in: httpx.AsyncClient,
    headers: dict[str, str],
    make_tenant: MakeTenant,
    make_key: MakeKey,
    connect: ConnectHelper,
) -> None:
    other = await make_tenant("other")
    other_headers = {"X-Api-Key": await make_key(other, "*")}
    await connect.account("+201001187300", verified=True)
    theirs = (
        await signed_in.post("/api/v1/sender-numbers", json={"phone": "+201001187300"}, headers=other_headers)
    ).json()
    page = await signed_in.get("/dashboard/sender-numbers")
    base = f"/dashboard/sender-numbers/{theirs['id']}"
    assert (
        await signed_in.post(base + "/rename", data={"display_name": "x", "_csrf": csrf_of(page.text)})
    ).status_code == 404
    assert (await signed_in.get(base + "/delete")).status_code == 404
    assert (await signed_in.post(base + "/delete", data={"_csrf": csrf_of(page.text)})).status_code == 404
    still = await signed_in.get(f"/api/v1/sender-numbers/{theirs['id']}", headers=other_headers)
    assert still.status_code == 200 and still.json()["display_name"] is None


def test_rates() -> None:
    assert rates({"queued": 3}) == rates({}) and rates({}).delivery is None and rates({}).read is None
    r = rates({"queued": 5, "sent": 1, "delivered": 2, "read": 1, "failed": 1})
    assert r.delivery == 3 / 5 and r.read == 1 / 3


async def test_usage_kpis_per_sender_and_idle_senders(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int, connect: ConnectHelper
) -> None:
    await connect.account("+201001187301", verified=True)
    idle = (
        await signed_in.post("/api/v1/sender-numbers", json={"phone": "+201001187301"}, headers=headers)
    ).json()
    delivered = await signed_in.post(
        "/api/v1/messages",
        json={"sender_phone": SENDER, "to_phone": RECIPIENT, "type": "text", "content": "one"},
        headers=headers,
    )
    await wait_status(signed_in, headers, delivered.json()["id"], "delivered")
    usage = await signed_in.get("/dashboard/usage")
    assert usage.status_code == 200
    kpis = re.search(r'<table id="usage-kpis".*?</table>', usage.text, re.S)
    assert kpis
    row = re.search(rf'<tr data-sender-id="{active_sender}">(.*?)</tr>', kpis.group(0), re.S)
    assert row
    assert re.search(r'<td [^>]*class="delivery-rate"><bdi dir="ltr">100.0 %</bdi></td>', row.group(1))
    assert re.search(r'<td [^>]*class="read-rate"><bdi dir="ltr">0.0 %</bdi></td>', row.group(1))
    idle_list = re.search(r'<ul id="idle-senders".*?</ul>', usage.text, re.S)
    assert idle_list and f'href="/dashboard/sender-numbers/{idle["id"]}"' in idle_list.group(0)
    assert f'/sender-numbers/{active_sender}"' not in idle_list.group(0)
