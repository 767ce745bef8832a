"""The reference TGO Connect network's "phone": the inbox of a phone number, through the ConnectClient.

A number owner reads the OTP here; a recipient sees the messages delivered to them and marks them read
(which Connect reports back, so the message log shows ``read``)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.channels.connect import get_connect_client
from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import ConnectError, ConnectRejected, InboxMessage
from tgo.dashboard.web import NAV, NavItem, Web, url
from tgo.runtime import Runtime

NAV.append(NavItem("/connect", "dash.nav.connect", 90))


async def _inbox(me: Web, runtime: Runtime, phone: str) -> tuple[str | None, list[InboxMessage], str | None]:
    """(normalised phone, messages, error text)."""
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        return None, [], me.t("dash.connect.error.phone")
    try:
        messages = await get_connect_client(runtime).inbox(e164, limit=100)
    except ConnectRejected as exc:
        if exc.reason_code in ("account_not_found", "not_found"):
            return e164, [], me.t("dash.connect.error.no_account", phone=e164)
        return e164, [], me.t("dash.connect.error.unavailable")
    except ConnectError:
        return e164, [], me.t("dash.connect.error.unavailable")
    return e164, messages, None


@get("/connect", name="dashboard:connect")
async def connect_inbox(
    me: Web, runtime: Runtime, phone: str | None = Parameter(query="phone", default=None)
) -> Response[Any]:
    e164: str | None = None
    messages: list[InboxMessage] = []
    error: str | None = None
    if phone:
        e164, messages, error = await _inbox(me, runtime, phone)
    return me.render(
        "connect_inbox.html",
        phone=phone or "",
        e164=e164,
        messages=messages,
        error=error,
        unread=sum(1 for m in messages if m.read_at is None),
    )


@get("/connect/messages", name="dashboard:connect-messages")
async def connect_messages(me: Web, runtime: Runtime, phone: str = Parameter(query="phone")) -> Response[Any]:
    """The message list alone (HTMX refreshes it so a new OTP appears without reloading)."""
    e164, messages, error = await _inbox(me, runtime, phone)
    return me.render("connect_messages.html", e164=e164, messages=messages, error=error)


@post("/connect/read", name="dashboard:connect-read")
async def connect_mark_read(me: Web, runtime: Runtime) -> Response[Any]:
    form = await me.request.form()
    phone = str(form.get("phone") or "")
    try:
        e164 = normalize_phone(phone)
        message_id = int(str(form.get("message_id") or ""))
    except (InvalidPhone, ValueError):
        return me.redirect(url("/connect"))
    try:
        await get_connect_client(runtime).mark_read(e164, message_id)
    except ConnectError:
        me.flash("error", "dash.connect.error.mark_read")
    else:
        me.flash("success", "dash.connect.marked_read")
    return me.redirect(url(f"/connect?phone={e164.replace('+', '%2B')}"))


HANDLERS = [connect_inbox, connect_messages, connect_mark_read]
