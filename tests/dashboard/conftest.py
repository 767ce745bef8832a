"""Dashboard fixtures: a user of the test tenant and a logged-in HTTP client (in process)."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass

import httpx
import pytest
from PIL import Image

from tests.fixtures.connect import ConnectHelper
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.users.service import create_user

PASSWORD = "correct horse battery"


@dataclass
class DashboardUser:
    email: str
    password: str
    tenant: Tenant


@pytest.fixture
async def dashboard_user(runtime: Runtime, tenant: Tenant) -> DashboardUser:
    async with runtime.db.session_scope() as session:
        await create_user(session, tenant.id, email="owner@acme.example", password=PASSWORD)
    return DashboardUser("owner@acme.example", PASSWORD, tenant)


def csrf_of(html: str) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def assert_beside(html: str, input_id: str, error_id: str, text: str) -> None:
    """The field is marked invalid and described by its own error, which says ``text``; no box of errors
    above the form and no generic line."""
    field = re.search(rf'<(?:input|select|textarea)[^>]*id="{input_id}"[^>]*>', html)
    assert field, f"no #{input_id}"
    assert 'aria-invalid="true"' in field.group(0), field.group(0)
    described = re.search(r'aria-describedby="([^"]*)"', field.group(0))
    assert described and error_id in described.group(1).split(), field.group(0)
    error = re.search(rf'<small class="field-error" id="{error_id}">([^<]*)</small>', html)
    assert error and text in error.group(1), error_id
    assert 'id="form-errors"' not in html
    assert "The given data was invalid." not in html


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login",
        data={"email": email, "password": password, "_csrf": csrf_of(page.text), "next": "/dashboard/"},
    )


@pytest.fixture
async def signed_in(client: httpx.AsyncClient, dashboard_user: DashboardUser) -> httpx.AsyncClient:
    response = await log_in(client, dashboard_user.email, dashboard_user.password)
    assert response.status_code == 303, response.text
    return client


SENDER = "+201001187188"
RECIPIENT = "+201001187199"


@pytest.fixture
def connect(runtime: Runtime) -> ConnectHelper:
    return ConnectHelper(runtime)


@pytest.fixture
async def active_sender(client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper) -> int:
    await connect.account(SENDER, verified=True)
    await connect.account(RECIPIENT, verified=False)
    number = (await client.post("/api/v1/sender-numbers", json={"phone": SENDER}, headers=headers)).json()
    verified = await client.post(
        f"/api/v1/sender-numbers/{number['id']}/verify",
        json={"otp": await connect.otp(SENDER)},
        headers=headers,
    )
    assert verified.json()["can_send"] is True
    return int(number["id"])


async def wait_status(
    client: httpx.AsyncClient, headers: dict[str, str], message_id: int, status: str
) -> None:
    body: dict[str, object] = {}
    for _ in range(600):  # up to 30 s: under load a delivery receipt can take >15 s
        body = (await client.get(f"/api/v1/messages/{message_id}", headers=headers)).json()
        if body["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"message {message_id} never became {status}: {body}")


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()
