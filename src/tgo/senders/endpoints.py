from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.errors import NotFound
from tgo.openapi import error_responses
from tgo.otp import service as otp_service
from tgo.runtime import Runtime
from tgo.senders import service
from tgo.senders.schemas import (
    OtpSubmit,
    SenderNumberCreate,
    SenderNumberList,
    SenderNumberView,
    sender_number_view,
)
from tgo.senders.state import SenderStatus

SEND = {"scope": Scope.MESSAGES_SEND}
READ = {"scope": Scope.MESSAGES_READ}


class SenderNumberController(Controller):
    path = "/sender-numbers"
    tags = ["Sender numbers"]

    @post(
        "/",
        opt=SEND,
        status_code=HTTP_201_CREATED,
        operation_id="registerSenderNumber",
        # It issues the first OTP: the OTP module's errors (its limits) are this operation's too.
        responses=error_responses(
            service.SenderNumberExists, service.ConnectAccountNotFound, otp_service, body=True
        ),
        summary="Register a sender number (sends an OTP in Connect)",
    )
    async def register(
        self, data: SenderNumberCreate, auth: AuthContext, db_session: AsyncSession, runtime: Runtime
    ) -> Response[SenderNumberView]:
        number = await service.register(
            db_session,
            runtime,
            auth.tenant_id,
            auth.tenant_name,
            phone=data.phone,
            display_name=data.display_name,
        )
        return Response(
            sender_number_view(number),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/sender-numbers/{number.id}"},
        )

    @get(
        "/",
        opt=READ,
        operation_id="listSenderNumbers",
        responses=error_responses(),
        summary="List sender numbers",
    )
    async def list_numbers(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: Annotated[int | None, Parameter(ge=1, le=200)] = None,
        cursor: str | None = None,
        status: SenderStatus | None = None,
    ) -> SenderNumberList:
        rows, next_cursor = await service.list_numbers(
            db_session, auth.tenant_id, limit=limit, cursor=cursor, status=status
        )
        return SenderNumberList(data=[sender_number_view(n) for n in rows], next_cursor=next_cursor)

    @get(
        "/{number_id:int}",
        opt=READ,
        operation_id="getSenderNumber",
        responses=error_responses(NotFound, service.SenderNumberNotFound),
        summary="Get a sender number",
    )
    async def get_number(
        self, number_id: int, auth: AuthContext, db_session: AsyncSession
    ) -> SenderNumberView:
        return sender_number_view(await service.get(db_session, auth.tenant_id, number_id))

    @post(
        "/{number_id:int}/verify",
        opt=SEND,
        status_code=200,
        operation_id="verifySenderNumber",
        responses=error_responses(
            NotFound, service.SenderNumberNotFound, service.SenderNotPending, otp_service, body=True
        ),
        summary="Confirm ownership with the OTP",
    )
    async def verify(
        self, number_id: int, data: OtpSubmit, auth: AuthContext, db_session: AsyncSession, runtime: Runtime
    ) -> SenderNumberView:
        number = await service.verify_otp(
            db_session, runtime, auth.tenant_id, auth.tenant_name, number_id, data.otp
        )
        return sender_number_view(number)

    @post(
        "/{number_id:int}/resend-otp",
        opt=SEND,
        status_code=200,
        operation_id="resendSenderNumberOtp",
        responses=error_responses(
            NotFound,
            service.SenderNumberNotFound,
            service.SenderNotPending,
            service.ConnectAccountNotFound,
            otp_service,
        ),
        summary="Send a new OTP",
    )
    async def resend(
        self, number_id: int, auth: AuthContext, db_session: AsyncSession, runtime: Runtime
    ) -> SenderNumberView:
        number = await service.resend_otp(db_session, runtime, auth.tenant_id, auth.tenant_name, number_id)
        return sender_number_view(number)

    @delete(
        "/{number_id:int}",
        opt=SEND,
        status_code=HTTP_204_NO_CONTENT,
        operation_id="deleteSenderNumber",
        responses=error_responses(NotFound, service.SenderNumberNotFound),
        summary="Remove a sender number",
    )
    async def remove(self, number_id: int, auth: AuthContext, db_session: AsyncSession) -> None:
        await service.delete(db_session, auth.tenant_id, number_id)
