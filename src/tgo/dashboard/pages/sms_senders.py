"""SMS senders: list with explained statuses and rejection reasons, add, start verification, delete."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post

from tgo.dashboard.countries import countries
from tgo.dashboard.web import FormErrors, NavItem, Web, error_messages, form_errors, url
from tgo.errors import AppError
from tgo.models import SmsSender
from tgo.runtime import Runtime
from tgo.sms import service as sms
from tgo.sms.jobs import publish_verification_after_commit
from tgo.sms.rules import MessageType, SenderType
from tgo.sms.schemas import SmsSenderCreate
from tgo.sms.state import VERIFIABLE, SenderStatus

NAV_ITEM = NavItem("/sms-senders", "dash.nav.sms_senders", 40)

STATUS_TONE = {
    "not_started": "info",
    "pending": "wait",
    "active": "good",
    "failed": "bad",
    "rejected": "bad",
    "suspended": "bad",
}
# Field names of the SMS API (camelCase) to the dashboard's form fields.
FIELDS = {
    "name": "name",
    "senderId": "sender_id",
    "senderType": "sender_type",
    "country": "country",
    "defaultMessageType": "default_message_type",
}


def _item(sender: SmsSender) -> dict[str, Any]:
    return {
        "sender": sender,
        "tone": STATUS_TONE.get(sender.status, "info"),
        "verifiable": sender.status in VERIFIABLE,
        "moving": sender.status == SenderStatus.PENDING,
    }


async def _list_page(
    me: Web, *, errors: FormErrors | None = None, form: dict[str, str] | None = None, status_code: int = 200
) -> Response[Any]:
    rows, _ = await sms.list_senders(me.db, me.tenant_id, limit=200, cursor=None)
    return me.render(
        "sms_senders.html",
        status_code=status_code,
        countries=countries(me.lang),
        country_name=dict(countries(me.lang)),
        items=[_item(s) for s in rows],
        sender_types=[t.value for t in SenderType],
        message_types=[t.value for t in MessageType],
        errors=errors or FormErrors(),
        form=form
        or {
            "name": "",
            "sender_id": "",
            "sender_type": "alphanumeric_id",
            "country": "",
            "default_message_type": "transactional",
        },
    )


@get("/sms-senders", name="dashboard:sms-senders")
async def list_sms_senders(me: Web) -> Response[Any]:
    return await _list_page(me)


@post("/sms-senders", name="dashboard:sms-senders-add")
async def add_sms_sender(me: Web) -> Response[Any]:
    form = await me.request.form()
    values = {k: str(form.get(k) or "").strip() for k in FIELDS.values()}
    data = SmsSenderCreate(
        name=values["name"] or None,
        sender_id=values["sender_id"] or None,
        sender_type=values["sender_type"] or None,
        country=values["country"].upper() or None,
        default_message_type=values["default_message_type"] or None,
    )
    try:
        sender = await sms.create_sender(me.db, me.tenant_id, data)
    except AppError as exc:
        await me.discard_failed(exc)
        return await _list_page(
            me, errors=form_errors(me, exc, FIELDS), form=values, status_code=exc.status_code
        )
    me.flash("success", "dash.sms.added", name=sender.name)
    return me.redirect(url(f"/sms-senders/{sender.id}"))


@get("/sms-senders/{sender_id:str}", name="dashboard:sms-sender")
async def sms_sender_detail(me: Web, sender_id: str) -> Response[Any]:
    sender = await sms.get_sender(me.db, me.tenant_id, sender_id)
    return me.render("sms_sender.html", country_name=dict(countries(me.lang)), **_item(sender))


@get("/sms-senders/{sender_id:str}/status", name="dashboard:sms-sender-status")
async def sms_sender_status(me: Web, sender_id: str) -> Response[Any]:
    """The status block alone (HTMX polls it while the carrier decides)."""
    sender = await sms.get_sender(me.db, me.tenant_id, sender_id)
    return me.render("sms_sender_status.html", **_item(sender))


@post("/sms-senders/{sender_id:str}/verify", name="dashboard:sms-sender-verify")
async def verify_sms_sender(me: Web, runtime: Runtime, sender_id: str) -> Response[Any]:
    try:
        sender = await sms.start_verification(
            me.db, me.tenant_id, sender_id, delay_seconds=runtime.settings.sms_verification_delay_seconds
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        me.session.flash("error", error_messages(me, exc)[0])
        return me.redirect(url(f"/sms-senders/{sender_id}"))
    publish_verification_after_commit(me.db, runtime, sender)
    me.flash("success", "dash.sms.verification_started")
    return me.redirect(url(f"/sms-senders/{sender.id}"))


@get("/sms-senders/{sender_id:str}/delete", name="dashboard:sms-sender-delete-confirm")
async def delete_confirm(me: Web, sender_id: str) -> Response[Any]:
    sender = await sms.get_sender(me.db, me.tenant_id, sender_id)
    return me.render("sms_sender_delete.html", sender=sender)


@post("/sms-senders/{sender_id:str}/delete", name="dashboard:sms-sender-delete")
async def delete_sms_sender(me: Web, sender_id: str) -> Response[Any]:
    try:
        await sms.delete_sender(me.db, me.tenant_id, sender_id)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        me.session.flash("error", error_messages(me, exc)[0])
        return me.redirect(url(f"/sms-senders/{sender_id}"))
    me.flash("success", "dash.sms.deleted")
    return me.redirect(url("/sms-senders"))


HANDLERS = [
    list_sms_senders,
    add_sms_sender,
    sms_sender_detail,
    sms_sender_status,
    verify_sms_sender,
    delete_confirm,
    delete_sms_sender,
]
