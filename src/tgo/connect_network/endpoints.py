"""Connect's HTTP API under /connect/v1 (bearer token derived from the secret key) and its inbox page."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_protocol import token_matches
from tgo.channels.connect_types import (
    MAX_BATCH_MESSAGES,
    BatchAcceptance,
    ConnectAccount,
    InboxMessage,
    Lookup,
    OutboundBatch,
    OutboundMessage,
    ReachabilityPage,
    SendResult,
)
from tgo.db import run_after_commit
from tgo.errors import Unauthenticated, ValidationFailed

from . import batch, service
from .network import ConnectNetwork


async def connect_api_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # Async: Litestar runs a sync guard in a worker thread, a thread hop on every Connect request.
    network: ConnectNetwork = connection.app.state.connect
    scheme, _sep, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token_matches(network.settings.secret(), token.strip()):
        raise Unauthenticated()


async def provide_connect_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """The request's transaction on Connect's database; a commit that wrote events wakes the pump."""
    network: ConnectNetwork = state.connect
    await network.ready()
    async with network.db.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    wrote_events = session.info.pop(service.EVENTS_WRITTEN, False)
    reachability_events = session.info.pop(service.REACHABILITY_WRITTEN, [])
    await run_after_commit(session)
    if reachability_events:
        # Answer once the Business side's directory has the change (bounded): a block or a disable that
        # Connect has confirmed is what the next send sees.
        # Half the Connect timeout: the caller's own request (same timeout) must not time out waiting.
        await network.pump.settle(reachability_events, network.settings.connect_timeout_seconds / 2)
    if wrote_events:
        network.pump.kick()


class AccountCreate(msgspec.Struct, kw_only=True):
    phone: str
    name: str | None = None
    language: str = "en"
    phone_verified: bool = True
    account_verified: bool = False


class PhoneVerification(msgspec.Struct, kw_only=True):
    verified: bool = True


class BlockCreate(msgspec.Struct, kw_only=True):
    sender_phone: str


class Block(msgspec.Struct, kw_only=True):
    phone: str
    sender_phone: str
    created_at: datetime


class BlockList(msgspec.Struct, kw_only=True):
    data: list[Block]


class Inbox(msgspec.Struct, kw_only=True):
    phone: str
    data: list[InboxMessage]
    next_cursor: str | None = None


class Attempts(msgspec.Struct, kw_only=True):
    business_message_id: str
    attempts: int


class Faults(msgspec.Struct, kw_only=True):
    fail_next_messages: int = 0
    status: int = 503


class AccountsController(Controller):
    path = "/accounts"

    @post("/", status_code=201)
    async def create(self, data: AccountCreate, connect_session: AsyncSession) -> ConnectAccount:
        return await service.create_account(
            connect_session,
            phone=data.phone,
            name=data.name,
            language=data.language,
            phone_verified=data.phone_verified,
            account_verified=data.account_verified,
        )

    @get("/{phone:str}")
    async def get_account(self, phone: str, connect_session: AsyncSession) -> ConnectAccount:
        return await service.get_account(connect_session, phone)

    @post("/{phone:str}/verify", status_code=200)
    async def verify(self, phone: str, connect_session: AsyncSession) -> ConnectAccount:
        return await service.set_account_verified(connect_session, phone, True)

    @post("/{phone:str}/unverify", status_code=200)
    async def unverify(self, phone: str, connect_session: AsyncSession) -> ConnectAccount:
        return await service.set_account_verified(connect_session, phone, False)

    @post("/{phone:str}/disable", status_code=200)
    async def disable(self, phone: str, connect_session: AsyncSession) -> ConnectAccount:
        return await service.set_disabled(connect_session, phone, True)

    @post("/{phone:str}/enable", status_code=200)
    async def enable(self, phone: str, connect_session: AsyncSession) -> ConnectAccount:
        return await service.set_disabled(connect_session, phone, False)

    @post("/{phone:str}/phone-verification", status_code=200)
    async def phone_verification(
        self, phone: str, data: PhoneVerification, connect_session: AsyncSession
    ) -> ConnectAccount:
        return await service.set_phone_verified(connect_session, phone, data.verified)

    @get("/{phone:str}/blocks")
    async def list_blocks(self, phone: str, connect_session: AsyncSession) -> BlockList:
        rows = await service.list_blocks(connect_session, phone)
        return BlockList(
            data=[Block(phone=b.phone, sender_phone=b.sender_phone, created_at=b.created_at) for b in rows]
        )

    @post("/{phone:str}/blocks", status_code=201)
    async def block(self, phone: str, data: BlockCreate, connect_session: AsyncSession) -> Block:
        b = await service.block_sender(connect_session, phone, data.sender_phone)
        return Block(phone=b.phone, sender_phone=b.sender_phone, created_at=b.created_at)

    @delete("/{phone:str}/blocks/{sender_phone:str}", status_code=204)
    async def unblock(self, phone: str, sender_phone: str, connect_session: AsyncSession) -> None:
        await service.unblock_sender(connect_session, phone, sender_phone)

    @get("/{phone:str}/inbox")
    async def inbox(
        self,
        phone: str,
        connect_session: AsyncSession,
        limit: int = Parameter(default=50, ge=1, le=200),
        cursor: str | None = None,
    ) -> Inbox:
        page = await service.inbox(connect_session, phone, limit, cursor)
        e164 = service.phone_or_422(phone)
        return Inbox(
            phone=e164, data=[service.to_inbox_message(r) for r in page.rows], next_cursor=page.next_cursor
        )

    @post("/{phone:str}/inbox/{message_id:int}/read", status_code=200)
    async def mark_read(self, phone: str, message_id: int, connect_session: AsyncSession) -> InboxMessage:
        return service.to_inbox_message(await service.mark_read(connect_session, phone, message_id))


class LookupController(Controller):
    path = "/lookup"

    @get("/")
    async def lookup(self, state: State, phone: str, sender_phone: str | None = None) -> Lookup:
        # A read (one per Business send): autocommit statements, no transaction of its own to open and commit.
        network: ConnectNetwork = state.connect
        await network.ready()
        async with network.db.read_scope() as conn, AsyncSession(bind=conn) as session:
            return await service.lookup(session, phone, sender_phone)


class ReachabilityController(Controller):
    """Every account's reachability, paged by account id: the Business side's bulk (re)sync of its directory."""

    path = "/reachability"

    @get("/")
    async def page(self, state: State, after: int = 0, limit: int = 100) -> ReachabilityPage:
        network: ConnectNetwork = state.connect
        await network.ready()
        async with network.db.read_scope() as conn, AsyncSession(bind=conn) as session:
            return await service.reachability_page(session, after, limit)


class MessagesController(Controller):
    path = "/messages"

    @post("/")
    async def accept(self, request: Request[Any, Any, Any], data: OutboundMessage) -> Response[Any]:
        """Accept a Business message: 201 the first time, 200 ``duplicate`` for a retry of the same id."""
        network: ConnectNetwork = request.app.state.connect
        await network.ready()
        # The raw attempt is counted in its own transaction so refusals are counted too.
        async with network.db.session_scope() as session:
            await service.count_attempt(session, data.business_message_id)
        if network.fail_next_messages > 0:
            network.fail_next_messages -= 1
            body = {"message": "Scripted failure of the reference network.", "code": "scripted_failure"}
            return Response(body, status_code=network.fail_status)
        async with network.db.session_scope() as session:
            accepted = await service.accept_message(session, data)
            wrote = session.info.pop(service.EVENTS_WRITTEN, False)
        if wrote:
            network.pump.kick()
        result = SendResult(
            connect_message_id=accepted.message.id,
            accepted_at=accepted.message.received_at,
            duplicate=accepted.duplicate,
        )
        return Response(result, status_code=200 if accepted.duplicate else 201)

    @get("/{business_message_id:str}/attempts")
    async def attempts(self, business_message_id: str, connect_session: AsyncSession) -> Attempts:
        return Attempts(
            business_message_id=business_message_id,
            attempts=await service.attempts(connect_session, business_message_id),
        )


class MessageBatchController(Controller):
    path = "/messages:batch"

    @post("/", status_code=200)
    async def accept_batch(self, request: Request[Any, Any, Any], data: OutboundBatch) -> Response[Any]:
        """Accept up to MAX_BATCH_MESSAGES Business messages in one transaction: 200 with one result per message
        (accepted, duplicate, or refused with the lookup's ``reason_code``); more messages is a 422."""
        network: ConnectNetwork = request.app.state.connect
        await network.ready()
        if network.fail_next_messages > 0:  # a scripted outage fails the whole batch, as Connect down would
            network.fail_next_messages -= 1
            async with network.db.session_scope() as session:
                for message in data.messages[:MAX_BATCH_MESSAGES]:
                    await service.count_attempt(session, message.business_message_id)
            body = {"message": "Scripted failure of the reference network.", "code": "scripted_failure"}
            return Response(body, status_code=network.fail_status)
        async with network.db.session_scope() as session:
            results = await batch.accept_messages(session, data.messages)
            wrote = session.info.pop(service.EVENTS_WRITTEN, False)
        if wrote:
            network.pump.kick()
        return Response(BatchAcceptance(results=results), status_code=200)


class FaultsController(Controller):
    """Scripted failures of this reference network (to exercise the Business side's retries)."""

    path = "/faults"

    @post("/", status_code=200)
    async def set_faults(self, request: Request[Any, Any, Any], data: Faults) -> Faults:
        network: ConnectNetwork = request.app.state.connect
        if data.fail_next_messages < 0 or not 500 <= data.status <= 599:
            raise ValidationFailed({"faults": ["fail_next_messages >= 0 and a 5xx status, please."]})
        network.fail_next_messages = data.fail_next_messages
        network.fail_status = data.status
        return Faults(fail_next_messages=network.fail_next_messages, status=network.fail_status)
