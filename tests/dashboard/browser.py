"""Browser-test support: the real server (`tgo migrate`, `tgo demo`, `tgo serve` in a subprocess on a free
port, SQLite in a data dir of its own) and Playwright driving Debian's Chromium."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OTP = re.compile(r"\b(\d{6})\b")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    env: dict[str, str]
    demo: dict[str, Any]

    def tgo(self, *args: str) -> Any:
        """Run the operator CLI against this server's data; returns its JSON document."""
        done = subprocess.run(
            [sys.executable, "-m", "tgo", *args, "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"tgo {' '.join(args)} failed: {done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)

    @property
    def email(self) -> str:
        return str(self.demo["dashboard"]["email"])

    @property
    def password(self) -> str:
        return str(self.demo["dashboard"]["password"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Module scope: each browser test module imports these fixtures, so each module has its own server (and its
# own demo data) and browser; a session scope kept every module's server and Chromium running to the end.
@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    env.update(TGO_DATA_DIR=str(data_dir), TGO_LOG_LEVEL="WARNING", TGO_LOG_JSON="true")
    url = f"http://127.0.0.1:{port}"
    base = LiveServer(url=url, data_dir=data_dir, env=env, demo={})
    base.tgo("migrate")
    base.demo = base.tgo("demo", "--base-url", url)
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tgo", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Returns as soon as the server answers; the bound is generous because with two pytest workers on a
        # loaded machine two servers (and two Chromiums) start at once.
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"tgo serve exited: {(data_dir / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("tgo serve did not become healthy within 120 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def context(browser: Browser, live_server: LiveServer) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=live_server.url, locale="en-US")
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def log_in(page: Page, email: str, password: str, *, goto: bool = True) -> None:
    if goto:
        await page.goto("/dashboard/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()


async def active_sender_via_api(api: httpx.AsyncClient, live_server: LiveServer, phone: str) -> None:
    live_server.tgo("connect", "account", "create", phone, "--name", "API Owner", "--verified")
    created = await api.post("/api/v1/sender-numbers", json={"phone": phone, "display_name": "Billing"})
    assert created.status_code == 201, created.text
    code = None
    for _ in range(50):
        inbox = live_server.tgo("connect", "inbox", phone)
        if inbox["messages"]:
            found = OTP.search(inbox["messages"][0]["content"] or "")
            code = found.group(1) if found else None
            break
        await asyncio.sleep(0.2)
    assert code, "the OTP never arrived"
    verified = await api.post(f"/api/v1/sender-numbers/{created.json()['id']}/verify", json={"otp": code})
    assert verified.status_code == 200 and verified.json()["can_send"] is True, verified.text


async def send_text(api: httpx.AsyncClient, sender: str, recipient: str, content: str) -> int:
    sent = await api.post(
        "/api/v1/messages",
        json={"sender_phone": sender, "to_phone": recipient, "type": "text", "content": content},
    )
    assert sent.status_code == 201, sent.text
    return int(sent.json()["id"])


AXE_VERSION = "4.10.3"  # axe-core from npm, for the tests only (scripts/setup.sh installs it into var/axe)
AXE_DIR = Path(__file__).resolve().parents[2] / "var" / "axe"


def axe_source() -> str:
    """axe-core's script, installed on first use into the git-ignored var/axe (pinned version)."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    package = AXE_DIR / "node_modules" / "axe-core" / "package.json"
    if not script.exists() or f'"version": "{AXE_VERSION}"' not in package.read_text():
        done = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(AXE_DIR),
                f"axe-core@{AXE_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm could not install axe-core: {done.stderr}"
    return script.read_text()
