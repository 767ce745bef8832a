"""The dashboard's own small service for signed-in users: who is signed in, and their language."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

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
    """Remember the user's dashboard language (``en`` or ``ar``)."""
    if language in LANGUAGES and user.language != language:
        user.language = language
        await session.flush()
