"""The SMS message log (filters, keyset pages), each SMS's details, and sending an SMS from an active
SMS sender with its encoding and segments shown while it is typed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.channels.sms_encoding import analyze
from tgo.dashboard.web import NavItem, Web, error_messages, url
from tgo.db import after_commit
from tgo.errors import AppError
from tgo.runtime import Runtime
from tgo.sms import service as sms
from tgo.sms.jobs import publish_delivery
from tgo.sms.rules import MessageType
from tgo.sms.schemas import SmsMessageCreate
from tgo.sms.state import MessageStatus, SenderStatus

NAV_ITEM = NavItem("/sms-messages", "dash.nav.sms_messages", 25)

STATUS_TONE = {"queued": "info", "sent": "info", "delivered": "good", "undelivered": "bad", "failed": "bad"}
PAGE_SIZE = 25
FIELDS = ("sender_id", "to", "body", "message_type")


async def _senders(me: Web) -> list[Any]:
    rows, _ = await sms.list_senders(me.db, me.tenant_id, limit=200, cursor=None)
    return rows


@get("/sms-messages", name="dashboard:sms-messages")
async def sms_log(
    me: Web,
    status: str = Parameter(query="status", default=""),
    sender: str = Parameter(query="sender", default=""),
    cursor: str = Parameter(query="cursor", default=""),
) -> Response[Any]:
    form = {"status": status, "sender": sender}
    errors: list[str] = []
    rows: list[Any] = []
    next_cursor = None
    try:
        rows, next_cursor = await sms.list_messages(
            me.db,
            me.tenant_id,
            limit=PAGE_SIZE,
            cursor=cursor or None,
            status=status or None,
            sender_id=sender or None,
        )
    except AppError as exc:
        errors.extend(error_messages(me, exc))
    senders = await _senders(me)
    query = {k: v for k, v in form.items() if v}
    return me.render(
        "sms_messages.html",
        status_code=422 if errors else 200,
        rows=rows,
        names={s.id: s for s in senders},
        senders=senders,
        form=form,
        errors=errors,
        statuses=[s.value for s in MessageStatus],
        tone=STATUS_TONE,
        next_url=f"?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"?{urlencode(query)}" if cursor else None,
    )


async def _new_page(
    me: Web, form: dict[str, str], *, errors: list[str] | None = None, status_code: int = 200
) -> Response[Any]:
    active = [s for s in await _senders(me) if s.status == SenderStatus.ACTIVE]
    return me.render(
        "sms_message_new.html",
        status_code=status_code,
        senders=active,
        form=form,
        errors=errors or [],
        message_types=[t.value for t in MessageType],
        info=analyze(form["body"]) if form["body"] else None,
    )


@get("/sms-messages/new", name="dashboard:sms-message-new")
async def new_sms(me: Web, sender: str = Parameter(query="sender", default="")) -> Response[Any]:
    return await _new_page(me, {"sender_id": sender, "to": "", "body": "", "message_type": ""})


@post("/sms-messages/new", name="dashboard:sms-message-send")
async def send_sms(me: Web, runtime: Runtime) -> Response[Any]:
    data = await me.request.form()
    form = {k: v if isinstance(v := data.get(k), str) else "" for k in FIELDS}
    create = SmsMessageCreate(
        sender_id=form["sender_id"] or None,
        to=form["to"].strip() or None,
        body=form["body"] or None,
        message_type=form["message_type"] or None,
    )
    try:
        message = await sms.create_message(me.db, me.tenant_id, create)
    except AppError as exc:
        await me.discard_failed(exc)
        return await _new_page(me, form, errors=error_messages(me, exc), status_code=exc.status_code)
    message_id = message.id

    async def publish() -> None:  # as the API does: the job after the commit, the sweeper if it is lost
        await publish_delivery(runtime, message_id)

    after_commit(me.db, publish)
    me.flash("success", "dash.smslog.accepted")
    return me.redirect(url(f"/sms-messages/{message_id}"))


@get("/sms-messages/preview", name="dashboard:sms-message-preview")
async def sms_preview(me: Web, text: str = Parameter(query="body", default="")) -> Response[Any]:
    """Characters, encoding and segments of the text being typed (HTMX)."""
    return me.render("_sms_preview.html", info=analyze(text[: sms.MAX_BODY_CHARACTERS]) if text else None)


@get("/sms-messages/{message_id:str}", name="dashboard:sms-message")
async def sms_detail(me: Web, message_id: str) -> Response[Any]:
    message = await sms.get_message(me.db, me.tenant_id, message_id)
    sender = next((s for s in await _senders(me) if s.id == message.sender_id), None)
    return me.render(
        "sms_message.html",
        message=message,
        sender=sender,
        tone=STATUS_TONE,
        moving=message.status in (MessageStatus.QUEUED, MessageStatus.SENT),
    )


@get("/sms-messages/{message_id:str}/status", name="dashboard:sms-message-status")
async def sms_status(me: Web, message_id: str) -> Response[Any]:
    """The status block alone (HTMX polls it until the carrier's receipt settles it)."""
    message = await sms.get_message(me.db, me.tenant_id, message_id)
    return me.render(
        "sms_message_status.html",
        message=message,
        tone=STATUS_TONE,
        moving=message.status in (MessageStatus.QUEUED, MessageStatus.SENT),
    )


HANDLERS = [sms_log, new_sms, send_sms, sms_preview, sms_detail, sms_status]
