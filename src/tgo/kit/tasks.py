"""Bounded waits for work that may never end (a wedged broker channel, a library that shields its own
cleanup from cancellation): the caller moves on after a deadline instead of hanging with it; and the
tracker of jobs that a runtime owns and cancels when it closes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

import structlog

log = structlog.get_logger("tgo.tasks")
T = TypeVar("T")


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], seconds: float, *, what: str) -> None:
    """Cancel ``tasks`` and wait at most ``seconds`` seconds for them to end. A task that outlives the
    deadline (it swallowed the cancellation, or is stuck in shielded cleanup) is logged and left behind:
    shutting down must not depend on it."""
    tasks = list(tasks)
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    stuck: set[asyncio.Task[Any]] = set()
    if pending:
        _, stuck = await asyncio.wait(pending, timeout=seconds)
    for task in tasks:
        if task in stuck:
            continue
        if not task.cancelled() and task.exception() is not None:  # retrieved, and said
            log.error(
                "task_failed_while_stopping", what=what, task=task.get_name(), error=repr(task.exception())
            )
    for task in stuck:
        log.error("task_did_not_stop", what=what, task=task.get_name(), timeout=seconds)


async def bounded(awaitable: Awaitable[Any], seconds: float, *, what: str) -> bool:
    """Run ``awaitable`` for at most ``seconds`` seconds; ``False`` if it failed or did not finish (logged).
    Unlike ``asyncio.wait_for``, the deadline holds even when the work does not end on cancellation."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait([task], timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        log.error("step_timed_out", what=what, timeout=seconds)
        return False
    if task.cancelled():
        log.error("step_cancelled", what=what)
        return False
    exc = task.exception()
    if exc is not None:
        log.error("step_failed", what=what, error=type(exc).__name__, detail=str(exc)[:200])
        return False
    return True


class ShutdownHooks(Protocol):
    """What owns a ``JobTracker`` (the runtime): it runs the hooks given to it when it closes."""

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> None: ...


class JobTracker:
    """The jobs running in one runtime as tasks it owns (the SMS jobs): closing the runtime cancels them (the
    first job registers that with the runtime)."""

    def __init__(self) -> None:
        self.running: set[asyncio.Task[Any]] = set()
        self.closed = False
        self._hooked = False

    async def track(self, runtime: ShutdownHooks, work: Awaitable[T]) -> T | None:
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
