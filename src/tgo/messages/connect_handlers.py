"""Connect's receipts for messages: a delivered/read event moves the message (in the event's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tgo.kit.clock import ensure_utc, now
from tgo.messages.delivery import apply_receipt
from tgo.messages.state import MessageStatus
from tgo.runtime import Runtime


def _at(data: dict[str, Any]) -> Any:
    raw = data.get("at")
    if isinstance(raw, str):
        try:
            return ensure_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
        except ValueError:
            pass
    return now()


async def on_delivered(session: Any, runtime: Runtime, data: dict[str, Any]) -> None:
    await apply_receipt(session, str(data.get("business_message_id", "")), MessageStatus.DELIVERED, _at(data))


async def on_read(session: Any, runtime: Runtime, data: dict[str, Any]) -> None:
    await apply_receipt(session, str(data.get("business_message_id", "")), MessageStatus.READ, _at(data))
