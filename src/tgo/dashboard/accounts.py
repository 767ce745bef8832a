"""The dashboard's own small service for signed-in users: who is signed in, their language and time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.errors import ValidationFailed
from tgo.i18n import LANGUAGES
from tgo.models import Tenant, User
from tgo.tenants.repository import TenantDirectory


async def load_signed_in(session: AsyncSession, user_id: int, tenant_id: int) -> tuple[User, Tenant] | None:
    """The user and their tenant, or ``None`` when either is gone or no longer belongs together."""
    user = await session.get(User, user_id)
    if user is None or user.tenant_id != tenant_id:
        return None
    tenant = await TenantDirectory(session).get(tenant_id)
    if tenant is None:
        return None
    return user, tenant


async def set_language(session: AsyncSession, user: User, language: str) -> None:
    """Remember the user's dashboard language (``en`` or ``ar``), chosen on purpose."""
    if language in LANGUAGES and (user.language != language or not user.language_chosen):
        user.language = language
        user.language_chosen = True
        await session.flush()


async def language_at_login(session: AsyncSession, user: User, shown: str, chosen: bool) -> None:
    """At sign-in: a language picked on the login page becomes the user's choice; a user who never
    chose one takes the login page's language (the browser's), still not a choice."""
    if chosen:
        await set_language(session, user, shown)
    elif not user.language_chosen and shown in LANGUAGES and user.language != shown:
        user.language = shown
        await session.flush()


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


async def set_time_zone(session: AsyncSession, user: User, name: str | None) -> None:
    """The zone dashboard times are shown in (``None``: the browser's); an unknown zone is refused."""
    if name is not None and not valid_time_zone(name):
        raise ValidationFailed({"time_zone": ["Not a known time zone."]})
    user.time_zone = name
    await session.flush()
