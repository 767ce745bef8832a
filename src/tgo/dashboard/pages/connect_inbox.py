"""The reference TGO Connect network's "phone": the inbox of a phone number, through the ConnectAdminClient.

A number owner reads the OTP here; a recipient sees the messages delivered to them and marks them read
(which Connect reports back, so the message log shows ``read``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import ConnectError, ConnectRejected, InboxMessage
from tgo.dashboard.web import NavItem, Web, url
from tgo.runtime import Runtime

NAV_ITEM = NavItem("/connect", "dash.nav.connect", 90)


def _phone(raw: str) -> str | None:
    try:
        return normalize_phone(raw)
    except InvalidPhone:
        return None


async def _messages(me: Web, runtime: Runtime, e164: str) -> tuple[list[InboxMessage], str | None]:
    """The inbox of a phone this session opened with its key (callers check that first)."""
    try:
        return await ConnectAdminClient.of(runtime.connect.get()).inbox(e164, limit=100), None
    except ConnectRejected as exc:
        if exc.reason_code in ("account_not_found", "not_found"):
            return [], me.t("dash.connect.error.no_account", phone=e164)
        return [], me.t("dash.connect.error.unavailable")
    except ConnectError:
        return [], me.t("dash.connect.error.unavailable")


def _render(
    me: Web, phone: str, e164: str | None, messages: list[InboxMessage], error: str | None, status: int = 200
) -> Response[Any]:
    return me.render(
        "connect_inbox.html",
        status_code=status,
        phone=phone,
        e164=e164,
        messages=messages,
        error=error,
        unread=sum(1 for m in messages if m.read_at is None),
    )


@get("/connect", name="dashboard:connect")
async def connect_inbox(
    me: Web, runtime: Runtime, phone: str | None = Parameter(query="phone", default=None)
) -> Response[Any]:
    """The inbox of ``phone`` if this session opened it with the phone's key, else the form that opens one.
    The key itself is never in a URL (history, Referer, proxy logs): it is posted once, and the signed
    session cookie then carries the grant."""
    e164 = _phone(phone or "")
    if e164 is None or not me.session.can_read_inbox(e164):
        return _render(me, phone or "", None, [], None)
    messages, error = await _messages(me, runtime, e164)
    return _render(me, e164, e164, messages, error)


@post("/connect", name="dashboard:connect-open")
async def connect_open(me: Web, runtime: Runtime) -> Response[Any]:
    """Open a phone's inbox with its key. A dashboard user is not the phone's owner: without the key they
    cannot read the OTP of a number they register. A wrong key says the same whether or not the phone has
    an account."""
    form = await me.request.form()
    phone, key = str(form.get("phone") or ""), str(form.get("key") or "")
    e164 = _phone(phone)
    if e164 is None:
        return _render(me, phone, None, [], me.t("dash.connect.error.phone"), 422)
    if not ConnectAdminClient.of(runtime.connect.get()).inbox_key_matches(e164, key):
        return _render(me, phone, None, [], me.t("dash.connect.error.key"), 422)
    me.session.open_inbox(e164)
    return me.redirect(url(f"/connect?{urlencode({'phone': e164})}"))


@get("/connect/messages", name="dashboard:connect-messages")
async def connect_messages(me: Web, runtime: Runtime, phone: str = Parameter(query="phone")) -> Response[Any]:
    """The message list alone (HTMX refreshes it so a new OTP appears without reloading)."""
    e164 = _phone(phone)
    if e164 is None or not me.session.can_read_inbox(e164):
        return me.render(
            "connect_messages.html", e164=None, messages=[], error=me.t("dash.connect.error.key")
        )
    messages, error = await _messages(me, runtime, e164)
    return me.render("connect_messages.html", e164=e164, messages=messages, error=error)


@post("/connect/read", name="dashboard:connect-read")
async def connect_mark_read(me: Web, runtime: Runtime) -> Response[Any]:
    form = await me.request.form()
    e164 = _phone(str(form.get("phone") or ""))
    try:
        message_id = int(str(form.get("message_id") or ""))
    except ValueError:
        e164 = None
    if e164 is None:
        return me.redirect(url("/connect"))
    if not me.session.can_read_inbox(e164):
        me.flash("error", "dash.connect.error.key")
        return me.redirect(url("/connect"))
    try:
        await ConnectAdminClient.of(runtime.connect.get()).mark_read(e164, message_id)
    except ConnectError:
        me.flash("error", "dash.connect.error.mark_read")
    else:
        me.flash("success", "dash.connect.marked_read")
    return me.redirect(url(f"/connect?{urlencode({'phone': e164})}"))


HANDLERS = [connect_inbox, connect_open, connect_messages, connect_mark_read]
