"""The reply box on Connect's inbox page (issue 18): the phone answers a business from its browser inbox and
the Business side gets the message; a reply to a number that is no active sender number says why."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conversations.conftest import CONTACT, OWNER, eventually
from tests.fixtures.connect import ConnectHelper
from tgo.connect_network import links
from tgo.runtime import Runtime


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def test_the_phone_replies_from_its_inbox_page(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any, runtime: Runtime
) -> None:
    r = await client.post(
        "/api/v1/messages",
        json={"sender_phone": OWNER, "to_phone": CONTACT, "type": "text", "content": "Your order shipped."},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    await eventually(lambda: connect.inbox(CONTACT))
    form = await client.get(f"/connect/inbox/{CONTACT}")
    opened = await client.post(
        f"/connect/inbox/{CONTACT}", data={"_csrf": csrf_of(form), "key": connect.inbox_key(CONTACT)}
    )
    assert opened.status_code == 303
    page = await client.get(f"/connect/inbox/{CONTACT}")
    assert "Your order shipped." in page.text and f'name="to_phone" value="{OWNER}"' in page.text
    csrf = csrf_of(page)

    sent = await client.post(
        f"/connect/inbox/{CONTACT}/reply", data={"_csrf": csrf, "to_phone": OWNER, "content": "Thanks!"}
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=1")

    async def arrived() -> Any:
        data = (await client.get("/api/v1/messages", params={"direction": "inbound"}, headers=headers)).json()
        return data["data"]

    [inbound] = await eventually(arrived)
    assert inbound["content"] == "Thanks!" and inbound["from_phone"] == CONTACT

    # Without the page's CSRF token nothing is sent.
    forged = await client.post(
        f"/connect/inbox/{CONTACT}/reply", data={"_csrf": "nope", "to_phone": OWNER, "content": "forged"}
    )
    assert forged.status_code == 303
    assert len(await arrived()) == 1

    # A number that is no longer an active sender: refused with the reason, on the page.
    network = runtime.embedded_connect.get().network
    async with network.db.session_scope() as session:
        await links.unlink(session, OWNER)
    refused = await client.post(
        f"/connect/inbox/{CONTACT}/reply", data={"_csrf": csrf, "to_phone": OWNER, "content": "Hello?"}
    )
    assert refused.status_code == 422 and "not an active sender number" in refused.text
