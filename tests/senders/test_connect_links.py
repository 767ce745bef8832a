"""Connect's link table follows the active sender numbers (issue 18): a suspension, an unsuspension or a
deletion made while Connect is down reaches it within seconds of Connect being back — the worker's periodic
check, not only the 5-minute full reconciliation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from tests.fixtures.fake_connect import FakeConnect
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.models import SenderNumber
from tgo.runtime import Runtime
from tgo.senders.connect_links import CHECK_SECONDS, LinkReconciler
from tgo.senders.service import delete, operator_action
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

OWNER = "+201000000001"


class CountingConnect(FakeConnect):
    def __init__(self) -> None:
        super().__init__()
        self.replaced = 0

    async def replace_links(self, phones: list[str]) -> None:
        await super().replace_links(phones)
        self.replaced += 1


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[tuple[Runtime, CountingConnect]]:
    fake = CountingConnect()
    fake.add_account(OWNER)
    rt = build_runtime(settings, connect=fake)
    await rt.start()  # runs the periodic jobs in process, as a worker does
    try:
        yield rt, fake
    finally:
        await rt.close()


async def _active_number(rt: Runtime) -> tuple[int, int]:
    async with rt.db.session_scope() as s:
        tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
        at = now()
        number = SenderNumber(
            tenant_id=tenant.id,
            phone=OWNER,
            status="active",
            verification_status="verified",
            otp_verified_at=at,
            account_verified_at=at,
            activated_at=at,
            status_changed_at=at,
            created_at=at,
            updated_at=at,
        )
        s.add(number)
        await s.flush()
        return tenant.id, number.id


async def _within(predicate: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_link_changes_made_while_connect_is_down_reach_it_once_it_is_back(
    started: tuple[Runtime, CountingConnect],
) -> None:
    rt, fake = started
    tenant_id, number_id = await _active_number(
        rt
    )  # written behind the listeners' back: only the check sees it
    await _within(lambda: OWNER in fake.links, CHECK_SECONDS + 2)
    prompt = CHECK_SECONDS + 2  # one check interval (and the time a check takes)

    fake.down = True
    async with rt.db.session_scope() as s:
        await operator_action(s, number_id, "suspend")
    await asyncio.sleep(0.2)
    assert OWNER in fake.links  # the after-commit call failed: Connect still lets accounts write to it
    fake.down = False
    await _within(lambda: OWNER not in fake.links, prompt)

    fake.down = True
    async with rt.db.session_scope() as s:
        await operator_action(s, number_id, "unsuspend")
    await asyncio.sleep(0.2)
    assert OWNER not in fake.links
    fake.down = False
    await _within(lambda: OWNER in fake.links, prompt)

    fake.down = True
    async with rt.db.session_scope() as s:
        await delete(s, tenant_id, number_id)
    await asyncio.sleep(0.2)
    assert OWNER in fake.links
    fake.down = False
    await _within(lambda: OWNER not in fake.links, prompt)


async def test_the_check_calls_connect_only_when_the_set_changed(
    started: tuple[Runtime, CountingConnect],
) -> None:
    rt, fake = started
    await _active_number(rt)
    reconciler = LinkReconciler()
    assert await reconciler.run(rt) is True and fake.links == {OWNER}
    calls = fake.replaced
    assert await reconciler.run(rt) is False
    assert fake.replaced == calls
    fake.down = True
    fresh = LinkReconciler()
    assert await fresh.run(rt) is False and fresh.sent is None  # not taken, so not recorded: sent again next
    fake.down = False
    assert await fresh.run(rt) is True and fresh.sent == {OWNER}
