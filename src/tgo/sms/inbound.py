"""Mobile-originated SMS (issue 18): a ``deliver_sm`` that is not a receipt (its parts joined by the channel)
is stored for every tenant whose active number sender it was written to, with the ``sms_message.received``
event; STOP/START on it put the phone on or off the tenant's SMS suppression list. Lists of received SMS."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.channels.sms_encoding import analyze
from tgo.channels.sms_types import InboundSms
from tgo.errors import ValidationFailed
from tgo.events import EventType
from tgo.kit.clock import now
from tgo.kit.pagination import check_limit, decode_cursor, encode_cursor
from tgo.models import SmsInboundMessage
from tgo.optouts import service as optouts
from tgo.optouts.keywords import Keyword, classify
from tgo.runtime import Runtime
from tgo.sms.inbound_repository import SmsInboundRepository, SmsInboundRouting
from tgo.sms.schemas import SmsInboundOut, as_event, iso

log = structlog.get_logger("tgo.sms.inbound")
MAX_BODY = 10_000  # a joined message longer than this is cut (an SMSC will not send 60+ parts)


def inbound_view(row: SmsInboundMessage) -> SmsInboundOut:
    """A received SMS in the shape of the SMS API's messages (``direction: inbound``, ``fromPhone``)."""
    at = iso(row.received_at) or ""
    return SmsInboundOut(
        id=str(row.id),
        sender_id=str(row.sender_id),
        to=row.to,
        body=row.body,
        message_type="inbound",
        status="received",
        encoding=row.encoding,
        segments=row.segments,
        characters=row.characters,
        error_code=None,
        error_message=None,
        sent_at=None,
        done_at=at,
        created_at=at,
        updated_at=at,
        direction="inbound",
        from_phone=row.from_phone,
    )


async def apply_inbound(runtime: Runtime, sms: InboundSms) -> bool:
    """Store one mobile-originated SMS; True once stored (or when no tenant has that number active: there
    is nothing to store and the SMSC must not deliver it again)."""
    body = sms.body[:MAX_BODY]
    keyword = classify(body)
    async with runtime.db.session_scope() as session:
        senders = await SmsInboundRouting(session).active_senders_for(sms.destination)
        if not senders:
            log.warning("sms_inbound_for_no_active_sender", destination=sms.destination)
            return True
        info = analyze(body)
        for sender in senders:
            row = await SmsInboundRepository(session, sender.tenant_id).add(
                SmsInboundMessage(
                    sender_id=sender.id,
                    from_phone=sms.source[:20],
                    to=sender.sender_id,
                    body=body,
                    encoding=info.encoding.value,
                    segments=info.segments,
                    characters=info.characters,
                    received_at=now(),
                )
            )
            await events.emit(
                session, sender.tenant_id, EventType.SMS_MESSAGE_RECEIVED, as_event(inbound_view(row))
            )
            if keyword is Keyword.STOP:
                await optouts.opt_out(session, sender.tenant_id, sms.source, channel="sms", source="keyword")
            elif keyword is Keyword.START:
                await optouts.opt_in(session, sender.tenant_id, sms.source, channel="sms", source="keyword")
    return True


def _cursor(raw: str | None) -> tuple[datetime, uuid.UUID] | None:
    data = decode_cursor(raw, "c", "i")
    if data is None:
        return None
    try:
        at = datetime.fromisoformat(str(data["c"]))
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, uuid.UUID(str(data["i"]))
    except ValueError as exc:
        raise ValidationFailed({"cursor": ["This cursor is not valid."]}) from exc


async def list_inbound(
    session: AsyncSession, tenant_id: int, *, limit: int | None, cursor: str | None, sender_id: str | None
) -> tuple[list[SmsInboundMessage], str | None]:
    """Received SMS, newest first."""
    size = check_limit(limit)
    sender_uuid = None
    if sender_id is not None:
        try:
            sender_uuid = uuid.UUID(sender_id)
        except ValueError:
            raise ValidationFailed({"senderId": ["Must be a sender id (UUID)."]}) from None
    rows = await SmsInboundRepository(session, tenant_id).page(size + 1, _cursor(cursor), sender_uuid)
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor(c=last.received_at.isoformat(), i=str(last.id))
    return rows[:size], next_cursor
