"""Tasks and periodic jobs, registered by name. Tasks are plain async functions ``(runtime, payload)`` so
tests call them directly; ``publish`` sends one through the runtime's broker (after commit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tgo.runtime import Runtime

TaskFn = Callable[["Runtime", dict[str, Any]], Awaitable[None]]
PeriodicFn = Callable[["Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class Periodic:
    name: str
    fn: PeriodicFn
    # A settings attribute name holding the interval in seconds, or a fixed number.
    every: str | float


TASKS: dict[str, TaskFn] = {}
PERIODIC: dict[str, Periodic] = {}


def task(name: str) -> Callable[[TaskFn], TaskFn]:
    """Register ``fn(runtime, payload)`` as the job ``name``."""

    def register(fn: TaskFn) -> TaskFn:
        TASKS[name] = fn
        return fn

    return register


def periodic(name: str, every: str | float) -> Callable[[PeriodicFn], PeriodicFn]:
    """Register ``fn(runtime)`` to run in every worker process every ``every`` seconds."""

    def register(fn: PeriodicFn) -> PeriodicFn:
        PERIODIC[name] = Periodic(name, fn, every)
        return fn

    return register


async def publish(runtime: Runtime, name: str, payload: dict[str, Any]) -> None:
    """Send the job ``name`` to the broker. Call after commit (``db.after_commit``)."""
    from tgo.worker.broker import get_broker

    broker = get_broker(runtime)
    await broker.publish(name, payload)
