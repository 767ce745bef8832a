"""Keeps TGO Connect's link table true (issue 18): Connect lets its accounts write only to phones that are
some tenant's active sender number. A status change or a deletion re-tells Connect about that phone after
commit; a periodic reconciliation sends the whole set, so a call lost while Connect was down is repaired."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import ConnectError
from tgo.db import after_commit
from tgo.events import EventType
from tgo.runtime import Runtime, runtime_of
from tgo.senders.repository import SenderNumbersByPhone

log = structlog.get_logger("tgo.senders.links")


async def sync_phone(runtime: Runtime, phone: str) -> None:
    """Tell Connect whether ``phone`` is (still) some tenant's active sender number."""
    async with runtime.db.session_scope() as session:
        linked = bool(await SenderNumbersByPhone(session).active(phone))
    try:
        await runtime.connect.get().set_link(phone, linked)
    except ConnectError as exc:  # the reconciliation repairs it
        log.warning("connect_link_not_updated", phone=phone, linked=linked, error=type(exc).__name__)


def sync_after_commit(session: AsyncSession, phone: str) -> None:
    """Once this transaction commits, re-tell Connect about ``phone``."""
    runtime = runtime_of(session)
    if runtime is None:
        return

    async def hook() -> None:
        await sync_phone(runtime, phone)

    after_commit(session, hook)


async def on_sender_status_changed(
    session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]
) -> None:
    """Listener: a sender number's status changed (active or no longer)."""
    if event_type == EventType.SENDER_NUMBER_STATUS_CHANGED and isinstance(data.get("phone"), str):
        sync_after_commit(session, data["phone"])


async def reconcile_links(runtime: Runtime) -> None:
    """Periodic: Connect's links become exactly the active sender numbers' phones."""
    async with runtime.db.session_scope() as session:
        phones = await SenderNumbersByPhone(session).active_phones()
    try:
        await runtime.connect.get().replace_links(phones)
    except ConnectError as exc:
        log.warning("connect_links_not_reconciled", error=type(exc).__name__)
