"""SMS jobs: thin wrappers over the plain functions in ``tgo.sms.jobs`` (which tests call directly).

Jobs run as tasks of the runtime: closing the runtime cancels the ones still running (their transaction
rolls back and the sweeper finds the work again), so none outlives the database it was started for.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

from tgo.runtime import Runtime
from tgo.sms.delivery import deliver_batch
from tgo.sms.jobs import deliver_sms, sweep, verify_sender

T = TypeVar("T")


async def _tracked(runtime: Runtime, work: Awaitable[T]) -> T | None:
    return await runtime.sms_jobs.track(runtime, work)


async def deliver_sms_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await _tracked(runtime, deliver_sms(runtime, uuid.UUID(payload["message_id"])))


async def deliver_batch_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    ids = [uuid.UUID(i) for i in payload["ids"]]
    await _tracked(runtime, deliver_batch(runtime, ids))


async def verify_sender_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    due = payload.get("due_at")
    at = datetime.fromisoformat(due) if due else None
    await _tracked(runtime, verify_sender(runtime, uuid.UUID(payload["sender_id"]), at))


async def sweep_sms(runtime: Runtime) -> None:
    await _tracked(runtime, sweep(runtime))
