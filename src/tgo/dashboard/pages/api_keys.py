"""API keys: list, create with chosen scopes (shown once), revoke after a confirmation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Response, get, post

from tgo.apikeys.service import create_api_key, list_api_keys, revoke_api_key
from tgo.auth.scopes import ALL_SCOPES
from tgo.dashboard.web import FormErrors, NavItem, Web, form_errors, url
from tgo.errors import AppError
from tgo.kit.clock import now

NAV_ITEM = NavItem("/api-keys", "dash.nav.api_keys", 80)


async def _page(
    web: Web, *, errors: FormErrors | None = None, form: dict[str, Any] | None = None, status_code: int = 200
) -> Response[Any]:
    keys = await list_api_keys(web.db, web.tenant_id)
    return web.render(
        "api_keys.html",
        status_code=status_code,
        keys=keys,
        scopes=ALL_SCOPES,
        now=now(),
        errors=errors or FormErrors(),
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
    errors = FormErrors()
    if not name or len(name) > 200:
        errors.add("name", me.t("dash.keys.error.name"))
    if not scopes or any(s not in ALL_SCOPES for s in scopes):
        errors.add("scopes", me.t("dash.keys.error.scopes"))
    expires_at: datetime | None = None
    if expires_on:
        try:
            expires_at = datetime.combine(date.fromisoformat(expires_on), datetime.min.time(), tzinfo=UTC)
        except ValueError:
            expires_at = None
        if expires_at is None or expires_at <= now():
            errors.add("expires_on", me.t("dash.keys.error.expiry"))
    values = {"name": name, "scopes": scopes, "expires_on": expires_on}
    if errors:
        return await _page(me, errors=errors, form=values, status_code=422)
    try:
        row, plain = await create_api_key(
            me.db, me.tenant_id, name=name, scopes=scopes, expires_at=expires_at
        )
    except AppError as exc:
        await me.discard_failed(exc)
        return await _page(
            me,
            errors=form_errors(me, exc, {"name": "name", "scopes": "scopes", "expires_at": "expires_on"}),
            form=values,
            status_code=422,
        )
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
            "error.html", status_code=404, title=me.t("dash.not_found.title"), message=me.t("dash.not_found")
        )
    if key.revoked_at is not None:
        return me.redirect(url("/api-keys"))
    return me.render("api_key_revoke.html", key=key, recent_use=_recent_use(me, key.last_used_at))


RECENT_USE = timedelta(days=1)  # a key used this recently is probably still in service: warn before revoking


def _recent_use(me: Web, last_used_at: datetime | None) -> str | None:
    """How long ago the key was last used, when that is recent (for the warning), else ``None``."""
    if last_used_at is None:
        return None
    if last_used_at.tzinfo is None:
        last_used_at = last_used_at.replace(tzinfo=UTC)
    ago = max(now() - last_used_at, timedelta(0))
    if ago > RECENT_USE:
        return None
    seconds = int(ago.total_seconds())
    if seconds < 60:
        return me.t("dash.keys.revoke.recent_seconds", count=seconds)
    if seconds < 3600:
        return me.t("dash.keys.revoke.recent_minutes", count=seconds // 60)
    return me.t("dash.keys.revoke.recent_hours", count=seconds // 3600)


@post("/api-keys/{key_id:int}/revoke", name="dashboard:api-keys-revoke")
async def revoke(me: Web, key_id: int) -> Response[Any]:
    row = await revoke_api_key(me.db, me.tenant_id, key_id)
    me.flash("success", "dash.keys.revoked", name=row.name)
    return me.redirect(url("/api-keys"))


HANDLERS = [api_keys, create_key, revoke_confirm, revoke]
