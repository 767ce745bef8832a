"""The message log: filters, keyset pagination, each message's status history and media preview."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Response, get
from litestar.di import Provide
from litestar.params import Parameter
from litestar.response import Stream

from tgo.dashboard.spreadsheet import spreadsheet_cell
from tgo.dashboard.web import FormErrors, NavItem, Web, form_errors
from tgo.errors import AppError, ValidationFailed
from tgo.kit.clock import now
from tgo.media.filenames import content_disposition
from tgo.media.service import get_media
from tgo.messages import service as messages
from tgo.messages.state import MessageStatus
from tgo.runtime import Runtime
from tgo.senders import service as senders

NAV_ITEM = NavItem("/messages", "dash.nav.messages", 20)

TYPES = ("text", "image", "voice", "document")
STATUS_TONE = {"queued": "info", "sent": "info", "delivered": "good", "read": "good", "failed": "bad"}
PAGE_SIZE = 25
EXPORT_PAGE_SIZE = 200  # rows per keyset page of the CSV export (what it holds in memory at once)
# Shown inline in the preview (sniffed types only); anything else is a download.
INLINE_TYPES = ("image/jpeg", "image/png", "image/webp", "audio/")


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _log_form(
    status: str = Parameter(query="status", default=""),
    sender: str = Parameter(query="sender", default=""),
    to: str = Parameter(query="to", default=""),
    type_: str = Parameter(query="type", default=""),
    since: str = Parameter(query="since", default=""),
    until: str = Parameter(query="until", default=""),
    q: str = Parameter(query="q", default=""),
) -> dict[str, str]:
    """The log's filter form as the query gives it (the page and its CSV export take the same one)."""
    return {
        "q": q,
        "status": status,
        "sender": sender,
        "to": to,
        "type": type_,
        "since": since,
        "until": until,
    }


_LOG_FORM = {"form": Provide(_log_form, sync_to_thread=False)}


@get("/messages", name="dashboard:messages", dependencies=_LOG_FORM)
async def message_log(
    me: Web, form: dict[str, str], cursor: str = Parameter(query="cursor", default="")
) -> Response[Any]:
    errors, filters = _filters(me, form)
    rows: list[Any] = []
    next_cursor = None
    count = None
    try:
        rows, next_cursor = await messages.list_messages(
            me.db, me.tenant_id, limit=PAGE_SIZE, cursor=cursor or None, filters=dict(filters)
        )
        count = await messages.count_messages(me.db, me.tenant_id, filters=filters)
    except AppError as exc:
        errors.merge(form_errors(me, exc, FILTER_FIELDS))
    numbers, _ = await senders.list_numbers(me.db, me.tenant_id, limit=200, cursor=None, status=None)
    query = {k: v for k, v in form.items() if v}
    return me.render(
        "messages.html",
        status_code=422 if errors else 200,
        rows=rows,
        form=form,
        errors=errors,
        numbers=numbers,
        statuses=[s.value for s in MessageStatus],
        types=TYPES,
        tone=STATUS_TONE,
        count=count,
        csv_url=f"messages.csv?{urlencode(query)}" if query else "messages.csv",
        next_url=f"?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"?{urlencode(query)}" if cursor else None,
    )


# The log's problems beside the filter they concern (a stale page link's above the bar).
FILTER_FIELDS = {"to_phone": "to", "since": "since", "until": "until", "search": "q"}


def _filters(me: Web, form: dict[str, str]) -> tuple[FormErrors, dict[str, Any]]:
    """The log's filters from the form (the page and its CSV export read the same ones)."""
    status, type_, sender, to = form["status"], form["type"], form["sender"], form["to"]
    errors = FormErrors()
    filters: dict[str, Any] = {}
    if form["q"].strip():
        filters["search"] = form["q"].strip()[:100]
    if status in {s.value for s in MessageStatus}:
        filters["status"] = status
    if type_ in TYPES:
        filters["message_type"] = type_
    if sender.isdigit():
        filters["sender_number_id"] = int(sender)
    if to.strip():
        filters["to_phone"] = to.strip()
    since, until = form["since"], form["until"]
    since_day, until_day = _day(since), _day(until)
    for name, value, day in (("since", since, since_day), ("until", until, until_day)):
        if value and day is None:
            errors.add(name, me.t("dash.messages.error.dates"))
    if since_day:
        filters["since"] = datetime.combine(since_day, datetime.min.time(), tzinfo=UTC)
    if until_day:  # the whole "until" day is included
        filters["until"] = datetime.combine(until_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return errors, filters


CSV_COLUMNS = [
    "id",
    "queued_at",
    "sender_phone",
    "to_phone",
    "type",
    "status",
    "content",
    "caption",
    "media",
    "failure_code",
    "updated_at",
]


def _csv_line(message: Any, media: Any) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        [
            message.id,
            message.queued_at.isoformat().replace("+00:00", "Z"),
            message.sender_phone,
            message.to_phone,
            message.message_type,
            message.status,
            spreadsheet_cell(message.content),
            spreadsheet_cell(message.caption),
            spreadsheet_cell((media.filename or media.content_type) if media else None),
            message.failure_code or "",
            message.updated_at.isoformat().replace("+00:00", "Z"),
        ]
    )
    return out.getvalue()


