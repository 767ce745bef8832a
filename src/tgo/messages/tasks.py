"""The messages package's jobs: thin wrappers over messages.delivery and messages.sweeper (which tests call
directly)."""

from __future__ import annotations

from typing import Any

from tgo.messages.batch_delivery import deliver_batch
from tgo.messages.delivery import deliver_message
from tgo.messages.sweeper import sweep
from tgo.runtime import Runtime


async def deliver_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await deliver_message(runtime, int(payload["id"]))


async def deliver_batch_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    ids = [int(i) for i in payload["ids"]]
    request_ids = payload.get("request_ids") or []
    await deliver_batch(runtime, ids, {i: str(r) for i, r in zip(ids, request_ids, strict=False) if r})


async def sweep_job(runtime: Runtime) -> None:
    await sweep(runtime)
