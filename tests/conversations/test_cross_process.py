"""The two-way flow with Connect in its own process (issue 18), driven from the shell as the README shows:
`tgo connect send` reaches the Business side as a signed event over real HTTP, opens a conversation with one
unread message and a signed `message.received` webhook; the reply is delivered back to the phone's inbox;
a photo arrives as inbound media; STOP suppresses."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.connect.servers import base_env, connect_process, free_port, run_cli, serve_in_loop
from tests.conversations.conftest import CONTACT, OWNER, eventually
from tests.fixtures.media import png
from tests.webhooks.receiver import Receiver
from tgo.apikeys.service import create_api_key
from tgo.app import create_app
from tgo.config import Settings
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime


async def shell(env: dict[str, str], *args: str) -> Any:
    code, out, err = await run_cli(env, *args)
    assert code == 0, err
    return json.loads(out)


async def test_send_from_the_shell_reply_media_and_stop_across_processes(
    settings: Settings, db_url: str, tmp_path: Path
) -> None:
    env = base_env(
        TGO_DATABASE_URL=db_url,
        TGO_DATA_DIR=str(settings.data_dir),
        TGO_SECRET_KEY=settings.secret().decode(),
    )
    connect_port, business_port = free_port(), free_port()
    connect_url = f"http://127.0.0.1:{connect_port}"
    business_settings = settings.model_copy(update={"connect_url": connect_url})
    runtime = build_runtime(business_settings)
    await runtime.start()
    async with runtime.db.session_scope() as session:
        tenant = await create_tenant(session, slug="acme", domain="acme.localhost", name="Acme")
        _, key = await create_api_key(session, tenant.id, name="test", scopes="*")
    headers = {"X-Api-Key": key}
    receiver = Receiver()
    await receiver.start()
    try:
        async with serve_in_loop(create_app(business_settings, runtime), business_port) as business_url:
            connect_env = {
                **env,
                "TGO_BUSINESS_URL": business_url,
                "TGO_CONNECT_EVENT_INTERVAL_SECONDS": "0.2",
            }
            with connect_process(connect_env, connect_port, tmp_path / "connect.log"):
                cli_env = {**env, "TGO_CONNECT_URL": connect_url}
                for phone in (OWNER, CONTACT):
                    await shell(cli_env, "connect", "account", "create", phone, "--verified")
                async with httpx.AsyncClient(base_url=business_url, headers=headers, timeout=10) as api:
                    number = (await api.post("/api/v1/sender-numbers", json={"phone": OWNER})).json()
                    inbox = await shell(cli_env, "connect", "inbox", OWNER)
                    found = re.search(r"\b(\d{6})\b", inbox["messages"][0]["content"])
                    assert found, inbox
                    otp = found.group(1)
                    r = await api.post(f"/api/v1/sender-numbers/{number['id']}/verify", json={"otp": otp})
                    assert r.json()["status"] == "active", r.text
                    hook = (
                        await api.post(
                            "/api/v1/webhooks", json={"url": receiver.url, "events": ["message.received"]}
                        )
                    ).json()

                    # Linking happens after the OTP's commit; the first send may race it.
                    async def sent() -> Any:
                        code, out, _ = await run_cli(
                            cli_env, "connect", "send", CONTACT, OWNER, "Is it in stock?"
                        )
                        return json.loads(out) if code == 0 else None

                    first = await eventually(sent, timeout=15)
                    assert first["from_phone"] == CONTACT and first["to_phone"] == OWNER

                    async def conversation() -> Any:
                        data = (await api.get("/api/v1/conversations")).json()["data"]
                        return data[0] if data and data[0]["unread_count"] >= 1 else None

                    conv = await eventually(conversation)
                    assert conv["unread_count"] == 1 and conv["contact_phone"] == CONTACT

                    async def hooked() -> bool:
                        return bool(receiver.delivered)

                    await eventually(hooked)
                    event = StandardWebhook(hook["secret"]).verify(
                        receiver.delivered[0].body, receiver.delivered[0].headers
                    )
                    assert (
                        event["type"] == "message.received" and event["data"]["content"] == "Is it in stock?"
                    )

                    # The reply is an ordinary send, delivered to the phone's inbox.
                    r = await api.post(
                        "/api/v1/messages",
                        json={
                            "sender_phone": OWNER,
                            "to_phone": CONTACT,
                            "type": "text",
                            "content": "Yes: 3 left",
                        },
                    )
                    assert r.status_code == 201, r.text

                    async def replied() -> bool:
                        box = await shell(cli_env, "connect", "inbox", CONTACT)
                        return any(m["content"] == "Yes: 3 left" for m in box["messages"])

                    await eventually(replied, timeout=15)

                    # A photo from the phone: inbound media, downloadable from the Business API.
                    photo = tmp_path / "shelf.png"
                    photo.write_bytes(png())
                    await shell(
                        cli_env, "connect", "send", CONTACT, OWNER, "this one?", "--media", str(photo)
                    )

                    async def media_message() -> Any:
                        msgs = (await api.get(f"/api/v1/conversations/{conv['id']}/messages")).json()["data"]
                        return next((m for m in msgs if m["media"]), None)

                    pic = await eventually(media_message)
                    assert pic["message_type"] == "image" and pic["caption"] == "this one?"
                    assert pic["direction"] == "inbound" and pic["media"]["content_type"] == "image/png"
                    download = await api.get(pic["media"]["url"])
                    assert download.status_code == 200 and download.content == png()

                    # STOP suppresses: the next send is refused.
                    await shell(cli_env, "connect", "send", CONTACT, OWNER, "STOP")

                    async def opted_out() -> bool:
                        return bool((await api.get("/api/v1/opt-outs")).json()["data"])

                    await eventually(opted_out)
                    r = await api.post(
                        "/api/v1/messages",
                        json={"sender_phone": OWNER, "to_phone": CONTACT, "type": "text", "content": "Sale!"},
                    )
                    assert r.status_code == 422 and r.json()["code"] == "recipient_opted_out"
                    await asyncio.sleep(0)
    finally:
        await receiver.stop()
        await runtime.close()
