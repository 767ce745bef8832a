"""SMS jobs: thin wrappers over the plain functions in ``tgo.sms.jobs`` (which tests call directly).

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
from tgo.sms.jobs import deliver_sms, sweep, verify_sender

T = TypeVar("T")


class SmsJobs:
    """The SMS jobs running in one runtime; closing the runtime cancels them (the first job registers that)."""

    def __init__(self) -> None:
        self.running: set[asyncio.Task[Any]] = set()
        self.closed = False
        self._hooked = False

    async def track(self, runtime: Runtime, work: Awaitable[T]) -> T | None:
        """Run ``work`` as a job of ``runtime`` (or not at all once the runtime is closing)."""
        if not self._hooked:
            self._hooked = True
            runtime.on_shutdown(self.stop)
        if self.closed:
            if asyncio.iscoroutine(work):
                work.close()
            return None
        current = asyncio.current_task()
        assert current is not None
        self.running.add(current)
        try:
            return await work
        finally:
            self.running.discard(current)

    async def stop(self) -> None:
        self.closed = True
        for t in list(self.running):
            t.cancel()
        for t in list(self.running):
            with contextlib.suppress(BaseException):
                await t


async def _tracked(runtime: Runtime, work: Awaitable[T]) -> T | None:
    return await runtime.sms_jobs.track(runtime, work)


async def deliver_sms_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await _tracked(runtime, deliver_sms(runtime, uuid.UUID(payload["message_id"])))


async def verify_sender_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    due = payload.get("due_at")
    at = datetime.fromisoformat(due) if due else None
    await _tracked(runtime, verify_sender(runtime, uuid.UUID(payload["sender_id"]), at))


async def sweep_sms(runtime: Runtime) -> None:
    await _tracked(runtime, sweep(runtime))
