"""Dashboard users: argon2 password hashes, one tenant each."""

from __future__ import annotations

import re
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.errors import Conflict, ValidationFailed
from tgo.i18n import LANGUAGES
from tgo.models import User
from tgo.tenants.repository import TenantDirectory

_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")


@cache
def _dummy_hash() -> str:
    # Verifying against this keeps the time of "no such user" equal to "wrong password". Made on first use,
    # not at import: an argon2 hash is ~0.15 s of every process's start-up.
    return _hasher.hash("not-a-real-password")


async def create_user(
    session: AsyncSession, tenant_id: int, *, email: str, password: str, language: str = "en"
) -> User:
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not _EMAIL.fullmatch(email):
        errors["email"] = ["Not a valid e-mail address."]
    if len(password) < 8:
        errors["password"] = ["Use at least 8 characters."]
    if language not in LANGUAGES:
        errors["language"] = [f"One of: {', '.join(LANGUAGES)}."]
    if errors:
        raise ValidationFailed(errors)
    exists = await session.scalar(select(User.id).where(User.tenant_id == tenant_id, User.email == email))
    if exists is not None:
        raise Conflict("user_exists")
    user = User(tenant_id=tenant_id, email=email, password_hash=_hasher.hash(password), language=language)
    session.add(user)
    await session.flush()
    return user


MAX_LOGIN_CANDIDATES = 10


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()).order_by(User.id))


async def login_candidates(session: AsyncSession, email: str, host: str | None) -> list[User]:
    """The users an email may log in as. On a tenant's own domain only that tenant's user (emails are
    unique per tenant, not globally); on any other host every tenant's user with that email, oldest first,
    so the password decides (each has their own)."""
    query = select(User).where(User.email == email.strip().lower())
    if host:
        tenant_id = await TenantDirectory(session).id_by_domain(host)
        if tenant_id is not None:
            query = query.where(User.tenant_id == tenant_id)
    return list(await session.scalars(query.order_by(User.id).limit(MAX_LOGIN_CANDIDATES)))


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _dummy_hash(), password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    if len(password) < 8:
        raise ValidationFailed({"password": ["Use at least 8 characters."]})
    user.password_hash = _hasher.hash(password)
    await session.flush()
