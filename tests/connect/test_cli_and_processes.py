"""`tgo connect ...` from the shell, and the cross-process flow: Connect as its own process
(`tgo connect serve`), a Business app configured with TGO_CONNECT_URL, and an account-verification event
crossing real HTTP to a handler registered here within 5 s of `tgo connect account verify`."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.connect.servers import base_env, connect_process, free_port, run_cli, serve_in_loop
from tests.connect.test_events import Recorder
from tgo.app import create_app
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_types import (
    EVENT_ACCOUNT_VERIFICATION_CHANGED,
    OutboundMessage,
    ReasonCode,
)
from tgo.cli import app as cli_app
from tgo.config import Settings, get_settings
from tgo.runtime import Runtime
from tgo.wiring import build_runtime

OWNER = "+201001187188"
RECIPIENT = "+201010000000"
SENDER = "+201001187190"


def cli(env: dict[str, str], *args: str, ok: bool = True) -> Any:
    get_settings.cache_clear()
    result = CliRunner().invoke(cli_app, [*args, "--json"], env=env, catch_exceptions=False)
    get_settings.cache_clear()
    if ok:
        assert result.exit_code == 0, result.stderr
    else:
        assert result.exit_code != 0
        assert result.stderr.strip(), "an error must say what went wrong"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


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


async def test_cli_commands(env: dict[str, str], quiet_runtime: Runtime) -> None:
    runtime = quiet_runtime

    async def run(*a: str, ok: bool = True) -> Any:
        return await asyncio.to_thread(cli, env, *a, ok=ok)

    acc = await run("connect", "account", "create", OWNER, "--name", "Owner", "--lang", "ar")
    assert acc["phone"] == OWNER and acc["language"] == "ar" and acc["name"] == "Owner"
    assert acc["phone_verified_at"] and acc["account_verified"] is False
    err = await run("connect", "account", "create", OWNER, ok=False)
    assert err["error"]["code"] == "account_exists"
    rec = await run("connect", "account", "create", "00201010000000", "--verified")
    assert rec["phone"] == RECIPIENT and rec["account_verified"] is True and rec["language"] == "en"
    assert (await run("connect", "account", "verify", OWNER))["account_verified"] is True
    assert (await run("connect", "account", "unverify", OWNER))["account_verified"] is False
    blocked = await run("connect", "block", RECIPIENT, SENDER)
    assert blocked["phone"] == RECIPIENT and blocked["sender_phone"] == SENDER

    # The CLI and this runtime see one network.
    c = ConnectAdminClient.of(runtime.connect.get())
    assert (await c.lookup(RECIPIENT, SENDER)).reason_code is ReasonCode.BLOCKED_SENDER
    await c.deliver(
        OutboundMessage(
            business_message_id="otp:1",
            sender_phone=SENDER,
            sender_name="Acme",
            to_phone=OWNER,
            type="system",
            content="Your code is 123456",
        )
    )
    box = await run("connect", "inbox", OWNER)
    assert box["phone"] == OWNER
    assert [m["content"] for m in box["messages"]] == ["Your code is 123456"]
    # The link carries no key (history, Referer, logs): the page asks for it; the key is given on its own.
    assert box["inbox_url"].startswith("http") and box["inbox_url"].endswith(f"/connect/inbox/{OWNER}")
    assert box["inbox_key"] == c.inbox_key(OWNER)

    assert (await run("connect", "account", "disable", RECIPIENT))["disabled"] is True
    assert (await c.lookup(RECIPIENT)).reason_code is ReasonCode.ACCOUNT_DISABLED

    for args, code in (
        (("connect", "account", "verify", "+201001187199"), "account_not_found"),
        (("connect", "account", "verify", "12"), "validation_failed"),
        (("connect", "inbox", "+201001187199"), "account_not_found"),
        (("connect", "block", OWNER, "nope"), "validation_failed"),
        (("connect", "account", "create", "+201001187191", "--lang", "fr"), "validation_failed"),
    ):
        assert (await run(*args, ok=False))["error"]["code"] == code, args


async def test_inbox_page_in_the_business_app(client: httpx.AsyncClient, runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(OWNER, language="ar")
    await c.deliver(
        OutboundMessage(
            business_message_id="otp:2",
            sender_phone=SENDER,
            sender_name="Acme <b>",
            to_phone=OWNER,
            type="system",
            content="رمز التحقق 654321",
        )
    )
    url = c.inbox_url(OWNER, "http://testserver.local")
    form = await client.get(url)
    # Without the right key nobody can read someone's inbox (not even learn that it exists).
    assert form.status_code == 200 and "654321" not in form.text
    csrf = re.search(r'name="_csrf" value="([^"]+)"', form.text)
    assert csrf
    r = await client.post(url, data={"key": "wrong", "_csrf": csrf.group(1)})
    assert r.status_code == 422 and "654321" not in r.text
    r = await client.post(url, data={"key": c.inbox_key(OWNER), "_csrf": csrf.group(1)})
    page = await client.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'dir="rtl"' in page.text and "654321" in page.text
    assert "Acme &lt;b&gt;" in page.text  # escaped
    [msg] = await c.inbox(OWNER)
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert token
    r = await client.post(f"{url}/read/{msg.id}", data={"_csrf": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303
    assert (await c.inbox(OWNER))[0].read_at is not None
    # Connect's API is mounted too, behind its bearer token.
    assert (await client.get(f"/connect/v1/accounts/{OWNER}")).status_code == 401


async def test_cross_process_account_verification_reaches_business_within_5s(
    settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    recorder = Recorder(EVENT_ACCOUNT_VERIFICATION_CHANGED)
    connect_port, business_port = free_port(), free_port()
    connect_url = f"http://127.0.0.1:{connect_port}"
    business_settings = settings.model_copy(update={"connect_url": connect_url})
    runtime = build_runtime(business_settings)
    recorder.attach(runtime.registry)
    await runtime.start()
    try:
        async with serve_in_loop(create_app(business_settings, runtime), business_port) as business_url:
            connect_env = {
                **env,
                "TGO_BUSINESS_URL": business_url,
                "TGO_CONNECT_EVENT_INTERVAL_SECONDS": "0.5",
            }
            with connect_process(connect_env, connect_port, tmp_path / "connect.log"):
                cli_env = {**env, "TGO_CONNECT_URL": connect_url}
                code, out, err = await run_cli(cli_env, "connect", "account", "create", OWNER)
                assert code == 0, err
                assert json.loads(out)["account_verified"] is False

                # The Business side's client talks to the other process over HTTP.
                client = runtime.connect.get()
                found = await client.get_account(OWNER)
                assert found is not None and not found.account_verified
                assert (await client.lookup(OWNER)).reason_code is ReasonCode.OK

                code, out, err = await run_cli(cli_env, "connect", "account", "verify", OWNER)
                assert code == 0, err
                verified_at = time.monotonic()
                await recorder.wait_for(1, timeout=5.0)
                assert time.monotonic() - verified_at < 5.0
                assert recorder.calls == [
                    (EVENT_ACCOUNT_VERIFICATION_CHANGED, recorder.calls[0][1]),
                ]
                data = recorder.calls[0][1]
                assert data["phone"] == OWNER and data["account_verified"] is True

                # The Connect process refuses callers without the token derived from the secret.
                async with httpx.AsyncClient() as raw:
                    r = await raw.get(f"{connect_url}/connect/v1/accounts/{OWNER}")
                    assert r.status_code == 401
                    r = await raw.get(
                        f"{connect_url}/connect/v1/accounts/{OWNER}",
                        headers={"authorization": "Bearer " + "0" * 64},
                    )
                    assert r.status_code == 401
    finally:
        recorder.close()
        await runtime.close()


async def test_demo_creates_the_seed_accounts_once(env: dict[str, str], quiet_runtime: Runtime) -> None:
    first = await asyncio.to_thread(cli, env, "demo")
    accounts = {a["phone"]: a for a in first["connect_accounts"]}
    assert accounts[OWNER]["language"] == "ar" and accounts[OWNER]["account_verified"] is True
    assert accounts[RECIPIENT]["language"] == "en" and accounts[RECIPIENT]["account_verified"] is True
    assert accounts["+201001187189"]["account_verified"] is False
    c = ConnectAdminClient.of(quiet_runtime.connect.get())
    await c.set_account_verified("+201001187189", True)
    second = await asyncio.to_thread(cli, env, "demo")
    # Existing accounts are shown as they are, never reset.
    again = {a["phone"]: a for a in second["connect_accounts"]}
    assert again["+201001187189"]["account_verified"] is True
    assert (await c.lookup(RECIPIENT, OWNER)).can_receive
