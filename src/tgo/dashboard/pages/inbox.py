"""The Inbox (issue 18): conversations with unread badges and the customer-service window's remaining time,
a thread with both directions, statuses and media previews, a reply box (text or a file) that sends through
the API's own rules, and new messages appearing without a reload (HTMX refreshes the list and the thread)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import Parameter

from tgo.conversations import service as conversations
from tgo.conversations.schemas import WINDOW as _WINDOW
from tgo.dashboard.web import NavItem, Web, error_messages, url
from tgo.errors import AppError
from tgo.kit.clock import now
from tgo.media.sniff import MAX_UPLOAD
from tgo.messages import service as messages
from tgo.runtime import Runtime
from tgo.senders import service as senders

NAV_ITEM = NavItem("/inbox", "dash.nav.inbox", 15)
STATUS_TONE = {
    "received": "info",
    "queued": "wait",
    "sent": "info",
    "delivered": "good",
    "read": "good",
    "failed": "bad",
}
PAGE_SIZE = 50
# The reply box sends images and documents (a voice message needs its duration, which the box does not ask).
FILE_TYPES = {"image/": "image"}


def window_left(expires_at: datetime | None) -> tuple[int, int] | None:
    """(hours, minutes) left in the customer-service window, or None when it is closed."""
    if expires_at is None:
        return None
    seconds = int((expires_at - now()).total_seconds())
    if seconds <= 0:
        return None
    return seconds // 3600, (seconds % 3600) // 60


async def _numbers(me: Web) -> dict[int, Any]:
    rows, _ = await senders.list_numbers(me.db, me.tenant_id, limit=200, cursor=None, status=None)
    return {n.id: n for n in rows}


async def _list(me: Web, unread: bool) -> dict[str, Any]:
    rows, _ = await conversations.list_conversations(
        me.db,
        me.tenant_id,
        limit=PAGE_SIZE,
        cursor=None,
        sender_number_id=None,
        unread=True if unread else None,
        contact_phone=None,
    )
    return {
        "rows": [
            (c, opted, window_left(c.last_inbound_at and c.last_inbound_at + _WINDOW)) for c, opted in rows
        ],
        "numbers": await _numbers(me),
        "unread_only": unread,
    }


@get("/inbox", name="dashboard:inbox")
async def inbox(me: Web, unread: str = Parameter(query="unread", default="")) -> Response[Any]:
    return me.render("inbox.html", **await _list(me, unread == "1"))


@get("/inbox/list", name="dashboard:inbox-list")
async def inbox_list(me: Web, unread: str = Parameter(query="unread", default="")) -> Response[Any]:
    """The conversation list alone (HTMX refreshes it every few seconds)."""
    return me.render("_inbox_list.html", **await _list(me, unread == "1"))


async def _thread(me: Web, conversation_id: int) -> dict[str, Any]:
    conversation, opted = await conversations.get_conversation(me.db, me.tenant_id, conversation_id)
    rows, _ = await conversations.conversation_messages(
        me.db, me.tenant_id, conversation_id, limit=PAGE_SIZE, cursor=None
    )
    return {
        "conversation": conversation,
        "opted_out": opted,
        "window": window_left(conversation.last_inbound_at and conversation.last_inbound_at + _WINDOW),
        "thread": list(reversed(rows)),  # oldest first, as a chat reads
        "number": (await _numbers(me)).get(conversation.sender_number_id),
        "tone": STATUS_TONE,
    }


@get("/inbox/{conversation_id:int}", name="dashboard:conversation")
async def conversation(me: Web, conversation_id: int) -> Response[Any]:
    """A conversation; opening it marks it read."""
    context = await _thread(me, conversation_id)
    await conversations.mark_read(me.db, me.tenant_id, conversation_id)
    return me.render("conversation.html", errors=[], form={"content": ""}, **context)


@get("/inbox/{conversation_id:int}/thread", name="dashboard:conversation-thread")
async def conversation_thread(me: Web, conversation_id: int) -> Response[Any]:
    """The thread alone (HTMX refreshes it so a reply appears without reloading); marks it read."""
    context = await _thread(me, conversation_id)
    await conversations.mark_read(me.db, me.tenant_id, conversation_id)
    return me.render("_conversation_thread.html", **context)


def _kind(upload: UploadFile) -> str:
    content_type = upload.content_type or ""
    return next((kind for prefix, kind in FILE_TYPES.items() if content_type.startswith(prefix)), "document")


@post(
    "/inbox/{conversation_id:int}/reply",
    name="dashboard:conversation-reply",
    request_max_body_size=MAX_UPLOAD + 1024 * 1024,
)
async def reply(me: Web, runtime: Runtime, conversation_id: int) -> Response[Any]:
    """Reply from the conversation's number to its contact: an ordinary send (same checks and errors)."""
    conversation, _ = await conversations.get_conversation(me.db, me.tenant_id, conversation_id)
    data = await me.request.form()
    content = data.get("content")
    text = content if isinstance(content, str) else ""
    upload = data.get("media")
    media = upload if isinstance(upload, UploadFile) and upload.filename else None
    kind = _kind(media) if media is not None else "text"
    request = messages.SendRequest(
        to_phone=conversation.contact_phone,
        type=kind,
        content=(text or None) if media is None else None,
        caption=(text or None) if media is not None else None,
        sender_number_id=str(conversation.sender_number_id),
    )
    try:
        await messages.send_for_tenant(me.db, runtime, me.tenant_id, request, media, multipart=True)
    except AppError as exc:
        await me.discard_failed(exc)
        context = await _thread(me, conversation_id)
        return me.render(
            "conversation.html",
            status_code=exc.status_code,
            errors=error_messages(me, exc),
            form={"content": text},
            **context,
        )
    me.flash("success", "dash.inbox.sent")
    return me.redirect(url(f"/inbox/{conversation_id}"))


HANDLERS = [inbox, inbox_list, conversation, conversation_thread, reply]
