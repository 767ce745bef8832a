"""`tgo demo`: a ready demo tenant with a key and a dashboard login; idempotent."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from tgo.apikeys.repository import ApiKeyLookup
from tgo.apikeys.service import create_api_key, revoke_api_key
from tgo.auth.key_format import hash_key
from tgo.errors import NotFound
from tgo.kit.private_files import private_dir
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.tenants.repository import TenantDirectory
from tgo.tenants.service import create_tenant
from tgo.users.service import create_user, find_user_by_email, set_password

DEMO_SLUG = "demo"
DEMO_DOMAIN = "demo.localhost"
DEMO_NAME = "Demo Organization"
DEMO_EMAIL = "admin@demo.localhost"
DEMO_BASE_URL = "http://demo.localhost:8000"  # where `tgo serve` is reached unless --base-url says otherwise


def _credentials_path(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "demo-credentials.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save(path: Path, data: dict[str, Any]) -> None:
    # The demo key and password are kept (owner-readable only) so a second run can print them again;
    # the database itself only ever holds their hashes.
    private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    tmp.replace(path)


async def ensure_demo(runtime: Runtime, base_url: str | None = None) -> dict[str, Any]:
    """The demo tenant, key, login and the parts' demo data; links point at ``base_url`` when given."""
    server_url = base_url.rstrip("/") if base_url else None
    base_url = server_url or DEMO_BASE_URL
    path = _credentials_path(runtime)
    saved = _load(path)
    async with runtime.db.session_scope() as session:
        tenant: Tenant | None = await TenantDirectory(session).by_slug(DEMO_SLUG)
        if tenant is None:
            tenant = await create_tenant(session, slug=DEMO_SLUG, domain=DEMO_DOMAIN, name=DEMO_NAME)
        key = saved.get("api_key")
        key_row = None
        if isinstance(key, str):
            found = await ApiKeyLookup(session).by_hash(hash_key(key))
            key_row = found if found is not None and found.tenant_id == tenant.id else None
        if key_row is None or key_row.revoked_at is not None:
            if saved.get("api_key_id"):
                with contextlib.suppress(NotFound):  # an old demo key that is already gone is fine
                    await revoke_api_key(session, tenant.id, int(saved["api_key_id"]))
            key_row, key = await create_api_key(session, tenant.id, name="demo", scopes="*")
        password = saved.get("password")
        user = await find_user_by_email(session, DEMO_EMAIL)
        if user is None or not isinstance(password, str):
            password = secrets.token_urlsafe(12)
            if user is None:
                await create_user(session, tenant.id, email=DEMO_EMAIL, password=password)
            else:
                await set_password(session, user, password)
        extra: dict[str, Any] = {}
        for step in DEMO_STEPS:
            extra.update(await step(runtime, session, tenant, server_url))
        result = {
            "tenant": {"id": tenant.id, "slug": tenant.slug, "name": tenant.name, "domain": tenant.domain},
            "api_key_id": key_row.id,
            "api_key": key,
            "scopes": ["*"],
            "dashboard": {"url": f"{base_url}/dashboard/login", "email": DEMO_EMAIL, "password": password},
            "api_docs": f"{base_url}/docs",
            **extra,
        }
    _save(path, {"api_key": key, "api_key_id": key_row.id, "password": password})
    return result


# Later parts (Connect accounts, ...) add steps: async (runtime, session, tenant, server_url) -> dict to
# merge; server_url is --base-url (None when not given).
DEMO_STEPS: list[Any] = []

# Steps registered by parts (imported last: they only need DEMO_STEPS to exist).
from tgo.connect_network.demo import connect_demo_step  # noqa: E402

DEMO_STEPS.append(connect_demo_step)
