"""The auth matrix (SPEC section 2) over every protected endpoint that exists."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from tests.conftest import MakeKey, MakeTenant
from tests.routes import api_routes
from tgo.auth.scopes import ALL_SCOPES
from tgo.kit.clock import now
from tgo.models import Tenant
from tgo.runtime import Runtime

UNAUTH = {"message": "Unauthenticated."}


async def test_me_tells_tenant_and_scopes(
    client: httpx.AsyncClient, tenant: Tenant, make_key: MakeKey
) -> None:
    key = await make_key(tenant, "messages.send,usage.read")
    r = await client.get("/api/v1/me", headers={"X-Api-Key": key})
    assert r.status_code == 200
    body = r.json()
    assert body["tenant"]["slug"] == "acme" and body["tenant"]["domain"] == "acme.localhost"
    assert body["scopes"] == ["messages.send", "usage.read"]


async def test_bearer_is_accepted_too(client: httpx.AsyncClient, api_key: str) -> None:
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 200


async def _bad_credentials(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, make_tenant: MakeTenant, make_key: MakeKey
) -> dict[str, dict[str, str] | list[tuple[str, str]]]:
    other = await make_tenant("globex")
    good = await make_key(tenant, "*")
    revoked = await make_key(tenant, "*", name="revoked")
    from tgo.apikeys.service import list_api_keys, revoke_api_key

    async with runtime.db.session_scope() as s:
        rid = next(k.id for k in await list_api_keys(s, tenant.id) if k.name == "revoked")
        await revoke_api_key(s, tenant.id, rid)
    expired = await make_key(tenant, "*", expires_at=now() + timedelta(seconds=1))
    from sqlalchemy import update

    from tgo.models import ApiKey

    async with runtime.db.session_scope() as s:
        await s.execute(
            update(ApiKey)
            .where(ApiKey.name == "test", ApiKey.expires_at.is_not(None))
            .values(expires_at=now() - timedelta(seconds=5))
        )
    return {
        "missing": {},
        "empty": {"X-Api-Key": ""},
        "malformed": {"X-Api-Key": "not-a-key"},
        "bad_scheme": {"Authorization": f"Basic {good}"},
        "unknown": {"X-Api-Key": "tgo_" + "A" * 43},
        "revoked": {"X-Api-Key": revoked},
        "expired": {"X-Api-Key": expired},
        "other_tenant_host": {"X-Api-Key": good, "Host": f"{other.domain}:8000"},
        "duplicated": [("X-Api-Key", good), ("X-Api-Key", good)],
        "both_headers_differ": {"X-Api-Key": good, "Authorization": f"Bearer {revoked}"},
    }


async def test_every_bad_credential_gets_one_identical_401_on_every_route(
    app: Litestar,
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    cases = await _bad_credentials(client, runtime, tenant, make_tenant, make_key)
    routes = api_routes(app)
    assert routes, "no API routes discovered"
    for route in routes:
        for name, hdrs in cases.items():
            r = await client.request(route.method, route.concrete(), headers=hdrs, json={})
            assert r.status_code == 401, (route, name, r.status_code, r.text)
            assert r.json() == UNAUTH, (route, name)


async def test_host_rules(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    await make_tenant("globex")
    key = await make_key(tenant)
    for host, expected in [
        ("acme.localhost", 200),
        ("ACME.localhost:8443", 200),  # port and case ignored
        ("127.0.0.1:8000", 200),  # no tenant's domain: the key's tenant
        ("lb.internal", 200),
        ("globex.localhost", 401),  # another tenant's domain
    ]:
        r = await client.get("/api/v1/me", headers={"X-Api-Key": key, "Host": host})
        assert r.status_code == expected, host
        if expected == 200:
            assert r.json()["tenant"]["slug"] == "acme"


async def test_missing_scope_is_403_naming_it_on_every_scoped_route(
    app: Litestar, client: httpx.AsyncClient, tenant: Tenant, make_key: MakeKey
) -> None:
    routes = [r for r in api_routes(app) if r.scope]
    for route in routes:
        others = [s for s in ALL_SCOPES if s not in (route.scope, "*")]
        key = await make_key(tenant, ",".join(others))
        r = await client.request(route.method, route.concrete(), headers={"X-Api-Key": key}, json={})
        assert r.status_code == 403, (route, r.text)
        assert r.json()["required_scope"] == route.scope


async def test_revocation_is_immediate(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, make_key: MakeKey
) -> None:
    key = await make_key(tenant, name="to-revoke")
    assert (await client.get("/api/v1/me", headers={"X-Api-Key": key})).status_code == 200
    from tgo.apikeys.service import list_api_keys, revoke_api_key

    async with runtime.db.session_scope() as s:
        kid = next(k.id for k in await list_api_keys(s, tenant.id) if k.name == "to-revoke")
        await revoke_api_key(s, tenant.id, kid)
    r = await client.get("/api/v1/me", headers={"X-Api-Key": key})
    assert r.status_code == 401 and r.json() == UNAUTH


async def test_last_used_at_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, make_key: MakeKey
) -> None:
    key = await make_key(tenant, name="used")
    await client.get("/api/v1/me", headers={"X-Api-Key": key})
    # Stamps are written in batches (every auth.key_cache.FLUSH_SECONDS, and at shutdown), not per request.
    assert await runtime.key_cache.get().usage.flush() == 1
    from tgo.apikeys.service import list_api_keys

    async with runtime.db.session_scope() as s:
        row = next(k for k in await list_api_keys(s, tenant.id) if k.name == "used")
    assert row.last_used_at is not None


@pytest.mark.parametrize("scopes", ["", "messages.send,nope"])
async def test_key_with_bad_scopes_is_refused(runtime: Runtime, tenant: Tenant, scopes: str) -> None:
    from tgo.apikeys.service import create_api_key
    from tgo.errors import ValidationFailed

    async with runtime.db.session_scope() as s:
        with pytest.raises(ValidationFailed):
            await create_api_key(s, tenant.id, name="x", scopes=scopes)
