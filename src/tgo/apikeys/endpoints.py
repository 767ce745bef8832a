from __future__ import annotations

from litestar import Controller, get

from tgo.auth.context import AuthContext
from tgo.kit.schemas import Schema
from tgo.openapi import error_responses


class TenantInfo(Schema):
    id: int
    slug: str
    name: str
    domain: str


class Me(Schema):
    tenant: TenantInfo
    api_key_id: int | None
    scopes: list[str]


class MeController(Controller):
    path = "/me"
    tags = ["Account"]

    @get(
        "/", operation_id="getMe", responses=error_responses(), summary="The calling key's tenant and scopes"
    )
    async def me(self, auth: AuthContext) -> Me:
        return Me(
            tenant=TenantInfo(
                id=auth.tenant_id, slug=auth.tenant_slug, name=auth.tenant_name, domain=auth.tenant_domain
            ),
            api_key_id=auth.api_key_id,
            scopes=sorted(auth.scopes),
        )
