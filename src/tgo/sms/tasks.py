"""SMS jobs: thin wrappers over the plain functions in ``tgo.sms.delivery`` (which tests call directly).

Jobs run as tasks of the runtime: closing the runtime cancels the ones still running (their transaction
rolls back and the sweeper finds the work again), so none outlives the database it was started for.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, TypeVar

from tgo.runtime import Runtime
from tgo.sms.delivery import DELIVER_TASK, VERIFY_TASK, deliver_sms, sweep, verify_sender
from tgo.worker.registry import periodic, task

T = TypeVar("T")


async def _tracked(runtime: Runtime, work: Awaitable[T]) -> T | None:
    state: dict[str, Any] | None = runtime.extras.get("sms_jobs")
    if state is None:
        state = {"running": set(), "closed": False}
        runtime.extras["sms_jobs"] = state

        async def stop() -> None:
            assert state is not None
            state["closed"] = True
            running: set[asyncio.Task[Any]] = state["running"]
            for t in list(running):
                t.cancel()
            for t in list(running):
                with contextlib.suppress(BaseException):
                    await t

        runtime.on_shutdown(stop)
    if state["closed"]:
        if asyncio.iscoroutine(work):
            work.close()
        return None
    current = asyncio.current_task()
    assert current is not None
    state["running"].add(current)
    try:
        return await work
    finally:
        state["running"].discard(current)


@task(DELIVER_TASK)
async def deliver_sms_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await _tracked(runtime, deliver_sms(runtime, uuid.UUID(payload["message_id"])))


@task(VERIFY_TASK)
async def verify_sender_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    due = payload.get("due_at")
    at = datetime.fromisoformat(due) if due else None
    await _tracked(runtime, verify_sender(runtime, uuid.UUID(payload["sender_id"]), at))


@periodic("sms.sweep", every="sweeper_interval_seconds")
async def sweep_sms(runtime: Runtime) -> None:
    await _tracked(runtime, sweep(runtime))
