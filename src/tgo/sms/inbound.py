"""Mobile-originated SMS (issue 18): a ``deliver_sm`` that is not a receipt (its parts joined by the channel)
is stored for every tenant whose active number sender it was written to, with the ``sms_message.received``
event; STOP/START on it put the phone on or off the tenant's SMS suppression list, and STOP/START/HELP are
answered by SMS from the number written to (``optouts.keyword_reply``: the contact's language, the tenant's
setting). Lists of received SMS.

An SMSC delivers an MO again when it did not get our ``deliver_sm_resp`` (lost with a dropped bind). SMPP 3.4
gives an MO no message id of its own (``receipted_message_id`` is for receipts; vendors' TLVs differ) and the
redelivery comes with a new sequence number, so the stable key is what the handset sent: (handset, number,
text). The same key again within ``DUPLICATE_WINDOW`` is acknowledged and not stored twice — a handset
sending the very same text twice that quickly is counted once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.channels.sms_encoding import analyze
from tgo.channels.sms_types import InboundSms
from tgo.db import after_commit
from tgo.errors import ValidationFailed
from tgo.events import EventType
from tgo.kit.clock import now
from tgo.kit.pagination import check_limit, decode_cursor, encode_cursor
from tgo.models import SmsInboundMessage, SmsSender, Tenant
from tgo.optouts import service as optouts
from tgo.optouts.keywords import Keyword, classify
from tgo.runtime import Runtime
from tgo.sms.inbound_repository import SmsInboundRepository, SmsInboundRouting
from tgo.sms.schemas import SmsInboundOut, as_event, iso
from tgo.sms.service import queue_reply

log = structlog.get_logger("tgo.sms.inbound")
MAX_BODY = 10_000  # a joined message longer than this is cut (an SMSC will not send 60+ parts)
# An SMSC redelivers an unacknowledged MO within seconds to minutes: the same SMS again within this is one.
DUPLICATE_WINDOW = timedelta(minutes=10)


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
    """Store one mobile-originated SMS; True once stored (or already stored: a redelivery; or when no
    tenant has that number active: there is nothing to store and the SMSC must not deliver it again)."""
    body = sms.body[:MAX_BODY]
    from_phone = sms.source[:20]
    keyword = classify(body)
    replies: list[uuid.UUID] = []
    async with runtime.db.session_scope() as session:
        routing = SmsInboundRouting(session)
        senders = await routing.active_senders_for(sms.destination)
        if not senders:
            log.warning("sms_inbound_for_no_active_sender", destination=sms.destination)
            return True
        await routing.lock_handset(from_phone, sms.destination)
        at = now()
        info = analyze(body)
        for sender in senders:
            repo = SmsInboundRepository(session, sender.tenant_id)
            if await repo.received_since(sender.id, from_phone, body, at - DUPLICATE_WINDOW):
                log.info("sms_inbound_duplicate", destination=sms.destination)
                continue
            row = await repo.add(
                SmsInboundMessage(
                    sender_id=sender.id,
                    from_phone=from_phone,
                    to=sender.sender_id,
                    body=body,
                    encoding=info.encoding.value,
                    segments=info.segments,
                    characters=info.characters,
                    received_at=at,
                )
            )
            await events.emit(
                session, sender.tenant_id, EventType.SMS_MESSAGE_RECEIVED, as_event(inbound_view(row))
            )
            if keyword is not None:
                reply = await _apply_keyword(session, sender, sms.source, keyword, body)
                if reply is not None:
                    replies.append(reply)
        if replies:
            from tgo.sms.jobs import publish_delivery  # the jobs module calls this one

            async def publish() -> None:
                for message_id in replies:
                    await publish_delivery(runtime, message_id)

            after_commit(session, publish)
    return True


async def _apply_keyword(
    session: AsyncSession, sender: SmsSender, phone: str, keyword: Keyword, body: str
) -> uuid.UUID | None:
    """STOP/START on the tenant's SMS list, then the keyword's confirmation queued as an SMS from the number
    written to (None when the tenant turned confirmations off)."""
    if keyword is Keyword.STOP:
        await optouts.opt_out(session, sender.tenant_id, phone, channel="sms", source="keyword")
    elif keyword is Keyword.START:
        await optouts.opt_in(session, sender.tenant_id, phone, channel="sms", source="keyword")
    tenant = await session.get(Tenant, sender.tenant_id)
    organization = tenant.name if tenant is not None and tenant.name else sender.name
    text = await optouts.keyword_reply(session, sender.tenant_id, keyword, language_of(body), organization)
    if text is None:
        return None
    return (await queue_reply(session, sender, phone, text)).id


def language_of(text: str) -> str:
    """The contact's language as an SMS shows it (an SMSC says nothing of the handset's): Arabic when the
    text is written in Arabic script, else English."""
    return "ar" if any("\u0600" <= ch <= "\u06ff" for ch in text) else "en"


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
