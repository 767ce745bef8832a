"""Contact reachability through TGO Connect (SPEC section 6)."""

from __future__ import annotations

from tgo.channels.connect_types import ConnectError, Lookup
from tgo.errors import ServiceUnavailable, ValidationFailed
from tgo.kit.phones import normalize_phone, parse_e164
from tgo.runtime import Runtime


async def lookup(runtime: Runtime, phone: str, sender_phone: str | None) -> Lookup:
    """``exists``/``can_receive``/``reason_code`` for ``phone`` (``blocked_sender`` needs ``sender_phone``)."""
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
    from tgo.channels.connect import get_connect_client

    try:
        return await get_connect_client(runtime).lookup(
            normalize_phone(phone), normalize_phone(sender_phone, "sender_phone") if sender_phone else None
        )
    except ConnectError as exc:
        raise ServiceUnavailable("connect_unavailable", headers={"Retry-After": "5"}) from exc
