"""Thin jobs over the delivery functions in messages.delivery (which tests call directly)."""

from __future__ import annotations

from typing import Any

from tgo.kit.clock import ensure_utc, now
from tgo.messages.delivery import apply_receipt, deliver_message
from tgo.messages.state import MessageStatus
from tgo.messages.sweeper import sweep
from tgo.runtime import Runtime


async def deliver_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await deliver_message(runtime, int(payload["id"]))


async def sweep_job(runtime: Runtime) -> None:
    await sweep(runtime)


def _at(data: dict[str, Any]) -> Any:
    from datetime import datetime

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
