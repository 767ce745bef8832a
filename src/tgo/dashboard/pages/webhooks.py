"""Webhooks: endpoints (create with the secret shown once, pause/resume, rotate the secret, delete) and
each endpoint's delivery log with every attempt and a replay button."""

from __future__ import annotations

import json
from typing import Any

from litestar import Response, get, post
from litestar.params import Parameter

from tgo.dashboard.web import FormErrors, NavItem, Web, error_messages, form_errors, url
from tgo.errors import AppError
from tgo.runtime import Runtime
from tgo.webhooks import service as webhooks
from tgo.webhooks.history import delivery_runs
from tgo.webhooks.repository import DeliveryStatus

NAV_ITEM = NavItem("/webhooks", "dash.nav.webhooks", 60)

DELIVERY_TONE = {"pending": "wait", "succeeded": "good", "failed": "bad"}


async def _list_page(
    me: Web, *, errors: FormErrors | None = None, form: dict[str, Any] | None = None, status_code: int = 200
) -> Response[Any]:
    rows, _ = await webhooks.list_webhooks(me.db, me.tenant_id, limit=200)
    return me.render(
        "webhooks.html",
        status_code=status_code,
        endpoints=rows,
        event_types=webhooks.EVENT_TYPES,
        errors=errors or FormErrors(),
        form=form or {"url": "", "description": "", "events": []},
    )


@get("/webhooks", name="dashboard:webhooks")
async def list_endpoints(me: Web) -> Response[Any]:
    return await _list_page(me)


@post("/webhooks", name="dashboard:webhooks-create")
async def create_endpoint(me: Web, runtime: Runtime) -> Response[Any]:
    form = await me.request.form()
    target = str(form.get("url") or "").strip()
    description = str(form.get("description") or "").strip()
    chosen = [e for e in form.getall("events") if isinstance(e, str)] if "events" in form else []
    values = {"url": target, "description": description, "events": chosen}
    if not chosen:
        return await _list_page(
            me,
            errors=FormErrors().add("events", me.t("dash.webhooks.error.events")),
            form=values,
            status_code=422,
        )
    try:
        endpoint, secret = await webhooks.create_webhook(
            me.db,
            me.tenant_id,
            url=target,
            events=chosen,
            settings=runtime.settings,
            description=description or None,
        )
    except AppError as exc:
        await me.discard_failed(exc)
        fields = {"url": "url", "events": "events", "description": "description"}
        return await _list_page(
            me, errors=form_errors(me, exc, fields), form=values, status_code=exc.status_code
        )
    return me.render("webhook_secret.html", status_code=201, endpoint=endpoint, secret=secret, created=True)


async def _detail(me: Web, webhook_id: int, status: str, cursor: str) -> Response[Any]:
    endpoint = await webhooks.get_webhook(me.db, me.tenant_id, webhook_id)
    errors: list[str] = []
    records: list[webhooks.DeliveryRecord] = []
    next_cursor = None
    try:
        records, next_cursor = await webhooks.list_deliveries(
            me.db, me.tenant_id, webhook_id, status=status or None, cursor=cursor or None, limit=25
        )
    except AppError as exc:
        errors = error_messages(me, exc)
    return me.render(
        "webhook.html",
        status_code=422 if errors else 200,
        endpoint=endpoint,
        records=[(r, delivery_runs(r)) for r in records],
        errors=errors,
        status=status,
        statuses=[s.value for s in DeliveryStatus],
        tone=DELIVERY_TONE,
        next_cursor=next_cursor,
    )


@get("/webhooks/{webhook_id:int}", name="dashboard:webhook")
async def endpoint_detail(
    me: Web,
    webhook_id: int,
    status: str = Parameter(query="status", default=""),
    cursor: str = Parameter(query="cursor", default=""),
) -> Response[Any]:
    return await _detail(me, webhook_id, status, cursor)


@post("/webhooks/{webhook_id:int}/active", name="dashboard:webhook-active")
async def set_active(me: Web, runtime: Runtime, webhook_id: int) -> Response[Any]:
    form = await me.request.form()
    active = form.get("active") == "true"
    await webhooks.update_webhook(me.db, me.tenant_id, webhook_id, settings=runtime.settings, active=active)
    me.flash("success", "dash.webhooks.resumed" if active else "dash.webhooks.paused")
    return me.redirect(url(f"/webhooks/{webhook_id}"))


@post("/webhooks/{webhook_id:int}/rotate", name="dashboard:webhook-rotate")
async def rotate_secret(me: Web, runtime: Runtime, webhook_id: int) -> Response[Any]:
    endpoint, secret = await webhooks.rotate_webhook_secret(
        me.db, me.tenant_id, webhook_id, settings=runtime.settings
    )
    return me.render("webhook_secret.html", endpoint=endpoint, secret=secret, created=False)


@get("/webhooks/{webhook_id:int}/delete", name="dashboard:webhook-delete-confirm")
async def delete_confirm(me: Web, webhook_id: int) -> Response[Any]:
    endpoint = await webhooks.get_webhook(me.db, me.tenant_id, webhook_id)
    return me.render("webhook_delete.html", endpoint=endpoint)


@post("/webhooks/{webhook_id:int}/delete", name="dashboard:webhook-delete")
async def delete_endpoint(me: Web, webhook_id: int) -> Response[Any]:
    await webhooks.delete_webhook(me.db, me.tenant_id, webhook_id)
    me.flash("success", "dash.webhooks.deleted")
    return me.redirect(url("/webhooks"))


@post("/webhooks/{webhook_id:int}/deliveries/{delivery_id:int}/replay", name="dashboard:webhook-replay")
async def replay(me: Web, webhook_id: int, delivery_id: int) -> Response[Any]:
    try:
        await webhooks.replay_delivery(me.db, me.tenant_id, webhook_id, delivery_id)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        me.session.flash("error", error_messages(me, exc)[0])
    else:
        me.flash("success", "dash.webhooks.replayed", id=delivery_id)
    return me.redirect(url(f"/webhooks/{webhook_id}"))


@post("/webhooks/{webhook_id:int}/test", name="dashboard:webhook-test")
async def send_test_event(me: Web, webhook_id: int) -> Response[Any]:
    """A signed ``webhook.test`` delivery to this endpoint, and the body it carries."""
    try:
        record = await webhooks.send_test_event(me.db, me.tenant_id, webhook_id)
    except AppError as exc:
        if exc.status_code == 404:
            raise
        await me.discard_failed(exc)
        me.session.flash("error", error_messages(me, exc)[0])
        return me.redirect(url(f"/webhooks/{webhook_id}"))
    payload = json.dumps(json.loads(record.event.body), indent=2, ensure_ascii=False)
    return me.render(
        "webhook_test.html", status_code=202, endpoint_id=webhook_id, record=record, payload=payload
    )


HANDLERS = [
    send_test_event,
    list_endpoints,
    create_endpoint,
    endpoint_detail,
    set_active,
    rotate_secret,
    delete_confirm,
    delete_endpoint,
    replay,
]
