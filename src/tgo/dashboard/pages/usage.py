"""Usage per sender number and per day: a chart, tables and a CSV export (from the usage aggregates)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Response, get
from litestar.params import Parameter

from tgo.dashboard.web import NavItem, Web, error_messages
from tgo.errors import AppError
from tgo.kit.clock import now
from tgo.senders import service as senders
from tgo.sms import service as sms
from tgo.sms.state import MessageStatus
from tgo.usage.service import STATUSES, TYPES, rates, usage

NAV_ITEM = NavItem("/usage", "dash.nav.usage", 30)

DEFAULT_DAYS = 30
MAX_DAYS = 366
PALETTE = ["#1f6feb", "#d97706", "#15803d", "#b42318", "#7c3aed", "#0e7490", "#be185d", "#4d7c0f"]


def _range(since: str, until: str) -> tuple[date, date, bool]:
    """The chosen days (inclusive), defaulting to the last 30; ``False`` when the input was unusable."""
    today = now().date()
    ok = True
    try:
        end = date.fromisoformat(until) if until else today
    except ValueError:
        end, ok = today, False
    try:
        start = date.fromisoformat(since) if since else end - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        start, ok = end - timedelta(days=DEFAULT_DAYS - 1), False
    if start > end or (end - start).days >= MAX_DAYS:
        start, end, ok = end - timedelta(days=DEFAULT_DAYS - 1), end, False
    return start, end, ok


async def _usage(
    me: Web, since: str, until: str, sender: str
) -> tuple[dict[str, Any], date, date, list[str]]:
    start, end, ok = _range(since, until)
    errors = [] if ok else [me.t("dash.usage.error.range", days=MAX_DAYS)]
    try:
        report = await usage(
            me.db,
            me.tenant_id,
            since=start,
            until=end,
            sender_number_id=int(sender) if sender.isdigit() else None,
            per_day=True,
        )
    except AppError as exc:
        errors.extend(error_messages(me, exc))
        report = {"data": [], "totals": {"total": 0, "by_type": {}, "by_status": {}}}
    return report, start, end, errors


def _chart(me: Web, report: dict[str, Any], start: date, end: date) -> dict[str, Any]:
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    datasets = []
    for i, entry in enumerate(report["data"]):
        per_day = {d["day"]: d["total"] for d in entry.get("days", [])}
        color = PALETTE[i % len(PALETTE)]
        datasets.append(
            {
                "label": entry["sender_phone"] or f"#{entry['sender_number_id']}",
                "data": [per_day.get(day, 0) for day in days],
                "backgroundColor": color,
                "borderColor": color,
            }
        )
    return {
        "type": "bar",
        "data": {"labels": days, "datasets": datasets},
        "options": {
            "scales": {
                "x": {"stacked": True, "title": {"display": True, "text": me.t("dash.usage.day")}},
                "y": {
                    "stacked": True,
                    "beginAtZero": True,
                    "ticks": {"precision": 0},
                    "title": {"display": True, "text": me.t("dash.usage.messages")},
                },
            }
        },
    }


@get("/usage", name="dashboard:usage")
async def usage_page(
    me: Web,
    since: str = Parameter(query="since", default=""),
    until: str = Parameter(query="until", default=""),
    sender: str = Parameter(query="sender", default=""),
) -> Response[Any]:
    report, start, end, errors = await _usage(me, since, until, sender)
    numbers, _ = await senders.list_numbers(me.db, me.tenant_id, limit=200, cursor=None, status=None)
    query = {"since": start.isoformat(), "until": end.isoformat(), **({"sender": sender} if sender else {})}
    daily = sorted(
        ((d["day"], entry, d) for entry in report["data"] for d in entry.get("days", [])),
        key=lambda item: (item[0], item[1]["sender_number_id"]),
        reverse=True,
    )
    shown = [n for n in numbers if not sender or str(n.id) == sender]
    active_ids = {entry["sender_number_id"] for entry in report["data"]}
    return me.render(
        "usage.html",
        status_code=422 if errors else 200,
        kpis=[(entry, rates(entry["by_status"])) for entry in report["data"]],
        idle=[n for n in shown if n.id not in active_ids],
        sms_usage=await sms.usage(me.db, me.tenant_id, since=start, until=end),
        sms_statuses=[s.value for s in MessageStatus],
        report=report,
        daily=daily,
        errors=errors,
        form={"since": start.isoformat(), "until": end.isoformat(), "sender": sender},
        numbers=numbers,
        types=TYPES,
        statuses=STATUSES,
        chart_json=json.dumps(_chart(me, report, start, end), ensure_ascii=False).replace("</", "<\\/"),
        csv_url=f"usage.csv?{urlencode(query)}",
    )


CSV_COLUMNS = ["day", "sender_number_id", "sender_phone", "total", *TYPES, *STATUSES]


@get("/usage.csv", name="dashboard:usage-csv")
async def usage_csv(
    me: Web,
    since: str = Parameter(query="since", default=""),
    until: str = Parameter(query="until", default=""),
    sender: str = Parameter(query="sender", default=""),
) -> Response[Any]:
    """One row per sender number and day (the chart's numbers), counts by type and by current status."""
    report, start, end, _ = await _usage(me, since, until, sender)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows: list[list[Any]] = []
    for entry in report["data"]:
        for d in entry.get("days", []):
            rows.append(
                [
                    d["day"],
                    entry["sender_number_id"],
                    entry["sender_phone"] or "",
                    d["total"],
                    *(d["by_type"].get(t, 0) for t in TYPES),
                    *(d["by_status"].get(s, 0) for s in STATUSES),
                ]
            )
    rows.sort(key=lambda row: (str(row[0]), int(row[1])))
    writer.writerows(rows)
    response: Response[Any] = Response(
        content=out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="usage-{start.isoformat()}-{end.isoformat()}.csv"',
            "Cache-Control": "no-store",
        },
    )
    return me.finish(response)


HANDLERS = [usage_page, usage_csv]
