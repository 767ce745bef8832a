"""Runtime shutdown: every part gets at most TGO_SHUTDOWN_TIMEOUT_SECONDS; one that fails or never ends (it
swallows the cancellation, as some libraries' shielded cleanups do) is logged and the others still stop."""

from __future__ import annotations

import asyncio
import time

from tgo.config import Settings
from tgo.wiring import build_runtime


async def test_close_is_bounded_and_runs_every_hook(settings: Settings) -> None:
    runtime = build_runtime(settings.model_copy(update={"shutdown_timeout_seconds": 0.3}))
    released = asyncio.Event()
    ran: list[str] = []

    async def stubborn() -> None:
        while not released.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                ran.append("stubborn ignored a cancel")

    async def failing() -> None:
        ran.append("failing")
        raise RuntimeError("boom")

    async def polite() -> None:
        ran.append("polite")

    runtime.on_shutdown(polite)
    runtime.on_shutdown(failing)
    runtime.on_shutdown(stubborn)
    started = time.monotonic()
    await asyncio.wait_for(runtime.close(), 10)
    assert time.monotonic() - started < 2
    assert ran == ["stubborn ignored a cancel", "failing", "polite"]
    released.set()  # let the abandoned hook end, so the test's event loop closes cleanly


async def test_drain_hooks_run_before_every_shutdown_hook(settings: Settings) -> None:
    """Work that uses the runtime's clients (a consumer finishing its jobs) stops before any client closes,
    also a client built (and its close registered) after the work started."""
    runtime = build_runtime(settings)
    ran: list[str] = []

    async def close_early_client() -> None:
        ran.append("close early client")

    async def finish_jobs() -> None:
        await asyncio.sleep(0.05)
        ran.append("jobs finished")

    async def close_late_client() -> None:
        ran.append("close late client")

    runtime.on_shutdown(close_early_client)
    runtime.on_drain(finish_jobs)
    runtime.on_shutdown(close_late_client)
    await asyncio.wait_for(runtime.close(), 10)
    assert ran == ["jobs finished", "close late client", "close early client"]