@get("/messages.csv", name="dashboard:messages-csv", dependencies=_LOG_FORM)
async def message_log_csv(me: Web, runtime: Runtime, form: dict[str, str]) -> Stream:
    """The filtered log as CSV, streamed page by page (never built in memory)."""
    errors, filters = _filters(me, form)
    if errors:
        raise ValidationFailed({"since": errors.lines()})
    # Checked now (a bad filter is an error page, not a broken download); the rows are read while streaming.
    await messages.count_messages(me.db, me.tenant_id, filters=filters)
    tenant_id = me.tenant_id

    async def lines() -> AsyncIterator[str]:
        yield "\ufeff" + ",".join(CSV_COLUMNS) + "\r\n"  # the BOM: spreadsheets then read UTF-8 (Arabic)
        async for page in messages.iter_messages(
            runtime.db, tenant_id, filters=filters, page_size=EXPORT_PAGE_SIZE
        ):
            yield "".join(_csv_line(message, media) for message, media in page)

    stamp = now().strftime("%Y%m%d-%H%M%S")
    response = Stream(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="messages-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
    me.finish(response)
    return response


def _state(message: Any, history: list[Any]) -> dict[str, Any]:
    """What the status block shows, and whether it keeps asking (until the message is delivered, read
    or failed); ``version`` names what it shows (the status and how many changes the history has)."""
    return {
        "message": message,
        "history": history,
        "tone": STATUS_TONE,
        "moving": message.status in _ON_ITS_WAY,
        "version": f"{message.status}.{len(history)}",
    }


_ON_ITS_WAY = frozenset({MessageStatus.QUEUED.value, MessageStatus.SENT.value})


@get("/messages/{message_id:int}", name="dashboard:message")
async def message_detail(me: Web, message_id: int) -> Response[Any]:
    message, media, history = await messages.get_message(me.db, me.tenant_id, message_id)
    inline = bool(media and media.content_type.startswith(INLINE_TYPES))
    return me.render("message.html", media=media, inline=inline, **_state(message, history))


@get("/messages/{message_id:int}/status", name="dashboard:message-status")
async def message_status(
    me: Web, message_id: int, shown: str = Parameter(query="shown", default="")
) -> Response[Any]:
    """The status block alone, for the page's poll: 204 (nothing to swap) while it is what the page shows."""
    message, _, history = await messages.get_message(me.db, me.tenant_id, message_id)
    state = _state(message, history)
    if shown == state["version"]:
        return me.finish(Response(content=None, status_code=204, headers={"Cache-Control": "no-store"}))
    return me.render("message_status.html", oob=True, **state)


@get("/media/{media_id:int}", name="dashboard:media")
async def media_file(
    me: Web, runtime: Runtime, media_id: int, download: bool = Parameter(query="download", default=False)
) -> Stream:
    """A message's file for the signed-in tenant: images and audio inline (for the preview), the rest
    as an attachment; never rendered as a page of ours (sandbox CSP, nosniff)."""
    media = await get_media(me.db, me.tenant_id, media_id)
    disposition = "inline" if media.content_type.startswith(INLINE_TYPES) and not download else "attachment"
    return Stream(
        runtime.media_storage.get().open(media.storage_key),
        media_type=media.content_type,
        headers={
            "Content-Disposition": content_disposition(disposition, media.filename, f"media-{media.id}"),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Length": str(media.size),
            "Cache-Control": "private, max-age=3600",
        },
    )


HANDLERS = [message_log, message_log_csv, message_detail, message_status, media_file]
