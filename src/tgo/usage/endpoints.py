from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.kit.pagination import MAX_ID
from tgo.openapi import error_responses
from tgo.usage.schemas import UsageReport
from tgo.usage.service import usage


class UsageController(Controller):
    path = "/usage"
    tags = ["Usage"]

    @get(
        "/",
        opt={"scope": Scope.USAGE_READ},
        operation_id="getUsage",
        responses=error_responses(),
        summary="Messages per sender number, by type and status",
    )
    async def get_usage(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        since: Annotated[date | None, Parameter(description="First day (UTC), inclusive")] = None,
        until: Annotated[date | None, Parameter(description="Last day (UTC), inclusive")] = None,
        sender_number_id: Annotated[int | None, Parameter(ge=1, le=MAX_ID)] = None,
        granularity: Annotated[str | None, Parameter(pattern="^(total|day)$")] = None,
    ) -> UsageReport:
        report = await usage(
            db_session,
            auth.tenant_id,
            since=since,
            until=until,
            sender_number_id=sender_number_id,
            per_day=granularity == "day",
        )
        return msgspec.convert(report, UsageReport)
