"""Tasks and periodic jobs. Tasks are plain async functions ``(runtime, payload)`` so tests call them
directly; each package names its own in its ``Part`` (``tasks={name: fn}``, ``periodic=[Periodic(...)]``)
and ``publish`` sends one through the runtime's broker (after commit)."""

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


async def publish(runtime: Runtime, name: str, payload: dict[str, Any]) -> None:
    """Send the job ``name`` to the broker. Call after commit (``db.after_commit``)."""
    await runtime.broker.get().publish(name, payload)
