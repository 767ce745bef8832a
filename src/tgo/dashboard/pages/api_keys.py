"""API keys: list, create with chosen scopes (shown once), revoke after a confirmation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from litestar import Response, get, post

from tgo.apikeys.service import create_api_key, list_api_keys, revoke_api_key
from tgo.auth.scopes import ALL_SCOPES
from tgo.dashboard.web import NavItem, Web, error_messages, url
from tgo.errors import AppError
from tgo.kit.clock import now

NAV_ITEM = NavItem("/api-keys", "dash.nav.api_keys", 80)


async def _page(
    web: Web, *, errors: list[str] | None = None, form: dict[str, Any] | None = None, status_code: int = 200
) -> Response[Any]:
    keys = await list_api_keys(web.db, web.tenant_id)
    return web.render(
        "api_keys.html",
        status_code=status_code,
        keys=keys,
        scopes=ALL_SCOPES,
        now=now(),
        errors=errors or [],
        form=form or {"name": "", "scopes": [], "expires_on": ""},
    )


@get("/api-keys", name="dashboard:api-keys")
async def api_keys(me: Web) -> Response[Any]:
    return await _page(me)


@post("/api-keys", name="dashboard:api-keys-create")
async def create_key(me: Web) -> Response[Any]:
    form = await me.request.form()
    name = str(form.get("name") or "").strip()
    scopes = [s for s in form.getall("scopes") if isinstance(s, str)] if "scopes" in form else []
    expires_on = str(form.get("expires_on") or "").strip()
    errors: list[str] = []
    if not name or len(name) > 200:
        errors.append(me.t("dash.keys.error.name"))
    if not scopes or any(s not in ALL_SCOPES for s in scopes):
        errors.append(me.t("dash.keys.error.scopes"))
    expires_at: datetime | None = None
    if expires_on:
        try:
            expires_at = datetime.combine(date.fromisoformat(expires_on), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            expires_at = None
        if expires_at is None or expires_at <= now():
            errors.append(me.t("dash.keys.error.expiry"))
    values = {"name": name, "scopes": scopes, "expires_on": expires_on}
    if errors:
        return await _page(me, errors=errors, form=values, status_code=422)
    try:
        row, plain = await create_api_key(
            me.db, me.tenant_id, name=name, scopes=scopes, expires_at=expires_at
        )
    except AppError as exc:
        await me.discard_failed(exc)
        return await _page(me, errors=error_messages(me, exc), form=values, status_code=422)
    return me.render("api_key_created.html", status_code=201, key=row, plain=plain)


async def _find(me: Web, key_id: int) -> Any:
    for key in await list_api_keys(me.db, me.tenant_id):
        if key.id == key_id:
            return key
    return None


@get("/api-keys/{key_id:int}/revoke", name="dashboard:api-keys-revoke-confirm")
async def revoke_confirm(me: Web, key_id: int) -> Response[Any]:
    key = await _find(me, key_id)
    if key is None:
        return me.render(
            "error.html", status_code=404, title=me.t("dash.error.title"), message=me.t("dash.not_found")
        )
    if key.revoked_at is not None:
        return me.redirect(url("/api-keys"))
    return me.render("api_key_revoke.html", key=key)


@post("/api-keys/{key_id:int}/revoke", name="dashboard:api-keys-revoke")
async def revoke(me: Web, key_id: int) -> Response[Any]:
    row = await revoke_api_key(me.db, me.tenant_id, key_id)
    me.flash("success", "dash.keys.revoked", name=row.name)
    return me.redirect(url("/api-keys"))


HANDLERS = [api_keys, create_key, revoke_confirm, revoke]
