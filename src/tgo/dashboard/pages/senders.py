"""Sender numbers: list with self-explaining statuses, register, enter the OTP, resend it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Response, get, post

from tgo.dashboard.web import FormErrors, NavItem, Web, form_errors, url
from tgo.errors import AppError
from tgo.models import SenderNumber
from tgo.runtime import Runtime
from tgo.senders import service as senders
from tgo.senders.state import SenderStatus, VerificationStatus, can_send

NAV_ITEM = NavItem("/sender-numbers", "dash.nav.senders", 10)

# Statuses that change by themselves (events from Connect): their page refreshes its status block.
_MOVING = {SenderStatus.PENDING_ACCOUNT_VERIFICATION, SenderStatus.PENDING_VERIFICATION}


@dataclass(frozen=True)
class Badge:
    """What a status means for the person looking at it: a label, a tone and what to do next."""

    label_key: str
    tone: str  # good | wait | bad | info
    help_key: str


def badge(number: SenderNumber) -> Badge:
    status, verification = number.status, number.verification_status
    if status == SenderStatus.PENDING_VERIFICATION:
        return Badge(
            "dash.senders.badge.pending_verification", "wait", "dash.senders.help.pending_verification"
        )
    if status == SenderStatus.PENDING_ACCOUNT_VERIFICATION:
        return Badge(
            "dash.senders.badge.needs_account_verification",
            "wait",
            "dash.senders.help.pending_account_verification",
        )
    if status == SenderStatus.ACTIVE and verification == VerificationStatus.PENDING_ACCOUNT_VERIFICATION:
        return Badge(
            "dash.senders.badge.needs_account_verification",
            "wait",
            "dash.senders.help.lost_account_verification",
        )
    if status == SenderStatus.ACTIVE:
        return Badge("dash.senders.badge.active", "good", "dash.senders.help.active")
    if status == SenderStatus.REJECTED:
        return Badge("dash.senders.badge.rejected", "bad", "dash.senders.help.rejected")
    if status == SenderStatus.SUSPENDED:
        return Badge("dash.senders.badge.suspended", "bad", "dash.senders.help.suspended")
    return Badge("dash.senders.badge.other", "info", "dash.senders.help.other")


def _context(number: SenderNumber) -> dict[str, Any]:
    return {
        "number": number,
        "badge": badge(number),
        "can_send": can_send(number),
        "awaiting_otp": number.status == SenderStatus.PENDING_VERIFICATION,
        "connect_inbox": True,
        "moving": number.status in _MOVING
        or number.verification_status == VerificationStatus.PENDING_ACCOUNT_VERIFICATION,
    }


async def _list_page(
    me: Web, *, errors: FormErrors | None = None, form: dict[str, str] | None = None, status_code: int = 200
) -> Response[Any]:
    rows, _ = await senders.list_numbers(me.db, me.tenant_id, limit=200, cursor=None, status=None)
    return me.render(
        "senders.html",
        status_code=status_code,
        numbers=[_context(n) for n in rows],
        errors=errors or FormErrors(),
        form=form or {"phone": "", "display_name": ""},
    )


@get("/sender-numbers", name="dashboard:senders")
async def list_senders(me: Web) -> Response[Any]:
    return await _list_page(me)


@post("/sender-numbers", name="dashboard:senders-register")
async def register(me: Web, runtime: Runtime) -> Response[Any]:
    form = await me.request.form()
    phone = str(form.get("phone") or "").strip()
    display_name = str(form.get("display_name") or "").strip()
    values = {"phone": phone, "display_name": display_name}
    if not phone:
        return await _list_page(
            me,
            errors=FormErrors().add("phone", me.t("dash.senders.error.phone")),
            form=values,
            status_code=422,
        )
    assert me.viewer is not None
    try:
        number = await senders.register(
            me.db,
            runtime,
            me.tenant_id,
            me.viewer.tenant_name,
            phone=phone,
            display_name=display_name or None,
        )
    except AppError as exc:
        await me.discard_failed(exc)
        return await _list_page(me, errors=_messages(me, exc), form=values, status_code=exc.status_code)
    me.flash("success", "dash.senders.registered", phone=number.phone)
    return me.redirect(url(f"/sender-numbers/{number.id}"))


def _messages(me: Web, exc: AppError, whole: str | None = None) -> FormErrors:
    return form_errors(me, exc, {"phone": "phone", "display_name": "display_name", "otp": "otp"}, whole)


async def _detail(
    me: Web, number_id: int, *, errors: FormErrors | None = None, status_code: int = 200
) -> Response[Any]:
    number = await senders.get(me.db, me.tenant_id, number_id)
    return me.render(
        "sender.html", status_code=status_code, errors=errors or FormErrors(), **_context(number)
    )


@get("/sender-numbers/{number_id:int}", name="dashboard:sender")
async def sender_detail(me: Web, number_id: int) -> Response[Any]:
    return await _detail(me, number_id)


@get("/sender-numbers/{number_id:int}/status", name="dashboard:sender-status")
async def sender_status(me: Web, number_id: int) -> Response[Any]:
    """The status block alone (HTMX polls it while the status can change by itself)."""
    number = await senders.get(me.db, me.tenant_id, number_id)
    return me.render("sender_status.html", **_context(number))


@post("/sender-numbers/{number_id:int}/verify", name="dashboard:sender-verify")
async def verify(me: Web, runtime: Runtime, number_id: int) -> Response[Any]:
    form = await me.request.form()
    code = "".join(str(form.get("otp") or "").split())
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return await _detail(
            me,
            number_id,
            errors=FormErrors().add("otp", me.t("dash.senders.error.otp_format")),
            status_code=422,
        )
    try:
        assert me.viewer is not None
        number = await senders.verify_otp(
            me.db, runtime, me.tenant_id, me.viewer.tenant_name, number_id, code
        )
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        return await _detail(
            me, number_id, errors=_messages(me, exc, whole="otp"), status_code=exc.status_code
        )
    key = "dash.senders.verified_active" if can_send(number) else "dash.senders.verified_needs_account"
    me.flash("success", key)
    return me.redirect(url(f"/sender-numbers/{number.id}"))


@post("/sender-numbers/{number_id:int}/resend", name="dashboard:sender-resend")
async def resend(me: Web, runtime: Runtime, number_id: int) -> Response[Any]:
    assert me.viewer is not None
    try:
        number = await senders.resend_otp(me.db, runtime, me.tenant_id, me.viewer.tenant_name, number_id)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        return await _detail(me, number_id, errors=_messages(me, exc), status_code=exc.status_code)
    me.flash("success", "dash.senders.resent", phone=number.phone)
    return me.redirect(url(f"/sender-numbers/{number.id}"))


@post("/sender-numbers/{number_id:int}/rename", name="dashboard:sender-rename")
async def rename(me: Web, number_id: int) -> Response[Any]:
    form = await me.request.form()
    display_name = str(form.get("display_name") or "")
    try:
        await senders.rename(me.db, me.tenant_id, number_id, display_name)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        return await _detail(me, number_id, errors=_messages(me, exc), status_code=exc.status_code)
    me.flash("success", "dash.senders.renamed")
    return me.redirect(url(f"/sender-numbers/{number_id}"))


@get("/sender-numbers/{number_id:int}/delete", name="dashboard:sender-delete-confirm")
async def delete_confirm(me: Web, number_id: int) -> Response[Any]:
    number = await senders.get(me.db, me.tenant_id, number_id)
    return me.render("sender_delete.html", number=number)


@post("/sender-numbers/{number_id:int}/delete", name="dashboard:sender-delete")
async def delete(me: Web, number_id: int) -> Response[Any]:
    number = await senders.get(me.db, me.tenant_id, number_id)
    phone = number.phone
    await senders.delete(me.db, me.tenant_id, number_id)
    me.flash("success", "dash.senders.deleted", phone=phone)
    return me.redirect(url("/sender-numbers"))


HANDLERS = [
    list_senders,
    register,
    sender_detail,
    sender_status,
    verify,
    resend,
    rename,
    delete_confirm,
    delete,
]
