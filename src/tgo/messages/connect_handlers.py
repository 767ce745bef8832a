"""Connect's receipts for messages: a run of delivered/read events moves its messages together (in the
events' transaction), through ``state.transition_many``.

A receipt names the message by the ``business_message_id`` the Business side gave it (``msg-<id>``). One
that names no message of ours — another id form, a message that does not exist, an inbound message, or one
Connect already knows by another ``connect_message_id`` — is ignored and logged: it is never applied to
whichever message, of whichever tenant, happens to have that id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.clock import ensure_utc, now
from tgo.messages.state import MessageStatus, transition_many
from tgo.models import Message
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.messages.receipts")


def _at(data: dict[str, Any]) -> datetime:
    raw = data.get("at")
    if isinstance(raw, str):
        try:
            return ensure_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
        except ValueError:
            pass
    return now()


def _message_id(data: dict[str, Any]) -> int | None:
    bid = str(data.get("business_message_id", ""))
    if not bid.startswith("msg-") or not bid[4:].isdigit() or len(bid) > 24:
        return None
    return int(bid[4:])


async def apply_receipts(
    session: AsyncSession, items: Sequence[dict[str, Any]], status: MessageStatus
) -> list[Message]:
    """Apply a run of receipts of one kind; returns the messages moved (a repeated receipt moves none)."""
    wanted: dict[int, tuple[datetime, Any]] = {}
    ignored: list[str] = []
    for data in items:
        message_id = _message_id(data)
        if message_id is None:
            ignored.append(str(data.get("business_message_id", ""))[:64])
            continue
        wanted[message_id] = (_at(data), data.get("connect_message_id"))
    if wanted:
        known = {
            row[0]: row
            for row in await session.execute(
                select(Message.id, Message.direction, Message.connect_message_id).where(
                    Message.id.in_(list(wanted))
                )
            )
        }
        for message_id, (_when, connect_id) in list(wanted.items()):
            row = known.get(message_id)
            foreign = row is not None and (
                row[1] == "inbound"
                or (row[2] is not None and connect_id is not None and str(row[2]) != str(connect_id))
            )
            if row is None or foreign:
                ignored.append(f"msg-{message_id}")
                del wanted[message_id]
    if ignored:
        log.warning("connect_receipt_ignored", status=status.value, business_message_ids=ignored[:20])
    if not wanted:
        return []
    times = {i: when for i, (when, _c) in wanted.items()}
    return await transition_many(session, list(wanted), status, now(), times=times)


async def on_delivered(session: AsyncSession, runtime: Runtime, items: Sequence[dict[str, Any]]) -> None:
    await apply_receipts(session, items, MessageStatus.DELIVERED)


async def on_read(session: AsyncSession, runtime: Runtime, items: Sequence[dict[str, Any]]) -> None:
    await apply_receipts(session, items, MessageStatus.READ)
