"""The messages package's jobs: thin wrappers over messages.delivery and messages.sweeper (which tests call
directly)."""

from __future__ import annotations

from typing import Any

from tgo.messages.delivery import deliver_message
from tgo.messages.sweeper import sweep
from tgo.runtime import Runtime


async def deliver_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await deliver_message(runtime, int(payload["id"]))


async def sweep_job(runtime: Runtime) -> None:
    await sweep(runtime)
