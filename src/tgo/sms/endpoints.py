"""The SMS API (``/v1/sms``, seed 004): thin controllers; the rules live in ``tgo.sms.service``."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.errors import ValidationFailed
from tgo.kit.pagination import LIMIT_RANGE
from tgo.openapi import error_responses
from tgo.runtime import Runtime
from tgo.sms import errors as sms_errors
from tgo.sms import inbound, service
from tgo.sms.jobs import publish_verification_after_commit
from tgo.sms.schemas import (
    SmsMessageCreate,
    SmsMessageList,
    SmsMessageOut,
    SmsSenderCreate,
    SmsSenderList,
    SmsSenderOut,
    SmsSenderUpdate,
)
from tgo.sms.state import MessageStatus

Limit = Parameter(
    query="limit", required=False, description="Page size, 1-200 (default 50).", schema_extra=LIMIT_RANGE
)
Cursor = Parameter(query="cursor", required=False, description="The nextCursor of the previous page.")


class SmsSenderController(Controller):
    path = "/senders"
    tags = ["SMS senders"]

    @post(
        "/",
        opt={"scope": Scope.SMS_SENDERS},
        operation_id="createSmsSender",
        responses=error_responses(sms_errors.SmsSenderExists, body=True),
        summary="Add a sender identity",
    )
    async def create(
        self, auth: AuthContext, db_session: AsyncSession, data: SmsSenderCreate
    ) -> SmsSenderOut:
        return SmsSenderOut.of(await service.create_sender(db_session, auth.tenant_id, data))

    @get(
        "/",
        opt={"scope": Scope.SMS_SENDERS},
        operation_id="listSmsSenders",
        responses=error_responses(),
        summary="List sender identities (newest first)",
    )
    async def list(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: int | None = Limit,
        cursor: str | None = Cursor,
    ) -> SmsSenderList:
        rows, next_cursor = await service.list_senders(db_session, auth.tenant_id, limit=limit, cursor=cursor)
        return SmsSenderList(data=[SmsSenderOut.of(r) for r in rows], next_cursor=next_cursor)

    @get(
        "/{sender_id:str}",
        opt={"scope": Scope.SMS_SENDERS},
        operation_id="getSmsSender",
        responses=error_responses(sms_errors.SmsSenderNotFound),
        summary="Get a sender identity",
    )
    async def get(self, auth: AuthContext, db_session: AsyncSession, sender_id: str) -> SmsSenderOut:
        return SmsSenderOut.of(await service.get_sender(db_session, auth.tenant_id, sender_id))

    @patch(
        "/{sender_id:str}",
        opt={"scope": Scope.SMS_SENDERS},
        operation_id="updateSmsSender",
        responses=error_responses(sms_errors.SmsSenderNotFound, body=True),
        summary="Update name / defaultMessageType",
    )
    async def update(
        self, auth: AuthContext, db_session: AsyncSession, sender_id: str, data: SmsSenderUpdate
    ) -> SmsSenderOut:
        return SmsSenderOut.of(await service.update_sender(db_session, auth.tenant_id, sender_id, data))

    @delete(
        "/{sender_id:str}",
        opt={"scope": Scope.SMS_SENDERS},
        status_code=HTTP_204_NO_CONTENT,
        operation_id="deleteSmsSender",
        responses=error_responses(sms_errors.SmsSenderNotFound, sms_errors.SmsSenderInUse),
        summary="Delete a sender identity (409 once it has sent a message)",
    )
    async def remove(self, auth: AuthContext, db_session: AsyncSession, sender_id: str) -> None:
        await service.delete_sender(db_session, auth.tenant_id, sender_id)

    @post(
        "/{sender_id:str}/verify",
        opt={"scope": Scope.SMS_SENDERS},
        status_code=HTTP_200_OK,
        operation_id="verifySmsSender",
        responses=error_responses(
            sms_errors.SmsSenderNotFound, sms_errors.SmsSenderNotVerifiable, sms_errors.InvalidTransition
        ),
        summary="Start or restart verification (from not_started, failed or rejected)",
    )
    async def verify(
        self, auth: AuthContext, db_session: AsyncSession, runtime: Runtime, sender_id: str
    ) -> SmsSenderOut:
        sender = await service.start_verification(
            db_session,
            auth.tenant_id,
            sender_id,
            delay_seconds=runtime.settings.sms_verification_delay_seconds,
        )
        publish_verification_after_commit(db_session, runtime, sender)
        return SmsSenderOut.of(sender)


class SmsMessageController(Controller):
    path = "/messages"
    tags = ["SMS messages"]

    @post(
        "/",
        opt={"scope": Scope.SMS_SEND},
        operation_id="sendSms",
        responses=error_responses(
            sms_errors.SmsSenderNotActive,
            sms_errors.SmsSenderTransactionalOnly,
            sms_errors.SmsRecipientNotAllowed,
            body=True,
        ),
        summary="Send an SMS (queued; delivered over SMPP)",
    )
    async def create(self, auth: AuthContext, runtime: Runtime, data: SmsMessageCreate) -> SmsMessageOut:
        # Written with the SMS that arrive with it (group commit), answered once that batch committed.
        return SmsMessageOut.of(await service.accept_message(runtime, auth.tenant_id, data))

    @get(
        "/",
        opt={"scope": Scope.SMS_READ},
        operation_id="listSmsMessages",
        responses=error_responses(),
        summary="List SMS messages (newest first)",
    )
    async def list(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: int | None = Limit,
        cursor: str | None = Cursor,
        status: str | None = Parameter(
            query="status", required=False, schema_extra={"enum": [*MessageStatus]}
        ),
        sender_id: str | None = Parameter(query="senderId", required=False, schema_extra={"format": "uuid"}),
        direction: str | None = Parameter(
            query="direction", required=False, schema_extra={"enum": ["outbound", "inbound"]}
        ),
    ) -> SmsMessageList:
        if direction not in (None, "outbound", "inbound"):
            raise ValidationFailed({"direction": ["Must be one of: outbound, inbound."]})
        if direction == "inbound":  # received SMS (issue 18)
            received, next_page = await inbound.list_inbound(
                db_session, auth.tenant_id, limit=limit, cursor=cursor, sender_id=sender_id
            )
            return SmsMessageList(data=[inbound.inbound_view(r) for r in received], next_cursor=next_page)
        rows, next_cursor = await service.list_messages(
            db_session, auth.tenant_id, limit=limit, cursor=cursor, status=status, sender_id=sender_id
        )
        return SmsMessageList(data=[SmsMessageOut.of(r) for r in rows], next_cursor=next_cursor)

    @get(
        "/{message_id:str}",
        opt={"scope": Scope.SMS_READ},
        operation_id="getSmsMessage",
        responses=error_responses(sms_errors.SmsMessageNotFound),
        summary="Get an SMS message",
    )
    async def get(self, auth: AuthContext, db_session: AsyncSession, message_id: str) -> SmsMessageOut:
        return SmsMessageOut.of(await service.get_message(db_session, auth.tenant_id, message_id))


SMS_CONTROLLERS = [SmsSenderController, SmsMessageController]
