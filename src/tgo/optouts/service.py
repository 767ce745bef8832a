"""The suppression list (issue 18): a tenant's opted-out phones per channel (``connect``, ``sms``), the
refusal at send and at delivery, the list's API and the tenant's opt-out settings. Never commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.errors import NotFound, Unprocessable, ValidationFailed
from tgo.events import EventType
from tgo.i18n import translate
from tgo.kit.clock import now
from tgo.kit.pagination import check_limit, cursor_id, decode_cursor, encode_cursor
from tgo.kit.phones import normalize_phone, parse_e164
from tgo.models import OptOut, OptOutSettings
from tgo.optouts.cache import publish_opt_out_change
from tgo.optouts.keywords import Keyword
from tgo.optouts.repository import OptOutRepository
from tgo.runtime import runtime_of

CHANNELS = ("connect", "sms")
MAX_SOURCE = 40
MAX_HELP_TEXT = 1000


class RecipientOptedOut(Unprocessable):
    code = "recipient_opted_out"
    message_key = "optouts.recipient_opted_out"


class SmsRecipientOptedOut(Unprocessable):
    code = "sms_recipient_opted_out"
    message_key = "optouts.sms_recipient_opted_out"


class OptOutNotFound(NotFound):
    code = "opt_out_not_found"
    message_key = "optouts.not_found"


@dataclass(frozen=True)
class Settings:
    confirmations: bool
    help_text: str | None


def _event_data(channel: str, phone: str, source: str) -> dict[str, Any]:
    return {
        "phone": phone,
        "channel": channel,
        "source": source,
        "at": now().isoformat().replace("+00:00", "Z"),
    }


def _phone(value: object, field: str = "phone") -> str:
    if not isinstance(value, str) or parse_e164(value.strip()) is None:
        raise ValidationFailed({field: ["Must be a valid phone number in E.164 format."]})
    return normalize_phone(value.strip(), field)


def _channel(value: object) -> str:
    if value is None:
        return "connect"
    if value not in CHANNELS:
        raise ValidationFailed({"channel": [f"Must be one of: {', '.join(CHANNELS)}."]})
    return str(value)


async def is_opted_out(session: AsyncSession, tenant_id: int, phone: str, channel: str = "connect") -> bool:
    """Whether ``phone`` is on the tenant's list for ``channel`` — from the runtime's cache (kept current by
    change notices) when the session has a runtime."""
    runtime = runtime_of(session)
    if runtime is None:
        return await OptOutRepository(session, tenant_id).is_opted_out(channel, phone)
    return await runtime.optout_cache.get().is_opted_out(session, tenant_id, channel, phone)


async def opted_out_among(
    session: AsyncSession, tenant_id: int, phones: Iterable[str], channel: str = "connect"
) -> set[str]:
    """Which of ``phones`` are on the tenant's list for ``channel`` (one read for those the cache lacks)."""
    asked = list(dict.fromkeys(phones))
    if not asked:
        return set()
    runtime = runtime_of(session)
    if runtime is None:
        return await OptOutRepository(session, tenant_id).opted_out_among(channel, asked)
    return await runtime.optout_cache.get().opted_out_among(session, tenant_id, channel, asked)


async def opted_out_at(
    session: AsyncSession, tenant_id: int, phone: str, channel: str = "connect"
) -> datetime | None:
    """When ``phone`` went on the tenant's list for ``channel`` (None: it is not on it)."""
    row = await OptOutRepository(session, tenant_id).get(channel, phone)
    return row.created_at if row is not None else None


async def refuse_if_opted_out(
    session: AsyncSession, tenant_id: int, phone: str, channel: str = "connect"
) -> None:
    """The send-time check: 422 ``recipient_opted_out`` (``sms_recipient_opted_out``) for a listed phone."""
    if await is_opted_out(session, tenant_id, phone, channel):
        raise RecipientOptedOut() if channel == "connect" else SmsRecipientOptedOut()


async def opt_out(session: AsyncSession, tenant_id: int, phone: str, *, channel: str, source: str) -> bool:
    """Put ``phone`` on the list; True (and ``contact.opted_out``) when it was not on it."""
    added = await OptOutRepository(session, tenant_id).add(channel, phone, source, now())
    if added:
        await publish_opt_out_change(session, tenant_id)
        await events.emit(
            session, tenant_id, EventType.CONTACT_OPTED_OUT, _event_data(channel, phone, source)
        )
    return added


