"""The opt-out list (issue 18): who is suppressed, on which channel, from which source and since when; add a
phone (source ``dashboard``) and remove one, through the opt-out service's own rules."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.dashboard.web import Web, error_messages, url
from tgo.errors import AppError
from tgo.optouts import service as optouts

# No navigation entry of its own (the phone layout's menu is full): the Inbox links to it.
PAGE_SIZE = 50


async def _page(
    me: Web,
    *,
    cursor: str = "",
    form: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    rows, next_cursor = await optouts.list_entries(
        me.db, me.tenant_id, limit=PAGE_SIZE, cursor=cursor or None, channel=None, phone=None
    )
    return me.render(
        "opt_outs.html",
        status_code=status_code,
        rows=rows,
        form=form or {"phone": "", "channel": "connect"},
        errors=errors or [],
        channels=optouts.CHANNELS,
        next_url=f"?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
        first_url=url("/opt-outs") if cursor else None,
    )


@get("/opt-outs", name="dashboard:opt-outs")
async def opt_outs(me: Web, cursor: str = Parameter(query="cursor", default="")) -> Response[Any]:
    return await _page(me, cursor=cursor)


@post("/opt-outs", name="dashboard:opt-out-add")
async def add_opt_out(me: Web) -> Response[Any]:
    data = await me.request.form()
    form = {k: v if isinstance(v := data.get(k), str) else "" for k in ("phone", "channel")}
    try:
        _, added = await optouts.add_entry(
            me.db,
            me.tenant_id,
            {"phone": form["phone"].strip(), "channel": form["channel"], "source": "dashboard"},
        )
    except AppError as exc:
        await me.discard_failed(exc)
        return await _page(me, form=form, errors=error_messages(me, exc), status_code=exc.status_code)
    me.flash("success", "dash.optouts.added" if added else "dash.optouts.already")
    return me.redirect(url("/opt-outs"))


@post("/opt-outs/remove", name="dashboard:opt-out-remove")
async def remove_opt_out(me: Web) -> Response[Any]:
    data = await me.request.form()
    phone, channel = (v if isinstance(v := data.get(k), str) else "" for k in ("phone", "channel"))
    try:
        await optouts.remove_entry(me.db, me.tenant_id, phone, channel or None)
    except AppError as exc:
        await me.discard_failed(exc)
        return await _page(me, errors=error_messages(me, exc), status_code=exc.status_code)
    me.flash("success", "dash.optouts.removed")
    return me.redirect(url("/opt-outs"))


HANDLERS = [opt_outs, add_opt_out, remove_opt_out]
