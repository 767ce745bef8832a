"""The composition root: importing a module registers nothing, and ``tgo.wiring.build_runtime`` installs every
package's declared contributions (tasks, periodic jobs, listeners, Connect handlers, start-up hooks, navigation)
and the parts passed to it, in registries the runtime owns."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import tgo
from tgo.channels.connect import ConnectClient
from tgo.channels.connect_types import (
    EVENT_ACCOUNT_REACHABILITY_CHANGED,
    EVENT_ACCOUNT_VERIFICATION_CHANGED,
    EVENT_MESSAGE_DELIVERED,
    EVENT_MESSAGE_READ,
    EVENT_MESSAGE_RECEIVED,
)
from tgo.channels.sms_sandbox import SandboxSmsChannel, SandboxVerifier
from tgo.config import Settings
from tgo.connect_network.demo import connect_demo_step
from tgo.connect_network.tasks import enable_event_kicks
from tgo.conversations.outbound import on_message_queued
from tgo.conversations.repository import any_conversation
from tgo.db import Database
from tgo.kit.hosts import IPAddress
from tgo.reachability.sync import sync_if_empty
from tgo.runtime import runtime_of
from tgo.senders.connect_links import on_sender_status_changed
from tgo.sms.rules import decide_verification
from tgo.webhooks.outbox import record_event, record_events
from tgo.webhooks.repository import any_active_endpoint
from tgo.wiring import PARTS, build_runtime
from tgo.worker.broker import start_in_process_workers

# Imports every tgo module in a fresh interpreter, then reports (1) the old import-time registries that
# still exist and (2) every module-level container holding functions of *another* tgo module: what a
# decorator or an ``X.append(fn)`` at import time leaves behind.
SCRIPT = r"""
import importlib, inspect, json, pkgutil, weakref
import tgo

names = sorted(m.name for m in pkgutil.walk_packages(tgo.__path__, "tgo.") if m.name != "tgo.__main__")
for name in names:
    importlib.import_module(name)

OLD = {
    "tgo.runtime": "STARTUP",
    "tgo.events": ("_LISTENERS", "_INTERESTS"),
    "tgo.channels.connect_events": "_HANDLERS",
    "tgo.worker.registry": ("TASKS", "PERIODIC"),
    "tgo.dashboard.web": "NAV",
    "tgo.webhooks.service": "_RUNTIMES",
    "tgo.demo": "DEMO_STEPS",
}
found = []
for module, attrs in OLD.items():
    for attr in (attrs,) if isinstance(attrs, str) else attrs:
        if hasattr(importlib.import_module(module), attr):
            found.append(f"{module}.{attr}")

CONTAINERS = (list, dict, set, weakref.WeakKeyDictionary, weakref.WeakValueDictionary, weakref.WeakSet)

def items(value, depth=0):
    values = value.values() if isinstance(value, (dict, weakref.WeakKeyDictionary, weakref.WeakValueDictionary)) else value
    for v in list(values):
        if depth < 2 and isinstance(v, (*CONTAINERS, tuple)):
            yield from items(v, depth + 1)
        else:
            yield v

for name in names:
    module = importlib.import_module(name)
    for attr, value in vars(module).items():
        if attr.startswith("__") or not isinstance(value, CONTAINERS):
            continue
        for v in items(value):
            origin = getattr(v, "__module__", "") or ""
            if inspect.isfunction(v) and origin.startswith("tgo") and origin != name:
                found.append(f"{name}.{attr} holds {origin}.{v.__qualname__}")
