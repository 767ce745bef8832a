"""The reference TGO Connect network's "phone": the inbox of a phone number, through the ConnectClient.

A number owner reads the OTP here; a recipient sees the messages delivered to them and marks them read
(which Connect reports back, so the message log shows ``read``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.channels.connect import get_connect_client
from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import ConnectError, ConnectRejected, InboxMessage
from tgo.dashboard.web import NAV, NavItem, Web, url
from tgo.runtime import Runtime

NAV.append(NavItem("/connect", "dash.nav.connect", 90))


async def _inbox(
    me: Web, runtime: Runtime, phone: str, key: str
) -> tuple[str | None, list[InboxMessage], str | None]:
    """(normalised phone, messages, error text). The phone's inbox key is the permission to read it: a
    dashboard user is not the phone's owner (else anyone could read the OTP of a number they register).
    A wrong key says the same whether or not the phone has an account."""
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        return None, [], me.t("dash.connect.error.phone")
    client = get_connect_client(runtime)
    if not client.inbox_key_matches(e164, key):
        return None, [], me.t("dash.connect.error.key")
    try:
        messages = await client.inbox(e164, limit=100)
    except ConnectRejected as exc:
        if exc.reason_code in ("account_not_found", "not_found"):
            return e164, [], me.t("dash.connect.error.no_account", phone=e164)
        return e164, [], me.t("dash.connect.error.unavailable")
    except ConnectError:
        return e164, [], me.t("dash.connect.error.unavailable")
    return e164, messages, None


@get("/connect", name="dashboard:connect")
async def connect_inbox(
    me: Web,
    runtime: Runtime,
    phone: str | None = Parameter(query="phone", default=None),
    key: str = Parameter(query="key", default=""),
) -> Response[Any]:
    e164: str | None = None
    messages: list[InboxMessage] = []
    error: str | None = None
    if phone and key:
        e164, messages, error = await _inbox(me, runtime, phone, key)
    return me.render(
        "connect_inbox.html",
        phone=phone or "",
        key=key if e164 else "",
        e164=e164,
        messages=messages,
        error=error,
        unread=sum(1 for m in messages if m.read_at is None),
    )


@get("/connect/messages", name="dashboard:connect-messages")
async def connect_messages(
    me: Web,
    runtime: Runtime,
    phone: str = Parameter(query="phone"),
    key: str = Parameter(query="key", default=""),
) -> Response[Any]:
    """The message list alone (HTMX refreshes it so a new OTP appears without reloading)."""
    e164, messages, error = await _inbox(me, runtime, phone, key)
    return me.render(
        "connect_messages.html", e164=e164, key=key if e164 else "", messages=messages, error=error
    )


@post("/connect/read", name="dashboard:connect-read")
async def connect_mark_read(me: Web, runtime: Runtime) -> Response[Any]:
    form = await me.request.form()
    phone = str(form.get("phone") or "")
    key = str(form.get("key") or "")
    client = get_connect_client(runtime)
    try:
        e164 = normalize_phone(phone)
        message_id = int(str(form.get("message_id") or ""))
    except (InvalidPhone, ValueError):
        return me.redirect(url("/connect"))
    if not client.inbox_key_matches(e164, key):
        me.flash("error", "dash.connect.error.key")
        return me.redirect(url("/connect"))
    try:
        await client.mark_read(e164, message_id)
    except ConnectError:
        me.flash("error", "dash.connect.error.mark_read")
    else:
        me.flash("success", "dash.connect.marked_read")
    return me.redirect(url(f"/connect?{urlencode({'phone': e164, 'key': key})}"))


HANDLERS = [connect_inbox, connect_messages, connect_mark_read]
