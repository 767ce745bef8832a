"""The Connect event that keeps the reachability directory current."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import InvalidPhone, normalize_phone
from tgo.channels.connect_types import Reachability
from tgo.reachability.directory import apply_snapshot
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.reachability")


async def on_reachability_changed(session: AsyncSession, runtime: Runtime, data: dict[str, Any]) -> None:
    """``account.reachability_changed``: keep the snapshot if it is newer than the directory's. A malformed
    one (signed by Connect, so a bug there) is logged and dropped rather than retried for ever."""
    try:
        snap = msgspec.convert(data, Reachability)
        snap.phone = normalize_phone(snap.phone)
        snap.blocked_senders = [normalize_phone(p) for p in snap.blocked_senders]
    except (msgspec.ValidationError, InvalidPhone) as exc:
        log.warning("reachability_event_malformed", error=str(exc)[:200])
        return
    applied = await apply_snapshot(session, snap)
    if not applied:
        log.debug("reachability_event_stale", phone=snap.phone, version=snap.version)
