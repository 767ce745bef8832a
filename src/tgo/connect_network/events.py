"""Connect's event pump: posts the outbox (``connect_events``) to the Business side, signed, in order per
subject, retrying with back-off until acknowledged — so an event survives the Business side being down.

Events go in arrays (one signed post of up to ``ARRAY_MAX`` events, ``ARRAY_MAX_BYTES``): all the due events
of one subject that a round reads are in one array, in order, and a subject's next array is posted only
after the earlier one was answered. The receiver answers per item (``applied``/``duplicate`` for a prefix,
then at most one ``failed``, then ``skipped``): the acknowledged ones are done, the failed one backs off and
holds its subject, and the skipped ones of other subjects are posted again at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import structlog

from tgo.channels.connect_protocol import (
    EVENTS_PATH,
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
# Events read per round of a pass, events and bytes per signed post (the receiver takes 1 MiB and 500
# events), arrays posted at once.
SCAN = 800
ARRAY_MAX = 200
ARRAY_MAX_BYTES = 512 * 1024
PARALLEL = 4


def event_body(row: ConnectEventRow) -> bytes:
    """One event as the receiver's single-object form takes it."""
    created = row.created_at.isoformat().replace("+00:00", "Z")
    payload = {"id": row.event_id, "type": row.type, "created_at": created, "data": row.data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def array_body(items: Sequence[bytes]) -> bytes:
    """Encoded events (``event_body``) as one array, the form the pump posts."""
    return b"[" + b",".join(items) + b"]"


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


def _pack(groups: list[list[ConnectEventRow]], encoded: dict[int, bytes]) -> list[list[ConnectEventRow]]:
    """Arrays of whole subjects (each subject's events together, in order), filled to about an even share
    of the events over ``PARALLEL`` posts, at most ``ARRAY_MAX`` events and ``ARRAY_MAX_BYTES``."""
    total = sum(len(g) for g in groups)
    size = min(ARRAY_MAX, max(1, math.ceil(total / PARALLEL)))
    arrays: list[list[ConnectEventRow]] = []
    current: list[ConnectEventRow] = []
    current_bytes = 0
    for group in groups:
        group_bytes = sum(len(encoded[r.id]) + 1 for r in group)
        if current and (len(current) + len(group) > size or current_bytes + group_bytes > ARRAY_MAX_BYTES):
            arrays.append(current)
            current, current_bytes = [], 0
        current.extend(group)
        current_bytes += group_bytes
    if current:
        arrays.append(current)
    return arrays


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
        of reachability the Business side should know before the change is answered. They are claimed as the
        pump claims them, so they are posted once; a post still running after ``within`` goes on in the
        background (not cancelled, so its claim is not left to expire). Only where the pump runs (kicks
        enabled)."""
        if not self.enabled_kicks or self.target is None or not rows:
            return

        async def post_all() -> None:
            try:
                await self._deliver_array(sorted(rows, key=lambda r: r.id))
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
        held: set[str] = set()  # subjects whose head is backing off, taken elsewhere or refused
        while True:
            full: set[str] = set()  # subjects with more due events than one array: another round follows
            after = 0
            while True:
                async with self.db.session_scope() as session:
                    scan = list(await ConnectRepository(session).undelivered_after(after, SCAN))
                if not scan:
                    break
                after = scan[-1].id
                at = now()
                groups: dict[str, list[ConnectEventRow]] = {}
                for row in scan:
                    key = event_subject(row)
                    if key in held or key in full:
                        continue
                    if row.next_attempt_at > at:
                        held.add(key)
                        continue
                    group = groups.setdefault(key, [])
                    if len(group) == ARRAY_MAX:
                        full.add(key)
                        continue
                    group.append(row)
                encoded = {row.id: event_body(row) for rows in groups.values() for row in rows}
                arrays = _pack(list(groups.values()), encoded)
                slots = asyncio.Semaphore(PARALLEL)

                async def post(
                    rows: list[ConnectEventRow],
                    slots: asyncio.Semaphore = slots,
                    encoded: dict[int, bytes] = encoded,
                ) -> tuple[int, set[str], bool]:
                    async with slots:
                        return await self._deliver_array(rows, encoded)

                receiver_down = False
                for count, waiting, down in await asyncio.gather(*(post(rows) for rows in arrays)):
                    delivered += count
                    held |= waiting
                    receiver_down = receiver_down or down
                if receiver_down:
                    return delivered, True
            if not full - held:
                return delivered, False

    async def _deliver_array(
        self, rows: list[ConnectEventRow], encoded: dict[int, bytes] | None = None
    ) -> tuple[int, set[str], bool]:
        """Claim, post and record one array of events (in order per subject): how many were delivered, the
        subjects that must wait (backing off, taken by another process, refused) and whether the receiver is
        down."""
        at = now()
        lease = at + timedelta(seconds=self.settings.connect_timeout_seconds + 5)
        async with self.db.session_scope() as session:
            claimed = await ConnectRepository(session).claim_events([r.id for r in rows], at, lease)
        held: set[str] = set()
        kept: list[ConnectEventRow] = []
        give_back: list[int] = []
        for row in rows:
            key = event_subject(row)
            if key in held or row.id not in claimed:
                held.add(key)  # an earlier event of the subject is not ours to post: its later ones wait
                if row.id in claimed:
                    give_back.append(row.id)
                continue
            kept.append(row)
        if give_back:
            async with self.db.session_scope() as session:
                await ConnectRepository(session).set_due(give_back, at)
        delivered = 0
        while kept:
            results, error, receiver_down = await self._post(kept, encoded or {})
            if results is None:
                await self._record_failed({r.id: error for r in kept})
                log.warning("connect_events_not_delivered", events=len(kept), error=error)
                return delivered, held | {event_subject(r) for r in kept}, receiver_down
            done: list[int] = []
            failed: dict[int, str] = {}
            again: list[ConnectEventRow] = []
            release: list[int] = []
            for row in kept:
                status, item_error = results.get(row.event_id, ("skipped", ""))
                if status in ("applied", "duplicate"):
                    done.append(row.id)
                elif status == "failed":
                    failed[row.id] = item_error or "failed"
                    held.add(event_subject(row))
                    log.warning(
                        "connect_event_not_delivered", event_id=row.event_id, type=row.type, error=item_error
                    )
            for row in kept:
                if row.id in failed or row.id in done:
                    continue
                # Not applied (after a failure): posted again at once unless its subject is the failed one's.
                if event_subject(row) in held:
                    release.append(row.id)
                else:
                    again.append(row)
            async with self.db.session_scope() as session:
                repo = ConnectRepository(session)
                if done:
                    await repo.mark_delivered(done, now())
                if release:
                    await repo.set_due(release, now())
                if again:  # a fresh lease for the next post
                    await repo.set_due(
                        [r.id for r in again],
                        now() + timedelta(seconds=self.settings.connect_timeout_seconds + 5),
                    )
            if failed:
                await self._record_failed(failed)
            delivered += len(done)
            if len(again) == len(kept):  # an answer that applied nothing and refused nothing: stop here
                await self._record_failed({r.id: "not applied" for r in again})
                return delivered, held | {event_subject(r) for r in again}, False
            kept = again
        return delivered, held, False

    async def _record_failed(self, errors: dict[int, str]) -> None:
        """One more attempt for each event (id → error), backing off by its number of attempts."""
        async with self.db.session_scope() as session:
            for fresh in await ConnectRepository(session).events(list(errors)):
                fresh.attempts += 1
                fresh.last_error = errors[fresh.id][:500]
                fresh.next_attempt_at = now() + timedelta(
                    seconds=backoff_seconds(self.settings, fresh.attempts)
                )

    async def _post(
        self, rows: Sequence[ConnectEventRow], encoded: dict[int, bytes]
    ) -> tuple[dict[str, tuple[str, str]] | None, str, bool]:
        """Post an array: ({event id: (status, error)}, "", False), or (None, error, whether the receiver
        itself is unreachable or unavailable) when the post as a whole was not answered."""
        assert self.target is not None
        body = array_body([encoded.get(row.id) or event_body(row) for row in rows])
        ts = int(now().timestamp())
        headers = {
            "content-type": "application/json",
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: sign_event(self.settings.secret(), ts, body),
        }
        try:
            resp = await self.target.post(EVENTS_PATH, content=body, headers=headers)
        except (httpx.HTTPError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}", True
        if not 200 <= resp.status_code < 300:
            return None, f"HTTP {resp.status_code}: {resp.text[:200]}", resp.status_code in (502, 503, 504)
        try:
            items = resp.json()["results"]
            results = {str(i["id"]): (str(i["status"]), str(i.get("error") or "")) for i in items}
        except (ValueError, KeyError, TypeError):
            return None, f"HTTP {resp.status_code}: not a per-item answer: {resp.text[:200]}", False
        return results, "", False

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