print(json.dumps({"modules": len(names), "found": found}))
"""


def test_importing_every_module_registers_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "TGO_DATA_DIR": str(tmp_path), "TGO_LOG_LEVEL": "WARNING"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["modules"] > 100
    assert report["found"] == []


def _contribution_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(tgo.__path__, "tgo.")
        if m.name.rsplit(".", 1)[-1] == "contributions"
    )


def test_every_package_that_declares_contributions_is_wired() -> None:
    declared = [importlib.import_module(name).PART for name in _contribution_modules()]
    assert len(declared) == 9  # + reachability (issue 15), conversations (issue 18)
    assert sorted(p.name for p in PARTS) == sorted(p.name for p in declared)
    assert all(any(p is w for w in PARTS) for p in declared)


async def test_the_wiring_installs_every_packages_contributions(settings: Settings) -> None:
    runtime = build_runtime(settings)
    try:
        registry = runtime.registry
        assert registry.parts == [p.name for p in PARTS]
        assert set(registry.tasks) == {
            "messages.deliver",
            "messages.deliver_batch",
            "sms.deliver",
            "sms.deliver_batch",
            "sms.verify_sender",
            "webhooks.deliver",
        }
        assert set(registry.tasks) == {name for p in PARTS for name in p.tasks}
        assert set(registry.periodic) == {
            "messages.sweep",
            "sms.sweep",
            "webhooks.sweep",
            "webhooks.purge",
            "connect.events",
            "connect.prune",
            "worker.redis_stream",
            "senders.connect_links",
        }
        # Parts' listeners and interests, in PARTS order (each interest installed with its listener).
        assert registry.listeners == [on_sender_status_changed, record_event, on_message_queued]
        assert registry.interests == [any_active_endpoint, any_conversation]
        assert {t: len(fns) for t, fns in registry.connect_handlers.items()} == {
            EVENT_ACCOUNT_VERIFICATION_CHANGED: 1,
            EVENT_ACCOUNT_REACHABILITY_CHANGED: 1,
        }
        # Receipts and inbound messages are applied a run at a time (issue 16 item 3).
        assert {t: len(fns) for t, fns in registry.connect_batch_handlers.items()} == {
            EVENT_MESSAGE_DELIVERED: 1,
            EVENT_MESSAGE_READ: 1,
            EVENT_MESSAGE_RECEIVED: 1,
        }
        assert [batch for _fns, batch in registry.listener_sets if batch is not None] == [record_events]
        assert registry.startup == [enable_event_kicks, start_in_process_workers, sync_if_empty]
        assert registry.demo_steps == [connect_demo_step]
        assert [item.path for item in registry.nav] == [
            "/sender-numbers",
            "/inbox",
            "/messages",
            "/sms-messages",
            "/usage",
            "/sms-senders",
            "/webhooks",
            "/api-keys",
            "/connect",
        ]
        # The broker binds exactly the installed tasks.
        broker = runtime.broker.get()
        assert all(broker.taskiq.find_task(name) is not None for name in registry.tasks)
        # A second runtime has registries of its own.
        other = build_runtime(settings, parts=())
        assert other.registry.tasks == {} and other.registry.listeners == []
        assert other.registry is not registry
        await other.close()
    finally:
        await runtime.close()


async def test_fakes_are_passed_to_the_wiring_and_parts_are_built_on_first_use(settings: Settings) -> None:
    fake_connect = ConnectClient.over_http("http://127.0.0.1:9", settings.secret(), timeout=0.5)
    verifier = SandboxVerifier(decide_verification)
    channel = SandboxSmsChannel()

    async def resolve(host: str, port: int) -> list[IPAddress]:
        return []

    runtime = build_runtime(
        settings, connect=fake_connect, sms_verifier=verifier, sms_channel=channel, webhook_resolver=resolve
    )
    try:
        assert not runtime.connect.built and not runtime.sms_channel.built
        assert runtime.connect.get() is fake_connect
        assert not runtime.embedded_connect.built  # the fake replaces the wiring's choice entirely
        assert runtime.sms_verifier is verifier and runtime.webhook_resolver is resolve
        assert runtime.sms_channel.get() is channel
        assert runtime.sms_channel.get() is channel  # built once
    finally:
        await runtime.close()
        await fake_connect.aclose()


async def test_the_wiring_chooses_connect_over_http_or_the_embedded_network(settings: Settings) -> None:
    remote = build_runtime(settings.model_copy(update={"connect_url": "http://127.0.0.1:9"}))
    embedded = build_runtime(settings)
    try:
        assert isinstance(remote.connect.get(), ConnectClient)
        assert not remote.embedded_connect.built
        assert isinstance(embedded.connect.get(), ConnectClient)
        assert embedded.embedded_connect.built
    finally:
        await remote.close()
        await embedded.close()


async def test_sessions_carry_their_runtime_so_listeners_need_no_lookup(settings: Settings) -> None:
    runtime = build_runtime(settings)
    bare = Database(settings.resolved_database_url)
    try:
        async with runtime.db.session_scope() as session:
            assert runtime_of(session) is runtime
        async with bare.session_scope() as session:
            assert runtime_of(session) is None
    finally:
        await bare.dispose()
        await runtime.close()


async def test_the_interest_comes_from_the_installed_parts(settings: Settings) -> None:
    """The webhooks part contributes its listener's interest: the send path reads it through the session's
    runtime; a runtime without the part (or a bare database) knows no interest, so nothing is skipped."""
    from sqlalchemy import select, true

    from tgo import events

    runtime = build_runtime(settings)
    bare = build_runtime(settings, parts=())
    try:
        async with runtime.db.session_scope() as session:
            condition = events.interest(session, 1)
            assert condition is not true()
            # No endpoint for tenant 1: the listener has nothing to do for it.
            assert not (await session.execute(select(condition))).scalar_one()
        async with bare.db.session_scope() as session:
            assert str(events.interest(session, 1)) == str(true())
    finally:
        await bare.close()
        await runtime.close()