async def opt_in(session: AsyncSession, tenant_id: int, phone: str, *, channel: str, source: str) -> bool:
    """Take ``phone`` off the list; True (and ``contact.opted_in``) when it was on it."""
    removed = await OptOutRepository(session, tenant_id).remove(channel, phone)
    if removed:
        await publish_opt_out_change(session, tenant_id)
        await events.emit(session, tenant_id, EventType.CONTACT_OPTED_IN, _event_data(channel, phone, source))
    return removed


async def add_entry(session: AsyncSession, tenant_id: int, data: dict[str, Any]) -> tuple[OptOut, bool]:
    """``POST /api/v1/opt-outs``: {phone, channel?, source?}; the entry and whether it is new."""
    errors: dict[str, list[str]] = {}
    raw_phone, raw_channel, raw_source = data.get("phone"), data.get("channel"), data.get("source", "api")
    if not isinstance(raw_phone, str) or parse_e164(raw_phone.strip()) is None:
        errors["phone"] = ["Must be a valid phone number in E.164 format."]
    if raw_channel is not None and raw_channel not in CHANNELS:
        errors["channel"] = [f"Must be one of: {', '.join(CHANNELS)}."]
    if not isinstance(raw_source, str) or not raw_source.strip() or len(raw_source.strip()) > MAX_SOURCE:
        errors["source"] = [f"Text of 1 to {MAX_SOURCE} characters."]
    if errors:
        raise ValidationFailed(errors)
    phone, channel, source = _phone(raw_phone), _channel(raw_channel), str(raw_source).strip()
    added = await opt_out(session, tenant_id, phone, channel=channel, source=source)
    row = await OptOutRepository(session, tenant_id).get(channel, phone)
    assert row is not None
    return row, added


async def remove_entry(session: AsyncSession, tenant_id: int, phone: str, channel: str | None) -> None:
    """``DELETE /api/v1/opt-outs/{phone}``: 404 when the phone is not on that channel's list."""
    e164 = _phone(phone)
    if not await opt_in(session, tenant_id, e164, channel=_channel(channel), source="api"):
        raise OptOutNotFound()


async def list_entries(
    session: AsyncSession,
    tenant_id: int,
    *,
    limit: int | None,
    cursor: str | None,
    channel: str | None,
    phone: str | None,
) -> tuple[list[OptOut], str | None]:
    size = check_limit(limit)
    before_id = cursor_id(decode_cursor(cursor, "id"))
    rows = await OptOutRepository(session, tenant_id).page(
        limit=size + 1,
        before_id=before_id,
        channel=_channel(channel) if channel is not None else None,
        phone=_phone(phone) if phone else None,
    )
    next_cursor = encode_cursor(id=rows[size - 1].id) if len(rows) > size else None
    return rows[:size], next_cursor


async def get_settings(session: AsyncSession, tenant_id: int) -> Settings:
    row = await OptOutRepository(session, tenant_id).settings()
    return (
        Settings(confirmations=True, help_text=None)
        if row is None
        else Settings(row.confirmations, row.help_text)
    )


async def update_settings(session: AsyncSession, tenant_id: int, data: dict[str, Any]) -> Settings:
    """``PUT /api/v1/opt-outs/settings``: {confirmations?: bool, help_text?: str|null}."""
    errors: dict[str, list[str]] = {}
    if "confirmations" in data and not isinstance(data["confirmations"], bool):
        errors["confirmations"] = ["Must be true or false."]
    help_text = data.get("help_text")
    if help_text is not None and (not isinstance(help_text, str) or len(help_text) > MAX_HELP_TEXT):
        errors["help_text"] = [f"Text of at most {MAX_HELP_TEXT} characters, or null for the default."]
    if errors:
        raise ValidationFailed(errors)
    repo = OptOutRepository(session, tenant_id)
    row = await repo.settings()
    if row is None:
        row = OptOutSettings(confirmations=True, help_text=None, updated_at=now())
        repo.add_settings(row)
    if "confirmations" in data:
        row.confirmations = bool(data["confirmations"])
    if "help_text" in data:
        row.help_text = help_text.strip() if isinstance(help_text, str) and help_text.strip() else None
    row.updated_at = now()
    await session.flush()
    return Settings(row.confirmations, row.help_text)


async def keyword_reply(
    session: AsyncSession, tenant_id: int, keyword: Keyword, language: str, organization: str
) -> str | None:
    """The reply a STOP/START/HELP keyword gets, in the contact's ``language`` (``en``/``ar``), or None when
    the tenant turned confirmations off (HELP is always answered: with the tenant's help text if set)."""
    settings = await get_settings(session, tenant_id)
    if keyword is not Keyword.HELP and not settings.confirmations:
        return None
    if keyword is Keyword.HELP and settings.help_text:
        return settings.help_text
    return translate(f"optouts.reply.{keyword.value}", language, organization=organization)
