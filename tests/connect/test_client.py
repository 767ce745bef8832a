"""ConnectClient against the embedded reference network: accounts, lookup reason codes, idempotent
acceptance (one inbox entry per business message id, raw attempts counted), inbox and read."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Clock
from tgo.channels.connect import ConnectInvalidRequest
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_types import (
    ConnectRejected,
    MediaRef,
    OutboundMessage,
    ReasonCode,
)
from tgo.config import Settings
from tgo.runtime import Runtime

OWNER = "+201001187188"
RECIPIENT = "+201010000000"
SENDER = "+201001187190"


def text(bid: str, to: str = RECIPIENT, sender: str = SENDER, content: str = "hello") -> OutboundMessage:
    return OutboundMessage(
        business_message_id=bid,
        sender_phone=sender,
        sender_name="Acme",
        to_phone=to,
        type="text",
        content=content,
    )


async def test_accounts_create_get_verify(runtime: Runtime) -> None:
    assert runtime.connect.get() is runtime.connect.get()  # one client per runtime
    c = ConnectAdminClient.of(runtime.connect.get())
    assert await c.get_account(OWNER) is None
    a = await c.create_account("00201001187188", name="Owner", language="ar")
    assert a.phone == OWNER and a.language == "ar" and a.name == "Owner"
    assert a.phone_verified_at is not None and a.account_verified is False and not a.disabled
    got = await c.get_account(OWNER)
    assert got is not None and got.id == a.id
    v = await c.set_account_verified(OWNER, True)
    assert v.account_verified and v.account_verified_at is not None
    u = await c.set_account_verified(OWNER)
    assert u.account_verified_at == v.account_verified_at  # no change, no new stamp
    u = await c.set_account_verified(OWNER, False)
    assert not u.account_verified and u.account_verified_at is None
    with pytest.raises(ConnectRejected) as exc:
        await c.create_account(OWNER)
    assert exc.value.reason_code == "account_exists"
    with pytest.raises(ConnectRejected) as exc:
        await c.set_account_verified("+201001187199", True)
    assert exc.value.reason_code == "account_not_found"
    with pytest.raises(ConnectInvalidRequest) as bad:
        await c.create_account("12345")
    assert bad.value.reason_code == "validation_failed" and "phone" in bad.value.errors
    with pytest.raises(ConnectInvalidRequest):
        await c.create_account("+201001187191", language="fr")


async def test_lookup_reason_codes(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    missing = await c.lookup(RECIPIENT)
    assert (missing.exists, missing.can_receive, missing.reason_code) == (False, False, ReasonCode.NOT_FOUND)
    assert missing.recipient_id is None and missing.phone_verified_at is None and not missing.is_verified

    acc = await c.create_account(RECIPIENT, verified=True)
    ok = await c.lookup(RECIPIENT, sender_phone=SENDER)
    assert (ok.exists, ok.can_receive, ok.reason_code) == (True, True, ReasonCode.OK)
    assert ok.recipient_id == acc.id and ok.is_verified and ok.phone_verified_at is not None

    await c.block(RECIPIENT, SENDER)
    await c.block(RECIPIENT, SENDER)  # idempotent
    blocked = await c.lookup(RECIPIENT, sender_phone=SENDER)
    assert (blocked.can_receive, blocked.reason_code) == (False, ReasonCode.BLOCKED_SENDER)
    # Without a sender the block is irrelevant; another sender is not blocked.
    assert (await c.lookup(RECIPIENT)).reason_code is ReasonCode.OK
    assert (await c.lookup(RECIPIENT, sender_phone=OWNER)).reason_code is ReasonCode.OK
    await c.unblock(RECIPIENT, SENDER)
    assert (await c.lookup(RECIPIENT, sender_phone=SENDER)).reason_code is ReasonCode.OK

    await c.set_phone_verified(RECIPIENT, False)
    pnv = await c.lookup(RECIPIENT)
    assert (pnv.exists, pnv.can_receive, pnv.reason_code) == (True, False, ReasonCode.PHONE_NOT_VERIFIED)
    assert pnv.phone_verified_at is None
    await c.set_phone_verified(RECIPIENT, True)

    await c.disable_account(RECIPIENT)
    dis = await c.lookup(RECIPIENT)
    assert (dis.exists, dis.can_receive, dis.reason_code) == (True, False, ReasonCode.ACCOUNT_DISABLED)
    await c.disable_account(RECIPIENT, False)
    assert (await c.lookup(RECIPIENT)).can_receive

    with pytest.raises(ConnectInvalidRequest):
        await c.lookup("not-a-phone")
    with pytest.raises(ConnectInvalidRequest):
        await c.lookup(RECIPIENT, sender_phone="+1")


async def test_deliver_is_idempotent_and_counts_attempts(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(RECIPIENT)
    first = await c.deliver(text("acme:1"))
    again = await c.deliver(text("acme:1", content="changed on retry"))
    assert not first.duplicate and again.duplicate
    assert again.connect_message_id == first.connect_message_id
    assert again.accepted_at == first.accepted_at
    inbox = await c.inbox(RECIPIENT)
    assert [m.business_message_id for m in inbox] == ["acme:1"]
    assert inbox[0].content == "hello" and inbox[0].sender_name == "Acme" and inbox[0].read_at is None
    assert await c.attempts("acme:1") == 2
    assert await c.attempts("never-sent") == 0

    # Concurrent retries of one id: exactly one inbox entry, every attempt counted.
    results = await asyncio.gather(*(c.deliver(text("acme:2")) for _ in range(5)))
    assert len({r.connect_message_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert [m.business_message_id for m in await c.inbox(RECIPIENT)] == ["acme:2", "acme:1"]
    assert await c.attempts("acme:2") == 5


async def test_deliver_refusals_carry_reason_codes(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    with pytest.raises(ConnectRejected) as exc:
        await c.deliver(text("x:1"))
    assert exc.value.reason_code == "not_found"
    await c.create_account(RECIPIENT, phone_verified=False)
    with pytest.raises(ConnectRejected) as exc:
        await c.deliver(text("x:2"))
    assert exc.value.reason_code == "phone_not_verified"
    await c.set_phone_verified(RECIPIENT)
    await c.block(RECIPIENT, SENDER)
    with pytest.raises(ConnectRejected) as exc:
        await c.deliver(text("x:3"))
    assert exc.value.reason_code == "blocked_sender"
    # A platform message (the OTP) is not from the business number: a block does not stop it.
    otp = OutboundMessage(
        business_message_id="otp:1",
        sender_phone=SENDER,
        sender_name="Acme",
        to_phone=RECIPIENT,
        type="system",
        content="123456",
    )
    assert not (await c.deliver(otp)).duplicate
    await c.disable_account(RECIPIENT)
    with pytest.raises(ConnectRejected) as exc:
        await c.deliver(text("x:4"))
    assert exc.value.reason_code == "account_disabled"
    # Refused attempts are counted too, and a refused id can be accepted later.
    assert await c.attempts("x:4") == 1
    await c.disable_account(RECIPIENT, False)
    await c.unblock(RECIPIENT, SENDER)
    assert not (await c.deliver(text("x:3"))).duplicate
    assert await c.attempts("x:3") == 2
    with pytest.raises(ConnectInvalidRequest):
        await c.deliver(text("x:5", to="+2"))


async def test_media_message_and_mark_read(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(RECIPIENT)
    media = MediaRef(url="http://b/media/1?sig=x", content_type="image/png", size=10, filename="a.png")
    msg = OutboundMessage(
        business_message_id="m:1",
        sender_phone=SENDER,
        sender_name="Acme",
        to_phone=RECIPIENT,
        type="image",
        caption="look",
        media=media,
    )
    await c.deliver(msg)
    [got] = await c.inbox(RECIPIENT)
    assert got.media == media and got.caption == "look"
    read = await c.mark_read(RECIPIENT, got.id)
    assert read.read_at is not None
    again = await c.mark_read(RECIPIENT, got.id)
    assert again.read_at == read.read_at
    with pytest.raises(ConnectRejected) as exc:
        await c.mark_read(RECIPIENT, got.id + 100)
    assert exc.value.reason_code == "message_not_found"
    with pytest.raises(ConnectRejected) as exc:
        await c.inbox("+201001187199")
    assert exc.value.reason_code == "account_not_found"


async def test_unreachable_slow_or_failing_connect_is_unavailable() -> None:
    from tests.connect.servers import free_port
    from tgo.channels.connect import ConnectClient
    from tgo.channels.connect_types import ConnectUnavailable

    secret = b"s" * 40
    closed = ConnectClient.over_http(f"http://127.0.0.1:{free_port()}", secret, timeout=1)
    with pytest.raises(ConnectUnavailable):
        await closed.deliver(text("u:1"))
    await closed.aclose()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(2)

    async def fail(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    for handler in (hang, fail):
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        c = ConnectClient.over_http(f"http://127.0.0.1:{port}", secret, timeout=0.3)
        try:
            with pytest.raises(ConnectUnavailable):
                await c.lookup(RECIPIENT)
        finally:
            await c.aclose()
            server.close()


async def test_delivered_events_and_old_receipts_are_pruned(runtime: Runtime, frozen_clock: Clock) -> None:
    from tgo.channels.connect_events import prune_receipts

    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(OWNER, verified=True)
    pump = runtime.embedded_connect.get().network.pump
    await pump.run_once()
    assert await pump.prune() == 0
    assert await prune_receipts(runtime) == 0
    frozen_clock.advance(days=8)
    # A verified account's creation is two events: account.verification_changed, account.reachability_changed.
    assert await pump.prune() == 2
    assert await prune_receipts(runtime) == 2


async def test_scripted_failures_are_unavailable_and_counted(runtime: Runtime) -> None:
    from tgo.channels.connect_types import ConnectUnavailable

    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(RECIPIENT)
    await c.fail_next_messages(2)
    for _ in range(2):
        with pytest.raises(ConnectUnavailable):
            await c.deliver(text("f:1"))
    assert await c.inbox(RECIPIENT) == []
    sent = await c.deliver(text("f:1"))
    assert not sent.duplicate
    assert await c.attempts("f:1") == 3
    assert len(await c.inbox(RECIPIENT)) == 1
    with pytest.raises(ConnectInvalidRequest):
        await c.fail_next_messages(1, status=200)


@pytest.mark.postgres_only
async def test_a_database_of_its_own(settings: Settings, backend: str) -> None:
    """TGO_CONNECT_DATABASE_URL: Connect's tables are created in that database on first use."""
    import uuid

    import asyncpg
    from sqlalchemy.engine import make_url

    from tgo.wiring import build_runtime

    main = make_url(settings.resolved_database_url)
    name = f"tgo_connect_{uuid.uuid4().hex[:8]}"
    admin_dsn = main.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    own = main.set(database=name).render_as_string(hide_password=False)
    rt = build_runtime(settings.model_copy(update={"connect_database_url": own}))
    try:
        c = ConnectAdminClient.of(rt.connect.get())
        await c.create_account(OWNER, verified=True)
        assert (await c.lookup(OWNER)).is_verified
        check = await asyncpg.connect(
            main.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        )
        try:
            assert await check.fetchval("SELECT count(*) FROM connect_accounts") == 1
        finally:
            await check.close()
    finally:
        await rt.close()
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
