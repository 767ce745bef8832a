"""The API-keys page in process: create with scopes (shown once), use it, revoke it."""

from __future__ import annotations

import re

import httpx

from tests.conftest import MakeKey, MakeTenant
from tests.dashboard.conftest import csrf_of
from tgo.models import Tenant


async def test_create_use_and_revoke_a_key(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/api-keys")
    created = await signed_in.post(
        "/dashboard/api-keys",
        data={"name": "billing", "scopes": ["messages.send", "usage.read"], "_csrf": csrf_of(page.text)},
    )
    assert created.status_code == 201
    key = re.search(r'id="new-key"[^>]*value="(tgo_[^"]+)"', created.text)
    assert key, created.text
    plain = key.group(1)
    me = await signed_in.get("/api/v1/me", headers={"X-Api-Key": plain})
    assert me.status_code == 200
    assert me.json()["scopes"] == ["messages.send", "usage.read"]

    listing = await signed_in.get("/dashboard/api-keys")
    assert "billing" in listing.text
    assert plain not in listing.text  # shown once, never again
    key_id = me.json()["api_key_id"]
    confirm = await signed_in.get(f"/dashboard/api-keys/{key_id}/revoke")
    assert confirm.status_code == 200
    assert "This cannot be undone." in confirm.text
    revoked = await signed_in.post(
        f"/dashboard/api-keys/{key_id}/revoke", data={"_csrf": csrf_of(confirm.text)}
    )
    assert revoked.status_code == 303
    after = await signed_in.get("/dashboard/api-keys")
    assert 'The key "billing" has been revoked.' in after.text.replace("&#34;", '"')
    assert (await signed_in.get("/api/v1/me", headers={"X-Api-Key": plain})).status_code == 401


async def test_a_key_needs_a_name_and_a_scope(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/api-keys")
    response = await signed_in.post("/dashboard/api-keys", data={"name": "", "_csrf": csrf_of(page.text)})
    assert response.status_code == 422
    assert "Give the key a name" in response.text
    assert "Choose at least one scope." in response.text


async def test_another_tenants_key_cannot_be_revoked(
    signed_in: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    other: Tenant = await make_tenant("other")
    plain = await make_key(other, "*")
    me = (await signed_in.get("/api/v1/me", headers={"X-Api-Key": plain})).json()
    page = await signed_in.get("/dashboard/api-keys")
    assert (await signed_in.get(f"/dashboard/api-keys/{me['api_key_id']}/revoke")).status_code == 404
    response = await signed_in.post(
        f"/dashboard/api-keys/{me['api_key_id']}/revoke", data={"_csrf": csrf_of(page.text)}
    )
    assert response.status_code == 404
    assert (await signed_in.get("/api/v1/me", headers={"X-Api-Key": plain})).status_code == 200
