"""`tgo sms-sender suspend ID | unsuspend ID --json`."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import httpx
from typer.testing import CliRunner, Result

from tests.conftest import MakeKey
from tests.sms.helpers import bearer, sender_status, verified_sender
from tgo.cli import app as cli_app
from tgo.config import Settings, get_settings
from tgo.models import Tenant


async def tgo(settings: Settings, *args: str, ok: bool = True) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    env.update(
        TGO_DATABASE_URL=settings.resolved_database_url,
        TGO_DATA_DIR=str(settings.data_dir),
        TGO_SECRET_KEY="s" * 40,
        TGO_LOG_LEVEL="WARNING",
    )

    def invoke() -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli_app, [*args, "--json"], env=env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    result = await asyncio.to_thread(invoke)
    assert (result.exit_code == 0) == ok, (result.stdout, result.stderr)
    if not ok:
        assert result.stderr.strip()
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


async def test_suspend_and_unsuspend(
    client: httpx.AsyncClient, settings: Settings, tenant: Tenant, make_key: MakeKey
) -> None:
    auth = bearer(await make_key(tenant, "*"))
    sender = await verified_sender(client, auth)
    out = await tgo(settings, "sms-sender", "suspend", sender["id"])
    assert out["id"] == sender["id"] and out["status"] == "suspended"
    assert (await sender_status(client, auth, sender["id"]))["status"] == "suspended"
    again = await tgo(settings, "sms-sender", "suspend", sender["id"], ok=False)
    assert again["error"]["code"] == "sms_sender_status_conflict"
    out = await tgo(settings, "sms-sender", "unsuspend", sender["id"])
    assert out["status"] == "active"
    assert (await sender_status(client, auth, sender["id"]))["status"] == "active"
    missing = await tgo(settings, "sms-sender", "suspend", str(uuid.uuid4()), ok=False)
    assert missing["error"]["code"] == "not_found"
