"""The reference TGO Connect network's "phone": the inbox of a phone number, through the ConnectAdminClient.

A number owner reads the OTP here; a recipient sees the messages delivered to them and marks them read
(which Connect reports back, so the message log shows ``read``)."""

from __future__ import annotations

from typing import Any, NamedTuple
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


def _admin(runtime: Runtime) -> ConnectAdminClient:
    """The operator's client of the network, over the runtime's Connect transport."""
    return ConnectAdminClient.of(runtime.connect.get())


PAGE_SIZE = 20
MARK_ALL_PAGES = 25  # "mark all as read" walks at most this many pages of 200 (5,000 messages)


class Inbox(NamedTuple):
    messages: list[InboxMessage]
    next_cursor: str | None
    error: str | None


async def _messages(me: Web, runtime: Runtime, e164: str, cursor: str | None = None) -> Inbox:
    """One page of the inbox of a phone this session opened with its key (callers check that first)."""
    try:
        page = await _admin(runtime).inbox_page(e164, limit=PAGE_SIZE, cursor=cursor or None)
    except ConnectRejected as exc:
        if exc.reason_code in ("account_not_found", "not_found"):
            return Inbox([], None, me.t("dash.connect.error.no_account", phone=e164))
        if exc.reason_code in ("invalid_cursor", "bad_request", "validation_failed"):
            return Inbox([], None, me.t("dash.connect.error.cursor"))
        return Inbox([], None, me.t("dash.connect.error.unavailable"))
    except ConnectError:
        return Inbox([], None, me.t("dash.connect.error.unavailable"))
    return Inbox(page.data, page.next_cursor, None)


def _render(
    me: Web,
    phone: str,
    e164: str | None,
    inbox: Inbox,
    status: int = 200,
    cursor: str | None = None,
) -> Response[Any]:
    return me.render(
        "connect_inbox.html",
        status_code=status,
        phone=phone,
        e164=e164,
        messages=inbox.messages,
        error=inbox.error,
        unread=sum(1 for m in inbox.messages if m.read_at is None),
        opened=list(reversed(me.session.inboxes)),
        cursor=cursor,
        older_url=f"?{urlencode({'phone': e164, 'cursor': inbox.next_cursor})}"
        if inbox.next_cursor
        else None,
        newest_url=f"?{urlencode({'phone': e164})}" if cursor and e164 else None,
    )


EMPTY = Inbox([], None, None)


@get("/connect", name="dashboard:connect")
async def connect_inbox(
    me: Web,
    runtime: Runtime,
    phone: str | None = Parameter(query="phone", default=None),
    cursor: str | None = Parameter(query="cursor", default=None),
) -> Response[Any]:
    """The inbox of ``phone`` if this session opened it with the phone's key, else the form that opens one.
    The key itself is never in a URL (history, Referer, proxy logs): it is posted once, and the signed
    session cookie then carries the grant."""
    e164 = _phone(phone or "")
    if e164 is None or not me.session.can_read_inbox(e164):
        return _render(me, phone or "", None, EMPTY)
    return _render(me, e164, e164, await _messages(me, runtime, e164, cursor), cursor=cursor)


@post("/connect", name="dashboard:connect-open")
async def connect_open(me: Web, runtime: Runtime) -> Response[Any]:
    """Open a phone's inbox with its key. A dashboard user is not the phone's owner: without the key they
    cannot read the OTP of a number they register. A wrong key says the same whether or not the phone has
    an account."""
    form = await me.request.form()
    phone, key = str(form.get("phone") or ""), str(form.get("key") or "")
    e164 = _phone(phone)
    if e164 is None:
        return _render(me, phone, None, Inbox([], None, me.t("dash.connect.error.phone")), 422)
    if not _admin(runtime).inbox_key_matches(e164, key):
        return _render(me, phone, None, Inbox([], None, me.t("dash.connect.error.key")), 422)
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
    inbox = await _messages(me, runtime, e164)
    return me.render("connect_messages.html", e164=e164, messages=inbox.messages, error=inbox.error)


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
        await _admin(runtime).mark_read(e164, message_id)
    except ConnectError:
        me.flash("error", "dash.connect.error.mark_read")
    else:
        me.flash("success", "dash.connect.marked_read")
    return me.redirect(url(f"/connect?{urlencode({'phone': e164})}"))


@post("/connect/read-all", name="dashboard:connect-read-all")
async def connect_mark_all_read(me: Web, runtime: Runtime) -> Response[Any]:
    """Mark every unread message of an opened inbox read (each is reported back to the business)."""
    form = await me.request.form()
    e164 = _phone(str(form.get("phone") or ""))
    if e164 is None or not me.session.can_read_inbox(e164):
        me.flash("error", "dash.connect.error.key")
        return me.redirect(url("/connect"))
    client = _admin(runtime)
    marked = 0
    cursor: str | None = None
    try:
        for _ in range(MARK_ALL_PAGES):
            page = await client.inbox_page(e164, limit=200, cursor=cursor)
            for m in page.data:
                if m.read_at is None:
                    await client.mark_read(e164, m.id)
                    marked += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    except ConnectError:
        me.flash("error", "dash.connect.error.mark_read")
    else:
        me.flash("success", "dash.connect.marked_all_read", count=marked)
    return me.redirect(url(f"/connect?{urlencode({'phone': e164})}"))


HANDLERS = [connect_inbox, connect_open, connect_messages, connect_mark_read, connect_mark_all_read]
