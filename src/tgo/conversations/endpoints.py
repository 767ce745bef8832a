"""``/api/v1/conversations`` (issue 18): conversations newest activity first, one conversation, its messages
in both directions, and marking it read. Scope ``messages.read``."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.conversations import service
from tgo.conversations.schemas import (
    ConversationList,
    ConversationMessages,
    ConversationView,
    conversation_view,
)
from tgo.kit.pagination import MAX_ID
from tgo.messages.schemas import message_view
from tgo.openapi import error_responses


class ConversationController(Controller):
    path = "/conversations"
    tags = ["Conversations"]

    @get(
        "/",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="listConversations",
        responses=error_responses(),
        summary="Conversations, newest activity first",
    )
    async def list_conversations(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: Annotated[int | None, Parameter(ge=1, le=200)] = None,
        cursor: str | None = None,
        sender_number_id: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        unread: bool | None = None,
        contact_phone: str | None = None,
    ) -> ConversationList:
        rows, next_cursor = await service.list_conversations(
            db_session,
            auth.tenant_id,
            limit=limit,
            cursor=cursor,
            sender_number_id=sender_number_id,
            unread=unread,
            contact_phone=contact_phone,
        )
        return ConversationList(
            data=[conversation_view(row, opted_out=opted) for row, opted in rows], next_cursor=next_cursor
        )

    @get(
        "/{conversation_id:int}",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="getConversation",
        responses=error_responses(service.ConversationNotFound),
        summary="One conversation",
    )
    async def get_conversation(
        self, conversation_id: int, auth: AuthContext, db_session: AsyncSession
    ) -> ConversationView:
        row, opted = await service.get_conversation(db_session, auth.tenant_id, conversation_id)
        return conversation_view(row, opted_out=opted)

    @get(
        "/{conversation_id:int}/messages",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="listConversationMessages",
        responses=error_responses(service.ConversationNotFound),
        summary="A conversation's messages, both directions, newest first",
    )
    async def conversation_messages(
        self,
        conversation_id: int,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: Annotated[int | None, Parameter(ge=1, le=200)] = None,
        cursor: str | None = None,
    ) -> ConversationMessages:
        rows, next_cursor = await service.conversation_messages(
            db_session, auth.tenant_id, conversation_id, limit=limit, cursor=cursor
        )
        return ConversationMessages(
            data=[message_view(m, media) for m, media in rows], next_cursor=next_cursor
        )

    @post(
        "/{conversation_id:int}/read",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="markConversationRead",
        responses=error_responses(service.ConversationNotFound),
        summary="Mark a conversation read (its unread count becomes 0)",
        status_code=204,
    )
    async def mark_read(self, conversation_id: int, auth: AuthContext, db_session: AsyncSession) -> None:
        await service.mark_read(db_session, auth.tenant_id, conversation_id)
