"""Contact reachability (SPEC section 6): from the reachability directory, live from TGO Connect for a phone
it cannot answer for."""

from __future__ import annotations

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import ConnectError, Lookup, ReasonCode
from tgo.errors import ServiceUnavailable, ValidationFailed
from tgo.kit.phones import normalize_phone, parse_e164
from tgo.messages.service import SenderNotFound
from tgo.optouts import service as optouts
from tgo.reachability.lookup import recipient_lookup
from tgo.runtime import Runtime
from tgo.senders.repository import SenderNumberRepository


async def lookup(runtime: Runtime, tenant_id: int, phone: str, sender_phone: str | None) -> Lookup:
    """``exists``/``can_receive``/``reason_code`` for ``phone``; ``blocked_sender`` needs ``sender_phone``,
    which must be one of the tenant's own sender numbers (else ``sender_not_found``, as for an unknown one:
    whether a recipient blocked another tenant's number is not this tenant's business)."""
    errors: dict[str, list[str]] = {}
    # A '+' in a query string arrives as a space when the client did not encode it (as in the seed's curl).
    phone = phone.strip()
    if phone and phone[0].isdigit():
        phone = "+" + phone
    if parse_e164(phone) is None:
        errors["phone"] = ["Must be a valid phone number in E.164 format."]
    if sender_phone is not None:
        sender_phone = sender_phone.strip()
        if sender_phone and sender_phone[0].isdigit():
            sender_phone = "+" + sender_phone
        if parse_e164(sender_phone) is None:
            errors["sender_phone"] = ["Must be a valid phone number in E.164 format."]
    if errors:
        raise ValidationFailed(errors)
    sender_e164 = normalize_phone(sender_phone, "sender_phone") if sender_phone else None
    if sender_e164 is not None:
        # One read, no transaction (no SQLite write lock held while Connect is asked).
        async with runtime.db.read_scope() as conn, AsyncSession(bind=conn) as session:
            if not await SenderNumberRepository(session, tenant_id).proven_phone(sender_e164):
                raise SenderNotFound()
    e164 = normalize_phone(phone)
    async with runtime.db.read_scope() as conn, AsyncSession(bind=conn) as session:
        opted_out = await optouts.is_opted_out(session, tenant_id, e164)
    try:
        found = await recipient_lookup(runtime, e164, sender_e164)
    except ConnectError as exc:
        raise ServiceUnavailable("connect_unavailable", headers={"Retry-After": "5"}) from exc
    if opted_out:  # the contact sent STOP to this tenant (issue 18): it may not be messaged
        return msgspec.structs.replace(found, can_receive=False, reason_code=ReasonCode.OPTED_OUT)
    return found
