"""`tgo connect inbox` pages through an inbox of any size (`--limit` above one page, `--all`, `--cursor`),
and Connect's inbox API hands out the cursor (`next_cursor`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.connect.servers import base_env
from tests.connect.test_cli_and_processes import OWNER, SENDER, cli
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_types import OutboundMessage
from tgo.cli import app as cli_app
from tgo.config import Settings, get_settings
from tgo.runtime import Runtime
from tgo.wiring import build_runtime

N = 450  # more than two pages of 200


@pytest.fixture
def env(settings: Settings, db_url: str) -> dict[str, str]:
    return base_env(
        TGO_DATABASE_URL=db_url,
        TGO_DATA_DIR=str(settings.data_dir),
        TGO_SECRET_KEY=settings.secret().decode(),
    )


@pytest.fixture
async def quiet_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime without background work (the CLI runner captures the process' stdout while it runs)."""
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        await rt.close()


async def _fill(runtime: Runtime, n: int) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(OWNER, name="Owner", verified=True)
    for i in range(n):
        await c.deliver(
            OutboundMessage(
                business_message_id=f"bulk:{i}",
                sender_phone=SENDER,
                sender_name="Acme",
                to_phone=OWNER,
                type="text",
                content=f"m{i}",
            )
        )


def _raw(environ: dict[str, str], *args: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, list(args), env=environ, catch_exceptions=False)
    get_settings.cache_clear()
    return result.exit_code, result.stdout, result.stderr


async def test_inbox_pages_through_every_message(env: dict[str, str], quiet_runtime: Runtime) -> None:
    await _fill(quiet_runtime, N)

    async def run(*a: str, ok: bool = True) -> Any:
        return await asyncio.to_thread(cli, env, *a, ok=ok)

    every = [f"m{i}" for i in reversed(range(N))]  # newest first

    everything = await run("connect", "inbox", OWNER, "--all")
    assert everything["count"] == N and everything["next_cursor"] is None
    assert [m["content"] for m in everything["messages"]] == every

    # A limit above one page (200) is not capped: it pages too.
    first = await run("connect", "inbox", OWNER, "--limit", "250")
    assert [m["content"] for m in first["messages"]] == every[:250]
    assert first["count"] == 250 and first["next_cursor"]
    rest = await run("connect", "inbox", OWNER, "--all", "--cursor", first["next_cursor"])
    assert [m["content"] for m in rest["messages"]] == every[250:] and rest["next_cursor"] is None

    newest = await run("connect", "inbox", OWNER)  # the default: the 20 newest
    assert [m["content"] for m in newest["messages"]] == every[:20] and newest["next_cursor"]

    bad = await run("connect", "inbox", OWNER, "--cursor", "not-a-cursor", ok=False)
    assert bad["error"]["code"] == "validation_failed" and "cursor" in bad["error"]["message"]

    # A long run says how far it is on stderr; stdout stays one JSON document.
    code, stdout, stderr = await asyncio.to_thread(_raw, env, "connect", "inbox", OWNER, "--all", "--json")
    assert code == 0 and json.loads(stdout)["count"] == N
    assert "400 messages so far" in stderr
    code, stdout, _ = await asyncio.to_thread(_raw, env, "connect", "inbox", OWNER, "--limit", "5")
    assert code == 0 and "(5 messages)" in stdout and "--cursor " in stdout


async def test_inbox_api_hands_out_a_cursor_to_the_older_messages(
    env: dict[str, str], quiet_runtime: Runtime
) -> None:
    await _fill(quiet_runtime, 5)
    c = ConnectAdminClient.of(quiet_runtime.connect.get())
    page = await c.inbox_page(OWNER, limit=2)
    assert [m.content for m in page.data] == ["m4", "m3"] and page.next_cursor
    page = await c.inbox_page(OWNER, limit=2, cursor=page.next_cursor)
    assert [m.content for m in page.data] == ["m2", "m1"] and page.next_cursor
    page = await c.inbox_page(OWNER, limit=2, cursor=page.next_cursor)
    assert [m.content for m in page.data] == ["m0"] and page.next_cursor is None
