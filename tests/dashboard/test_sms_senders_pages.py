"""SMS senders pages: add, verify (the sandbox carrier decides), rejection reason, delete (in process)."""

from __future__ import annotations

import asyncio
import re

import httpx

from tests.dashboard.conftest import csrf_of


async def add(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/dashboard/sms-senders")
    data = {"default_message_type": "transactional", **fields, "_csrf": csrf_of(page.text)}
    return await client.post("/dashboard/sms-senders", data=data)


async def verify_and_wait(client: httpx.AsyncClient, detail_url: str) -> str:
    detail = await client.get(detail_url)
    started = await client.post(detail_url + "/verify", data={"_csrf": csrf_of(detail.text)})
    assert started.status_code == 303
    status = ""
    for _ in range(200):
        status = (await client.get(detail_url + "/status")).text
        if 'data-status="pending"' not in status:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"the carrier never decided: {status}")


async def test_add_verify_active_transactional_only(signed_in: httpx.AsyncClient) -> None:
    added = await add(
        signed_in, name="Acme EG", sender_type="alphanumeric_id", sender_id="ACME", country="eg"
    )
    assert added.status_code == 303, added.text
    detail_url = added.headers["location"]
    detail = await signed_in.get(detail_url)
    assert 'data-status="not_started"' in detail.text and "Start verification" in detail.text
    status = await verify_and_wait(signed_in, detail_url)
    assert 'data-status="active"' in status
    assert "Transactional only" in status
    listing = await signed_in.get("/dashboard/sms-senders")
    assert "ACME" in listing.text and "Active" in listing.text


async def test_rejected_with_reason_and_delete(signed_in: httpx.AsyncClient) -> None:
    added = await add(
        signed_in, name="Acme US", sender_type="alphanumeric_id", sender_id="ACME", country="US"
    )
    detail_url = added.headers["location"]
    status = await verify_and_wait(signed_in, detail_url)
    assert 'data-status="rejected"' in status
    reason = re.search(
        r'<p id="rejection-reason"><strong>Reason:</strong> <span dir="auto">([^<]+)</span></p>', status
    )
    assert reason and reason.group(1).strip()
    assert "Verify again" in status
    confirm = await signed_in.get(detail_url + "/delete")
    deleted = await signed_in.post(detail_url + "/delete", data={"_csrf": csrf_of(confirm.text)})
    assert deleted.status_code == 303
    assert "No SMS senders yet." in (await signed_in.get("/dashboard/sms-senders")).text


async def test_invalid_sender_is_explained(signed_in: httpx.AsyncClient) -> None:
    bad = await add(signed_in, name="x", sender_type="short_code", sender_id="12", country="ZZ")
    assert bad.status_code == 422
    # Each problem beside its field (aria-invalid, described by the error), no generic line above the form.
    assert 'id="sender-id-error"' in bad.text and 'id="country-error"' in bad.text
    assert 'aria-invalid="true" aria-describedby="country-error sms-country-hint"' in bad.text
    assert "The given data was invalid." not in bad.text
    unknown = await signed_in.get("/dashboard/sms-senders/not-a-uuid")
    assert unknown.status_code == 404
