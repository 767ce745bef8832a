"""Inbound SMS (issue 18): a ``deliver_sm`` that is not a receipt is stored for the tenant whose active number
it was written to (concatenated parts joined, in any order), listed with ``direction=inbound`` in camelCase,
sent as the ``sms_message.received`` webhook; STOP on SMS suppresses SMS only; the sandbox simulates one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import MakeKey
from tests.sms.helpers import bearer, eventually, verified_sender
from tests.sms.smsc import SmscSimulator
from tests.sms.test_delivery import start_smsc
from tgo.channels.sms_concat import Concat, Reassembler, split_udh
from tgo.channels.sms_encoding import split
from tgo.channels.sms_sandbox import SandboxSmsChannel
from tgo.cli import app as cli_app
from tgo.config import Settings, get_settings
from tgo.models import Tenant
from tgo.runtime import Runtime

NUMBER = "+61412345678"  # the tenant's long-code SMS sender
HANDSET = "+61498765432"


@pytest.fixture
async def auth(make_key: MakeKey, tenant: Tenant) -> dict[str, str]:
    return bearer(await make_key(tenant, "*"))


async def number_sender(client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    return await verified_sender(client, auth, senderType="long_code", senderId=NUMBER, name="Acme Line")


async def received(client: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/v1/sms/messages", params={"direction": "inbound"}, headers=auth)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


@pytest.mark.parametrize(
    ("payload", "concat", "text"),
    [
        (bytes((5, 0, 3, 7, 2, 1)) + b"abc", Concat(7, 2, 1), b"abc"),
        (bytes((6, 8, 4, 1, 2, 3, 3)) + b"xyz", Concat(258, 3, 3), b"xyz"),
        (bytes((5, 0, 3, 7, 2, 3)) + b"abc", None, b"abc"),  # part 3 of 2: not a concatenation
        (bytes((3, 0x24, 1, 0)) + b"hi", None, b"hi"),  # another element only
        (b"", None, b""),
    ],
)
def test_the_udh_table(payload: bytes, concat: Concat | None, text: bytes) -> None:
    assert split_udh(payload) == (concat, text)


def test_parts_join_in_any_order_once() -> None:
    joiner = Reassembler()
    assert joiner.add("a", "b", Concat(1, 3, 3), "three") is None
    assert joiner.add("a", "b", Concat(1, 3, 1), "one ") is None
    assert joiner.add("a", "b", Concat(1, 3, 1), "one ") is None  # delivered twice
    assert joiner.add("x", "b", Concat(1, 3, 2), "other ") is None  # another handset, same reference
    assert joiner.add("a", "b", Concat(1, 3, 2), "two ") == "one two three"
    joiner.done("a", "b", Concat(1, 3, 1))
    assert joiner.add("a", "b", Concat(1, 3, 2), "two ") is None  # a new message with that reference


async def test_a_plain_and_a_concatenated_sms_through_the_smsc(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sender = await number_sender(client, auth)
    sim, smpp = await start_smsc(runtime)
    await smpp.keepalive()
    await eventually(lambda: _bound(sim))
    sim.mobile_originated(HANDSET, NUMBER, [b"Is the shop open?"])
    [first] = await eventually(lambda: received(client, auth))
    assert first["direction"] == "inbound" and first["fromPhone"] == HANDSET and first["to"] == NUMBER
    assert first["body"] == "Is the shop open?" and first["senderId"] == sender["id"]
    assert first["status"] == "received" and first["createdAt"].endswith("Z")

    arabic = "هل يمكنني تغيير موعد التوصيل إلى يوم الخميس بعد الظهر من فضلكم؟ شكرًا جزيلًا " * 2
    parts = [p for p in split(arabic)]
    assert len(parts) >= 2
    sim.mobile_originated(
        HANDSET, NUMBER, parts, data_coding=0x08, udh_ref=42, order=list(range(len(parts), 0, -1))
    )

    async def two() -> list[dict[str, Any]] | None:
        rows = await received(client, auth)
        return rows if len(rows) == 2 else None

    rows = await eventually(two)
    assert rows[0]["body"] == arabic and rows[0]["encoding"] == "UCS-2"
    assert rows[0]["segments"] == len(parts)
    assert set(sim.mo_statuses) == {0}
    # Outbound lists are unchanged: no received SMS in them.
    outbound = (await client.get("/v1/sms/messages", headers=auth)).json()["data"]
    assert outbound == []


async def _bound(sim: SmscSimulator) -> bool:
    await asyncio.sleep(0)
    return sim.binds > 0


async def test_stop_on_sms_suppresses_sms_only(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sender = await number_sender(client, auth)
    channel = runtime.sms_channel.get()
    assert isinstance(channel, SandboxSmsChannel)
    assert await channel.mobile_originated(HANDSET, NUMBER, "STOP")
    [entry] = (await client.get("/api/v1/opt-outs", params={"channel": "sms"}, headers=auth)).json()["data"]
    assert entry["phone"] == HANDSET and entry["source"] == "keyword"
    r = await client.post(
        "/v1/sms/messages", json={"senderId": sender["id"], "to": HANDSET, "body": "Sale!"}, headers=auth
    )
    assert r.status_code == 422 and r.json()["code"] == "sms_recipient_opted_out", r.text
    assert (await client.get("/api/v1/opt-outs", params={"channel": "connect"}, headers=auth)).json()[
        "data"
    ] == []
    assert await channel.mobile_originated(HANDSET, NUMBER, "start")
    r = await client.post(
        "/v1/sms/messages",
        json={"senderId": sender["id"], "to": HANDSET, "body": "Welcome back"},
        headers=auth,
    )
    assert r.status_code == 201, r.text


async def test_an_sms_to_a_number_nobody_has_active_is_acknowledged_and_dropped(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    channel = runtime.sms_channel.get()
    assert isinstance(channel, SandboxSmsChannel)
    assert await channel.mobile_originated(HANDSET, "+61400000099", "hello?")
    assert await received(client, auth) == []
    bad = await client.get("/v1/sms/messages", params={"direction": "sideways"}, headers=auth)
    assert bad.status_code == 422


async def test_the_sandbox_mo_command_and_the_webhook(
    client: httpx.AsyncClient, auth: dict[str, str], settings: Settings, db_url: str
) -> None:
    await number_sender(client, auth)
    hook = await client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "events": ["sms_message.received"]},
        headers=auth,
    )
    assert hook.status_code == 201, hook.text
    env = {
        "TGO_DATABASE_URL": db_url,
        "TGO_DATA_DIR": str(settings.data_dir),
        "TGO_SECRET_KEY": settings.secret().decode(),
    }

    def run(to: str = NUMBER, code: int = 0) -> Any:
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(
                cli_app, ["sms-sandbox", "mo", HANDSET, to, "Hi from the shell", "--json"], env=env
            )
        finally:
            get_settings.cache_clear()
        assert result.exit_code == code, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])

    nobody = await asyncio.to_thread(run, "+61400000099", 1)
    assert nobody["error"]["code"] == "sms_sender_not_found"
    out = await asyncio.to_thread(run)
    assert out["stored"] is True and out["tenants"] == 1
    [row] = await received(client, auth)
    assert row["body"] == "Hi from the shell"
    deliveries = (await client.get(f"/api/v1/webhooks/{hook.json()['id']}/deliveries", headers=auth)).json()[
        "data"
    ]
    assert [d["event"]["type"] for d in deliveries] == ["sms_message.received"]
    assert deliveries[0]["event"]["data"]["fromPhone"] == HANDSET
