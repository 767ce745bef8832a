from __future__ import annotations

from datetime import datetime

from litestar import Controller, get

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.contacts.service import lookup
from tgo.kit.schemas import Schema
from tgo.openapi import error_responses
from tgo.runtime import Runtime


class ContactLookup(Schema):
    exists: bool
    can_receive: bool
    reason_code: str
    recipient_id: int | None
    is_verified: bool
    phone_verified_at: datetime | None


class ContactController(Controller):
    path = "/contacts"
    tags = ["Contacts"]

    @get(
        "/lookup",
        opt={"scope": Scope.CONTACTS_LOOKUP},
        operation_id="lookupContact",
        responses=error_responses(),
        summary="Can this phone receive messages?",
    )
    async def lookup(
        self, phone: str, auth: AuthContext, runtime: Runtime, sender_phone: str | None = None
    ) -> ContactLookup:
        result = await lookup(runtime, auth.tenant_id, phone, sender_phone)
        return ContactLookup(
            exists=result.exists,
            can_receive=result.can_receive,
            reason_code=str(result.reason_code),
            recipient_id=result.recipient_id,
            is_verified=result.is_verified,
            phone_verified_at=result.phone_verified_at,
        )
