"""Connect's event pump: posts the outbox (``connect_events``) to the Business side, signed, in order,
retrying with back-off until acknowledged — so an event survives the Business side being down."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

import httpx
import structlog

from tgo.channels.connect_protocol import (
    EVENTS_PATH,
    HEADER_EVENT_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    sign_event,
)
from tgo.channels.connect_types import EVENT_ACCOUNT_REACHABILITY_CHANGED
from tgo.config import Settings
from tgo.db import Database
from tgo.kit.clock import now

from .models import ConnectEventRow
from .repository import ConnectRepository

log = structlog.get_logger("tgo.connect.events")
BATCH = 100
PARALLEL = 16


def event_body(row: ConnectEventRow) -> bytes:
    created = row.created_at.isoformat().replace("+00:00", "Z")
    payload = {"id": row.event_id, "type": row.type, "created_at": created, "data": row.data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def event_subject(row: ConnectEventRow) -> str:
    """What an event is about; events about one subject are delivered in the order they happened."""
    data = row.data or {}
    if row.type == EVENT_ACCOUNT_REACHABILITY_CHANGED:
        # Versioned snapshots, ordered by their version on the Business side: they need not wait behind the
        # phone's other events (settle posts them as soon as they commit).
        return f"reachability:{data.get('phone')}"
    if data.get("from_phone") and data.get("to_phone"):
        # What an account writes to a business: in order per conversation (issue 18).
        return f"conversation:{data['from_phone']}:{data['to_phone']}"
    if data.get("business_message_id"):
        return f"message:{data['business_message_id']}"
    if data.get("phone"):
        return f"phone:{data['phone']}"
    return f"event:{row.event_id}"


def backoff_seconds(settings: Settings, attempts: int) -> float:
    return float(min(settings.connect_event_retry_max_seconds, 0.5 * 2 ** max(0, attempts - 1)))


class EventPump:
    """Delivers undelivered events oldest first, in order per subject, retrying with back-off."""

    def __init__(self, settings: Settings, db: Database, target: httpx.AsyncClient | None) -> None:
        self.settings = settings
        self.db = db
        # None: there is nowhere to post (standalone Connect without TGO_BUSINESS_URL); events wait.
        self.target = target
        self._lock = asyncio.Lock()
        self._kick_waiting = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.enabled_kicks = False
        self.ready: Any = None  # async () -> None, set by the network (schema check)

    def kick(self) -> None:
        """Run soon in the background (after a commit that wrote events), if kicks are enabled.

        At most one kicked run waits for the pump at a time; it starts after any running pass, so an
        event committed during a pass is never left for the periodic run."""
        if not self.enabled_kicks or self._kick_waiting or self.target is None:
            return
        self._kick_waiting = True
        task = asyncio.get_running_loop().create_task(self._kicked())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _kicked(self) -> None:
        started = False
        try:
            async with self._lock:
                self._kick_waiting, started = False, True
                await self._pass()
        except Exception:
            log.exception("connect_event_pump_failed")
        finally:
            if not started:
                self._kick_waiting = False

    async def settle(self, rows: list[ConnectEventRow], within: float) -> None:
        """Post these (just committed) events now and wait for that, at most ``within`` seconds: after a change
        of reachability the Business side should know before the change is answered. Each is claimed as the
        pump claims it, so it is posted once; a post still running after ``within`` goes on in the background
        (not cancelled, so its claim is not left to expire). Only where the pump runs (kicks enabled)."""
        if not self.enabled_kicks or self.target is None:
            return

        async def post_all() -> None:
            try:
                for row in rows:
                    if await self._deliver_one(row) == "receiver_down":
                        return
            except Exception:
                log.exception("connect_event_pump_failed")

        task = asyncio.get_running_loop().create_task(post_all())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        _done, pending = await asyncio.wait({task}, timeout=within)
        if pending:
            log.warning("connect_event_settle_timed_out", events=len(rows))

    async def run_once(self) -> int:
        """One pass over the due events; returns how many were delivered."""
        if self.target is None:
            return 0
        async with self._lock:
            delivered, _receiver_down = await self._pass()
            return delivered

    async def _pass(self) -> tuple[int, bool]:
        """Deliver the due events, oldest first. Events about one subject (a phone, a message) stay in
        order: while one of them waits or fails, the later ones of that subject wait too. Returns the
        number delivered and whether the receiver is down (the pass stops at once then)."""
        if self.ready is not None:
            await self.ready()
        delivered = 0
        held: set[str] = set()
        receiver_down = False
        after = 0
        # Subjects are independent: up to PARALLEL of them are posted at once (one at a time, the pump
        # managed a few dozen events a second and receipts lagged minutes behind a busy network).
        slots = asyncio.Semaphore(PARALLEL)

        async def run_subject(key: str, rows: list[ConnectEventRow]) -> None:
            nonlocal delivered, receiver_down
            async with slots:
                for row in rows:
                    if key in held or receiver_down:
                        return
                    outcome = await self._deliver_one(row)
                    if outcome == "delivered":
                        delivered += 1
                    elif outcome == "receiver_down":
                        receiver_down = True
                        return
                    else:
                        held.add(key)
                        return

        while True:
            async with self.db.session_scope() as session:
                batch = list(await ConnectRepository(session).undelivered_after(after, BATCH))
            if not batch:
                return delivered, False
            after = batch[-1].id
            by_subject: dict[str, list[ConnectEventRow]] = {}
            for row in batch:
                by_subject.setdefault(event_subject(row), []).append(row)
            await asyncio.gather(*(run_subject(key, rows) for key, rows in by_subject.items()))
            if receiver_down:
                return delivered, True

    async def _deliver_one(self, row: ConnectEventRow) -> str:
        """Claim, post and record one event: "delivered", "held" (backing off, taken by another process,
        refused) or "receiver_down"."""
        at = now()
        if row.next_attempt_at > at:
            return "held"  # backing off, or being delivered by another process
        lease = at + timedelta(seconds=self.settings.connect_timeout_seconds + 5)
        async with self.db.session_scope() as session:
            claimed = await ConnectRepository(session).claim_event(row.id, at, lease)
        if not claimed:
            return "held"
        ok, error, receiver_down = await self._post(row)
        async with self.db.session_scope() as session:
            fresh = await ConnectRepository(session).event(row.id)
            if fresh is not None:
                fresh.attempts += 1
                if ok:
                    fresh.delivered_at = now()
                    fresh.last_error = None
                else:
                    fresh.last_error = error[:500]
                    fresh.next_attempt_at = now() + timedelta(
                        seconds=backoff_seconds(self.settings, fresh.attempts)
                    )
        if ok:
            return "delivered"
        log.warning("connect_event_not_delivered", event_id=row.event_id, type=row.type, error=error)
        return "receiver_down" if receiver_down else "held"

    async def _post(self, row: ConnectEventRow) -> tuple[bool, str, bool]:
        """(delivered, error, the receiver itself is unreachable or unavailable)."""
        assert self.target is not None
        body = event_body(row)
        ts = int(now().timestamp())
        headers = {
            "content-type": "application/json",
            HEADER_EVENT_ID: row.event_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: sign_event(self.settings.secret(), ts, body),
        }
        try:
            resp = await self.target.post(EVENTS_PATH, content=body, headers=headers)
        except (httpx.HTTPError, OSError) as exc:
            return False, f"{type(exc).__name__}: {exc}", True
        if 200 <= resp.status_code < 300:
            return True, "", False
        return False, f"HTTP {resp.status_code}: {resp.text[:200]}", resp.status_code in (502, 503, 504)

    async def prune(self, keep: timedelta = timedelta(days=7)) -> int:
        """Forget events delivered more than ``keep`` ago."""
        async with self.db.session_scope() as session:
            return await ConnectRepository(session).prune_delivered(now() - keep)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.target is not None:
            await self.target.aclose()
