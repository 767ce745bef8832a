"""``/api/v1/opt-outs``: the tenant's suppression list (list, add with a source, remove) and its opt-out
settings (confirmation replies on or off, the HELP text)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.errors import ValidationFailed
from tgo.openapi import documented_operation, error_responses
from tgo.optouts import service
from tgo.optouts.openapi import ADD_BODY, SETTINGS_BODY
from tgo.optouts.schemas import OptOutList, OptOutSettingsView, OptOutView, opt_out_view


async def _object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    data = await request.json()  # decoded by tgo.request_body (400 invalid_json)
    if not isinstance(data, dict):
        raise ValidationFailed({"body": ["Must be a JSON object."]})
    return data


class OptOutController(Controller):
    path = "/opt-outs"
    tags = ["Opt-outs"]

    @get(
        "/",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="listOptOuts",
        responses=error_responses(service),
        summary="The suppression list, newest first",
    )
    async def list_opt_outs(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        limit: Annotated[int | None, Parameter(ge=1, le=200)] = None,
        cursor: str | None = None,
        channel: Annotated[str | None, Parameter(pattern="^(connect|sms)$")] = None,
        phone: str | None = None,
    ) -> OptOutList:
        rows, next_cursor = await service.list_entries(
            db_session, auth.tenant_id, limit=limit, cursor=cursor, channel=channel, phone=phone
        )
        return OptOutList(data=[opt_out_view(r) for r in rows], next_cursor=next_cursor)

    @post(
        "/",
        opt={"scope": Scope.MESSAGES_SEND},
        operation_id="addOptOut",
        operation_class=documented_operation(body=ADD_BODY),
        responses={
            HTTP_200_OK: ResponseSpec(
                OptOutView, description="The phone was on the list already.", generate_examples=False
            ),
            **error_responses(service, body=True),
        },
        summary="Put a phone on the suppression list (201; 200 when it already was)",
    )
    async def add_opt_out(
        self, request: Request[Any, Any, Any], auth: AuthContext, db_session: AsyncSession
    ) -> Response[OptOutView]:
        row, added = await service.add_entry(db_session, auth.tenant_id, await _object(request))
        return Response(opt_out_view(row), status_code=201 if added else 200)

    @delete(
        "/{phone:str}",
        opt={"scope": Scope.MESSAGES_SEND},
        operation_id="removeOptOut",
        responses=error_responses(service),
        summary="Take a phone off the suppression list",
        status_code=204,
    )
    async def remove_opt_out(
        self,
        phone: str,
        auth: AuthContext,
        db_session: AsyncSession,
        channel: Annotated[str | None, Parameter(pattern="^(connect|sms)$")] = None,
    ) -> None:
        await service.remove_entry(db_session, auth.tenant_id, phone, channel)

    @get(
        "/settings",
        opt={"scope": Scope.MESSAGES_READ},
        operation_id="getOptOutSettings",
        responses=error_responses(),
        summary="Opt-out confirmation replies and the HELP text",
    )
    async def get_settings(self, auth: AuthContext, db_session: AsyncSession) -> OptOutSettingsView:
        found = await service.get_settings(db_session, auth.tenant_id)
        return OptOutSettingsView(confirmations=found.confirmations, help_text=found.help_text)

    @put(
        "/settings",
        opt={"scope": Scope.MESSAGES_SEND},
        operation_id="updateOptOutSettings",
        operation_class=documented_operation(body=SETTINGS_BODY),
        responses=error_responses(service, body=True),
        summary="Turn confirmation replies on or off; set the HELP text (null: the default)",
    )
    async def update_settings(
        self, request: Request[Any, Any, Any], auth: AuthContext, db_session: AsyncSession
    ) -> OptOutSettingsView:
        found = await service.update_settings(db_session, auth.tenant_id, await _object(request))
        return OptOutSettingsView(confirmations=found.confirmations, help_text=found.help_text)
