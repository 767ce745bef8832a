"""The bulk (re)sync of the reachability directory from Connect's ``GET /connect/v1/reachability`` pages:
fills a fresh Business side's directory, and repairs one that is catching up (every synced phone is in
sequence again). Snapshots older than what the directory has are skipped, so a sync racing pushed events
never goes back in time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from tgo.channels.connect_types import ConnectError
from tgo.kit.noticed_cache import ALL
from tgo.notices import publish_change
from tgo.reachability.directory import TOPIC_REACHABILITY, apply_snapshot
from tgo.reachability.repository import is_empty
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.reachability")


@dataclass
class SyncProgress:
    """How far a sync is: accounts read from Connect, snapshots stored (newer than the directory's), pages."""

    read: int = 0
    stored: int = 0
    pages: int = 0


async def sync_directory(
    runtime: Runtime,
    page_size: int = 100,
    on_page: Callable[[SyncProgress], None] | None = None,
) -> int:
    """Read every account's reachability from Connect into the directory, one transaction per page
    (``on_page`` is told after each); returns how many were newer."""
    after, progress = 0, SyncProgress()
    connect = runtime.connect.get()
    while True:
        page = await connect.reachability_page(after, page_size)
        async with runtime.db.session_scope() as session:
            for snap in page.data:
                progress.stored += await apply_snapshot(session, snap, from_sync=True)
            await publish_change(session, TOPIC_REACHABILITY, ALL)
        progress.read += len(page.data)
        progress.pages += 1
        if on_page is not None:
            on_page(progress)
        if page.next_after is None:
            log.info("reachability_synced", read=progress.read, stored=progress.stored)
            return progress.stored
        after = page.next_after


async def sync_if_empty(runtime: Runtime) -> None:
    """Start-up hook: a directory that has never been filled is synced in the background (until then every
    phone is unseen, so sends look it up live)."""
    async with runtime.db.session_scope() as session:
        if not await is_empty(session):
            return

    async def run() -> None:
        try:
            await sync_directory(runtime)
        except ConnectError as exc:
            log.warning("reachability_sync_failed", error=type(exc).__name__)

    task = asyncio.get_running_loop().create_task(run())

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    runtime.on_shutdown(stop)
