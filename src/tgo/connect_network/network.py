"""One Connect network instance: its database, its event pump and where events go.

The embedded default (``TGO_CONNECT_URL`` unset) builds one per Business runtime; ``tgo connect serve``
builds one for the standalone process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import PhoneMessage
from tgo.config import Settings
from tgo.db import Database, after_commit
from tgo.errors import AppError
from tgo.group_commit import GroupCommit
from tgo.models.base import Base

from . import phone_messages
from .events import EventPump
from .models import CONNECT_TABLES
from .phone_messages import Reply


def connect_database_url(settings: Settings) -> str:
    """TGO_CONNECT_DATABASE_URL, else the main database — except for the embedded SQLite file, where
    Connect keeps a sibling file: SQLite has one writer per file, and a Business transaction that calls
    Connect in process (OTP, delivery) would otherwise wait on Connect's own write to the same file."""
    if settings.connect_database_url:
        return settings.connect_database_url
    url = settings.resolved_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        return parsed.set(
            database=str(path.with_name(f"{path.stem}-connect{path.suffix or '.db'}"))
        ).render_as_string(hide_password=False)
    return url


class ConnectNetwork:
    def __init__(self, settings: Settings, db: Database, events_target: httpx.AsyncClient | None) -> None:
        self.settings = settings
        self.db = db
        self.pump = EventPump(settings, db, events_target)
        self.pump.ready = self.ready
        self._ready = False
        self._ready_lock = asyncio.Lock()
        # Scripted faults (tests, demos of retries): the next N message acceptances answer this status
        # after counting the attempt, as a real network that is briefly down would. Per process.
        self.fail_next_messages = 0
        self.fail_status = 503
        # What accounts write (issue 18): the replies that arrive together share one transaction.
        self.replies: GroupCommit[Reply, PhoneMessage | AppError] = GroupCommit(
            db.sessionmaker,
            self._write_replies,
            window=settings.send_batch_window_ms / 1000.0,
            max_batch=settings.send_batch_max,
        )

    async def write(self, reply: Reply) -> PhoneMessage:
        """Store what an account writes (with the replies waiting now) and its ``message.received`` event;
        raises the refusal (the account, the body, a phone that is no business's number)."""
        await self.ready()
        result = await self.replies.submit(reply)
        if isinstance(result, AppError):
            raise result
        return result

    async def _write_replies(
        self, session: AsyncSession, replies: Sequence[Reply]
    ) -> list[PhoneMessage | AppError]:
        results = await phone_messages.write_batch(session, replies)
        if any(isinstance(r, PhoneMessage) for r in results):
            after_commit(session, self._kick_pump)
        return results

    async def _kick_pump(self) -> None:
        self.pump.kick()

    async def ready(self) -> None:
        """Make sure Connect's tables exist. In the main database they come from ``tgo migrate``; a
        database of Connect's own (the embedded SQLite sibling file, or TGO_CONNECT_DATABASE_URL) gets
        them here, created from the models when missing."""
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            for attempt in (1, 2):
                try:
                    async with self.db.engine.begin() as conn:
                        await conn.run_sync(Base.metadata.create_all, tables=CONNECT_TABLES, checkfirst=True)
                    break
                except DBAPIError:
                    if attempt == 2:
                        raise
                    # Another process created them between our check and our CREATE.
                    await asyncio.sleep(0.2)
            self._ready = True

    async def close(self) -> None:
        await self.pump.close()


def http_events_target(settings: Settings) -> httpx.AsyncClient | None:
    """Where a Connect network posts its events over HTTP (TGO_BUSINESS_URL), if configured."""
    if not settings.business_url:
        return None
    return httpx.AsyncClient(
        base_url=settings.business_url.rstrip("/"), timeout=settings.connect_timeout_seconds
    )
