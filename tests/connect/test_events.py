"""Signed Connect events: the Business receiver refuses bad and stale signatures, applies an event once,
and Connect's outbox pump delivers in process, and over HTTP with retries while the Business side is down."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Clock
from tests.connect.servers import free_port, serve_in_loop
from tgo.app import create_app
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_protocol import EVENTS_PATH, sign_event
from tgo.channels.connect_types import (
    EVENT_ACCOUNT_VERIFICATION_CHANGED,
    EVENT_MESSAGE_DELIVERED,
    EVENT_MESSAGE_READ,
    OutboundMessage,
)
from tgo.config import Settings
from tgo.connect_network.app import create_connect_app
from tgo.connect_network.network import ConnectNetwork, connect_database_url, http_events_target
from tgo.db import Database
from tgo.kit.clock import now
from tgo.part import Registry
from tgo.runtime import Runtime
from tgo.wiring import build_runtime

OWNER = "+201001187188"


class Recorder:
    """Handlers of the given event types that record every call (installed in a runtime's registry)."""

    def __init__(self, *types: str) -> None:
        self.types = types
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        self.arrived = asyncio.Event()
        self._fns: list[Any] = []
        for t in types:

            async def handler(
                session: AsyncSession, runtime: Runtime, data: dict[str, Any], _t: str = t
            ) -> None:
                if self.fail:
                    raise RuntimeError("handler failure")
                self.calls.append((_t, data))
                self.arrived.set()

            self._fns.append((t, handler))
        self._registry: Registry | None = None

    def attach(self, registry: Registry) -> Recorder:
        self._registry = registry
        for t, fn in self._fns:
            registry.connect_handlers.setdefault(t, []).append(fn)
        return self

    def close(self) -> None:
        if self._registry is not None:
            for t, fn in self._fns:
                self._registry.connect_handlers[t].remove(fn)

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count:
            assert time.monotonic() < deadline, f"{len(self.calls)} of {count} events arrived: {self.calls}"
            await asyncio.sleep(0.02)


def _recorder() -> Recorder:
    return Recorder(EVENT_ACCOUNT_VERIFICATION_CHANGED, EVENT_MESSAGE_DELIVERED, EVENT_MESSAGE_READ)


@pytest.fixture
def recorder(runtime: Runtime) -> Iterator[Recorder]:
    r = _recorder().attach(runtime.registry)
    yield r
    r.close()


def signed(secret: bytes, event: dict[str, Any], ts: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    ts = int(now().timestamp()) if ts is None else ts
    return body, {
        "content-type": "application/json",
        "x-connect-event-id": event["id"],
        "x-connect-timestamp": str(ts),
        "x-connect-signature": sign_event(secret, ts, body),
    }


def an_event(event_id: str = "e1") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": EVENT_ACCOUNT_VERIFICATION_CHANGED,
        "created_at": "2026-01-01T00:00:00Z",
        "data": {"phone": OWNER, "account_verified": True, "at": "2026-01-01T00:00:00Z"},
    }


async def test_receiver_applies_once_and_refuses_bad_or_stale_signatures(
    client: httpx.AsyncClient, settings: Settings, recorder: Recorder
) -> None:
    secret = settings.secret()
    body, headers = signed(secret, an_event())
    r = await client.post(EVENTS_PATH, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    assert recorder.calls == [(EVENT_ACCOUNT_VERIFICATION_CHANGED, an_event()["data"])]
    # Delivered again (at least once): acknowledged, not applied twice.
    r = await client.post(EVENTS_PATH, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert len(recorder.calls) == 1

    def refused(body: bytes, headers: dict[str, str]) -> Awaitable[httpx.Response]:
        return client.post(EVENTS_PATH, content=body, headers=headers)

    body2, good = signed(secret, an_event("e2"))
    for bad in (
        {**good, "x-connect-signature": "v1=" + "0" * 64},
        {
            **good,
            "x-connect-signature": sign_event(b"another-secret", int(good["x-connect-timestamp"]), body2),
        },
        {k: v for k, v in good.items() if k != "x-connect-signature"},
        {k: v for k, v in good.items() if k != "x-connect-timestamp"},
        {**good, "x-connect-timestamp": "yesterday"},
    ):
        r = await refused(body2, bad)
        assert r.status_code == 401, bad
        assert r.json() == {"message": "Unauthenticated."}
    # A body changed after signing.
    r = await refused(body2.replace(b"true", b"false"), good)
    assert r.status_code == 401
    # Correctly signed but too old, or from too far in the future (replays).
    for skew in (-301, 301, -3600):
        body3, old = signed(secret, an_event("e3"), ts=int(now().timestamp()) + skew)
        r = await refused(body3, old)
        assert r.status_code == 401, skew
    assert len(recorder.calls) == 1
    # Not under /api/v1 (no API key needed) and not in the public OpenAPI document.
    schema = (await client.get("/openapi.json")).json()
    assert not any("internal" in path for path in schema["paths"])


async def test_handler_failure_rolls_back_so_redelivery_applies(
    client: httpx.AsyncClient, settings: Settings, recorder: Recorder
) -> None:
    body, headers = signed(settings.secret(), an_event("e-fail"))
    recorder.fail = True
    r = await client.post(EVENTS_PATH, content=body, headers=headers)
    assert r.status_code == 500
    recorder.fail = False
    r = await client.post(EVENTS_PATH, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert len(recorder.calls) == 1


async def test_embedded_events_reach_handlers_in_process(runtime: Runtime, recorder: Recorder) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(OWNER)
    await c.set_account_verified(OWNER, True)
    await recorder.wait_for(1)
    assert recorder.calls[0][0] == EVENT_ACCOUNT_VERIFICATION_CHANGED
    assert recorder.calls[0][1]["phone"] == OWNER and recorder.calls[0][1]["account_verified"] is True

    sent = await c.deliver(
        OutboundMessage(
            business_message_id="acme:7",
            sender_phone="+201010000000",
            sender_name="Acme",
            to_phone=OWNER,
            type="text",
            content="hi",
        )
    )
    await recorder.wait_for(2)
    [msg] = await c.inbox(OWNER)
    await c.mark_read(OWNER, msg.id)
    await c.mark_read(OWNER, msg.id)  # read once, reported once
    await c.set_account_verified(OWNER, False)
    await recorder.wait_for(4)
    await asyncio.sleep(0.3)
    # Events are ordered per subject (the protocol's promise): the message's delivered before its read, the
    # account's two verification changes in order; events of different subjects may interleave either way.
    types = [t for t, _ in recorder.calls]
    assert [t for t in types if t in (EVENT_MESSAGE_DELIVERED, EVENT_MESSAGE_READ)] == [
        EVENT_MESSAGE_DELIVERED,
        EVENT_MESSAGE_READ,
    ]
    verifications = [d for t, d in recorder.calls if t == EVENT_ACCOUNT_VERIFICATION_CHANGED]
    assert [d["account_verified"] for d in verifications] == [True, False]
    assert len(types) == 4
    delivered = next(d for t, d in recorder.calls if t == EVENT_MESSAGE_DELIVERED)
    read = next(d for t, d in recorder.calls if t == EVENT_MESSAGE_READ)
    assert delivered["business_message_id"] == read["business_message_id"] == "acme:7"
    assert delivered["connect_message_id"] == read["connect_message_id"] == sent.connect_message_id


async def test_events_wait_and_retry_while_business_is_down(settings: Settings, frozen_clock: Clock) -> None:
    """A standalone Connect posting over HTTP to a Business side that is not there yet."""
    # A Business runtime without background work: on PostgreSQL its embedded network would share this
    # outbox and deliver in process (a standalone Connect pairs with TGO_CONNECT_URL on the Business side).
    runtime = build_runtime(settings)
    recorder = _recorder().attach(runtime.registry)
    port = free_port()
    connect_settings = settings.model_copy(update={"business_url": f"http://127.0.0.1:{port}"})
    db = Database(connect_database_url(connect_settings))
    network = ConnectNetwork(connect_settings, db, http_events_target(connect_settings))
    app = create_connect_app(connect_settings, db, network=network)
    client = ConnectAdminClient.over_asgi(app, connect_settings.secret())
    try:
        await client.create_account(OWNER)
        await client.set_account_verified(OWNER, True)
        await client.set_account_verified(OWNER, False)
        # Business is down: nothing delivered, the head event is retried later, order is kept.
        assert await network.pump.run_once() == 0
        assert await network.pump.run_once() == 0  # not due yet (back-off)
        frozen_clock.advance(seconds=1)
        assert await network.pump.run_once() == 0
        assert recorder.calls == []

        business = create_app(settings, runtime)
        async with serve_in_loop(business, port):
            assert await network.pump.run_once() == 0  # still backing off
            frozen_clock.advance(seconds=connect_settings.connect_event_retry_max_seconds)
            # The two verification changes, and the account's three reachability snapshots (created,
            # verified, unverified).
            assert await network.pump.run_once() == 5
            assert await network.pump.run_once() == 0
        assert [d["account_verified"] for _, d in recorder.calls] == [True, False]
    finally:
        await client.aclose()
        await network.close()
        await db.dispose()
        recorder.close()
        await runtime.close()


async def test_a_failing_subject_holds_only_its_own_later_events(
    runtime: Runtime, frozen_clock: Clock
) -> None:
    """A handler failing for one phone delays that phone's events (in order) and nobody else's."""
    other = "+201010000000"
    seen: list[tuple[str, bool]] = []
    broken = {OWNER}

    async def handler(session: AsyncSession, rt: Runtime, data: dict[str, Any]) -> None:
        if data["phone"] in broken:
            raise RuntimeError("not today")
        seen.append((data["phone"], data["account_verified"]))

    handlers = runtime.registry.connect_handlers[EVENT_ACCOUNT_VERIFICATION_CHANGED]
    handlers.append(handler)
    try:
        pump = runtime.embedded_connect.get().network.pump
        c = ConnectAdminClient.of(runtime.connect.get())
        await c.create_account(OWNER)
        await c.create_account(other)
        await c.set_account_verified(OWNER, True)
        await c.set_account_verified(other, True)
        await c.set_account_verified(OWNER, False)
        await c.set_account_verified(other, False)
        # (The runtime's periodic pump may run too; the outcome is the same.)
        await pump.run_once()
        assert seen == [(other, True), (other, False)]
        broken.clear()
        await pump.run_once()
        assert len(seen) == 2  # OWNER's head is backing off and its second event waits behind it
        frozen_clock.advance(seconds=2)
        await pump.run_once()
        assert seen[2:] == [(OWNER, True), (OWNER, False)]
    finally:
        handlers.remove(handler)


# PostgreSQL only: on SQLite the receiving transactions queue on the one writer lock whatever the pump does.
@pytest.mark.postgres_only
async def test_independent_subjects_are_posted_concurrently_each_in_order(runtime: Runtime) -> None:
    """The pump posts events of different subjects side by side (a slow receiver does not make every
    other phone wait in line), while each subject's events still arrive in the order they happened."""
    phones = [f"+2010100001{i:02d}" for i in range(12)]
    seen: list[tuple[str, bool]] = []
    running = 0
    most = 0

    async def handler(session: AsyncSession, rt: Runtime, data: dict[str, Any]) -> None:
        nonlocal running, most
        if data["phone"] not in phones:
            return
        running += 1
        most = max(most, running)
        try:
            await asyncio.sleep(0.2)
            seen.append((data["phone"], data["account_verified"]))
        finally:
            running -= 1

    handlers = runtime.registry.connect_handlers[EVENT_ACCOUNT_VERIFICATION_CHANGED]
    handlers.append(handler)
    try:
        pump = runtime.embedded_connect.get().network.pump
        c = ConnectAdminClient.of(runtime.connect.get())
        for phone in phones:
            await c.create_account(phone)
            await c.set_account_verified(phone, True)
            await c.set_account_verified(phone, False)
        started = time.monotonic()
        for _ in range(50):
            await pump.run_once()
            if len(seen) == 2 * len(phones):
                break
            await asyncio.sleep(0.1)
        took = time.monotonic() - started
    finally:
        handlers.remove(handler)
    assert len(seen) == 2 * len(phones)
    for phone in phones:
        assert [v for p, v in seen if p == phone] == [True, False], phone
    assert most > 1
    assert took < 2 * len(phones) * 0.2  # one at a time would take 4.8 s
