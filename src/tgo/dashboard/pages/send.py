"""Send a message from the dashboard (text, image, voice, document) with the API's send and its rules,
and the recipient's reachability checked while it is typed."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import Parameter

from tgo.contacts import service as contacts
from tgo.dashboard.web import FormErrors, Web, form_errors, url
from tgo.errors import AppError
from tgo.media.sniff import MAX_UPLOAD
from tgo.messages import service as messages
from tgo.runtime import Runtime
from tgo.senders import service as senders
from tgo.senders.state import can_send

FIELDS = ("sender_number_id", "to_phone", "type", "content", "caption", "duration")
# The send's problems beside the form's fields: its field errors by name, the others by their code.
ERROR_FIELDS = {f: f for f in (*FIELDS, "media")} | {"sender_phone": "sender_number_id"}
CODE_FIELDS = {
    "sender_not_found": "sender_number_id",
    "sender_not_active": "sender_number_id",
    "sender_owner_not_verified": "sender_number_id",
    "recipient_unreachable": "to_phone",
    "payload_too_large": "media",
    "unsupported_media_type": "media",
    "media_too_large": "media",
    "media_type_mismatch": "media",
    "media_rejected": "media",
}


async def _sendable(me: Web) -> list[Any]:
    rows, _ = await senders.list_numbers(me.db, me.tenant_id, limit=200, cursor=None, status=None)
    return [n for n in rows if can_send(n)]


async def _page(
    me: Web, form: dict[str, str], *, errors: FormErrors | None = None, status_code: int = 200
) -> Response[Any]:
    return me.render(
        "message_new.html",
        status_code=status_code,
        numbers=await _sendable(me),
        form=form,
        errors=errors or FormErrors(),
        types=messages.MESSAGE_TYPES,
    )


@get("/messages/new", name="dashboard:message-new")
async def new_message(me: Web, sender: str = Parameter(query="sender", default="")) -> Response[Any]:
    form = dict.fromkeys(FIELDS, "")
    form["type"] = "text"
    form["sender_number_id"] = sender if sender.isdigit() else ""
    return await _page(me, form)


@post("/messages/new", name="dashboard:message-send", request_max_body_size=MAX_UPLOAD + 1024 * 1024)
async def send_message(me: Web, runtime: Runtime) -> Response[Any]:
    data = await me.request.form()
    form = {k: v if isinstance(v := data.get(k), str) else "" for k in FIELDS}
    upload = data.get("media")
    # A file input left empty still arrives, as a nameless empty part.
    media = upload if isinstance(upload, UploadFile) and upload.filename else None
    request = messages.SendRequest(
        to_phone=form["to_phone"].strip(),
        type=form["type"],
        content=form["content"] or None,
        caption=form["caption"] or None,
        duration=form["duration"] or None,
        sender_number_id=form["sender_number_id"] or None,
    )
    try:
        message, _ = await messages.send_for_tenant(
            me.db, runtime, me.tenant_id, request, media, multipart=True
        )
    except AppError as exc:
        await me.discard_failed(exc)
        errors = form_errors(me, exc, ERROR_FIELDS, CODE_FIELDS.get(exc.code))
        return await _page(me, form, errors=errors, status_code=exc.status_code)
    me.flash("success", "dash.send.accepted", id=message.id)
    return me.redirect(url(f"/messages/{message.id}"))


@get("/messages/new/recipient", name="dashboard:message-recipient")
async def recipient_check(
    me: Web,
    runtime: Runtime,
    to_phone: str = Parameter(query="to_phone", default=""),
    sender_number_id: str = Parameter(query="sender_number_id", default=""),
) -> Response[Any]:
    """Whether the typed recipient can receive from the chosen number (HTMX, as it is typed)."""
    state, key = "none", ""
    phone = to_phone.strip()
    if phone:
        sender_phone = None
        if sender_number_id.isdigit():
            numbers = {n.id: n.phone for n in await _sendable(me)}
            sender_phone = numbers.get(int(sender_number_id))
        try:
            found = await contacts.lookup(runtime, me.tenant_id, phone, sender_phone)
        except AppError as exc:
            state, key = (
                "bad",
                "dash.send.check.invalid" if exc.status_code == 422 else "dash.send.check.unavailable",
            )
        else:
            state = "good" if found.can_receive else "bad"
            key = f"dash.send.check.{found.reason_code.value}"
    return me.render("_recipient_check.html", state=state, key=key)


HANDLERS = [new_message, send_message, recipient_check]
