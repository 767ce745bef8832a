"""Keeps TGO Connect's link table true (issue 18): Connect lets its accounts write only to phones that are
some tenant's active sender number. A status change or a deletion re-tells Connect about that phone after
commit; a periodic check in every worker sends the whole set when it differs from what that worker last sent
(and every 5 minutes regardless), so a call lost while Connect was down is repaired once it is back."""

from __future__ import annotations

import time
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import ConnectError
from tgo.db import after_commit
from tgo.events import EventType
from tgo.runtime import Runtime, runtime_of
from tgo.senders.repository import SenderNumbersByPhone

log = structlog.get_logger("tgo.senders.links")

# Every worker process reads the active phones this often and sends them when they changed, so a change whose
# own call failed (Connect down) or was never made (the process stopped after its commit) reaches Connect
# within seconds of Connect being back; the whole set is sent every FULL_EVERY_SECONDS regardless.
CHECK_SECONDS = 5.0
FULL_EVERY_SECONDS = 300.0


async def sync_phone(runtime: Runtime, phone: str) -> None:
    """Tell Connect whether ``phone`` is (still) some tenant's active sender number."""
    async with runtime.db.session_scope() as session:
        linked = bool(await SenderNumbersByPhone(session).active(phone))
    try:
        await runtime.connect.get().set_link(phone, linked)
    except ConnectError as exc:  # the periodic check repairs it
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


class LinkReconciler:
    """One process's view of what it last told Connect: the set of linked phones it sent and when."""

    def __init__(self) -> None:
        self.sent: frozenset[str] | None = None
        self.sent_at = 0.0

    async def run(self, runtime: Runtime) -> bool:
        """Send the active sender numbers' phones when they differ from what this process last sent
        successfully, or every FULL_EVERY_SECONDS anyway; True if Connect took them."""
        async with runtime.db.session_scope() as session:
            phones = frozenset(await SenderNumbersByPhone(session).active_phones())
        if phones == self.sent and time.monotonic() - self.sent_at < FULL_EVERY_SECONDS:
            return False
        try:
            await runtime.connect.get().replace_links(sorted(phones))
        except ConnectError as exc:  # retried at the next check
            log.warning("connect_links_not_reconciled", error=type(exc).__name__)
            return False
        self.sent, self.sent_at = phones, time.monotonic()
        return True


async def reconcile_links(runtime: Runtime) -> None:
    """Periodic (every CHECK_SECONDS): Connect's links become exactly the active sender numbers' phones."""
    await runtime.link_reconciler.get().run(runtime)
