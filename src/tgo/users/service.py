"""Dashboard users: argon2 password hashes, one tenant each."""

from __future__ import annotations

import asyncio
import re
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
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
    session: AsyncSession, tenant_id: int, *, email: str, password: str, language: str | None = None
) -> User:
    """A dashboard login; ``language`` given is the user's choice, left out the login page's language
    is adopted at the first sign-in."""
    email = email.strip().lower()
    errors: dict[str, list[str]] = {}
    if not _EMAIL.fullmatch(email):
        errors["email"] = ["Not a valid e-mail address."]
    if len(password) < 8:
        errors["password"] = ["Use at least 8 characters."]
    if language is not None and language not in LANGUAGES:
        errors["language"] = [f"One of: {', '.join(LANGUAGES)}."]
    if errors:
        raise ValidationFailed(errors)
    exists = await session.scalar(select(User.id).where(User.tenant_id == tenant_id, User.email == email))
    if exists is not None:
        raise Conflict("user_exists")
    user = User(
        tenant_id=tenant_id,
        email=email,
        password_hash=_hasher.hash(password),
        language=language or "en",
        language_chosen=language is not None,
    )
    session.add(user)
    await session.flush()
    return user


# On a host that is no tenant's domain a login tries the oldest users with that address, this many, and
# always pays for this many argon2 checks (padded with a dummy hash), so its time does not tell how many
# tenants use the address. Users beyond these sign in on their tenant's domain.
LOGIN_CANDIDATES = 3


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()).order_by(User.id))


async def tenant_of_host(session: AsyncSession, host: str | None) -> int | None:
    """The tenant whose domain ``host`` is, or ``None``: the scope of a dashboard login on that host."""
    return await TenantDirectory(session).id_by_domain(host) if host else None


async def authenticate(
    session: AsyncSession, email: str, password: str, tenant_id: int | None
) -> User | None:
    """The user these credentials sign in as, or ``None``. On a tenant's domain (``tenant_id``) only that
    tenant's user (emails are unique per tenant, not globally); elsewhere the password decides between the
    oldest LOGIN_CANDIDATES users with that address. The argon2 work is fixed by the host alone: one check
    on a tenant's domain, LOGIN_CANDIDATES elsewhere, whether no user, one or several have the address."""
    email = email.strip().lower()
    slots = 1 if tenant_id is not None else LOGIN_CANDIDATES
    query = select(User).where(User.email == email)
    if tenant_id is not None:
        query = query.where(User.tenant_id == tenant_id)
    users = list(await session.scalars(query.order_by(User.id).limit(slots))) if email else []
    hashes = [u.password_hash for u in users] + [_dummy_hash()] * (slots - len(users))
    # Off the event loop: argon2 takes a fifth of a second of CPU per check.
    matches = await asyncio.to_thread(_verify_all, hashes, password)
    return next((u for u, ok in zip(users, matches, strict=False) if ok), None)


def _verify_all(hashes: list[str], password: str) -> list[bool]:
    # Every hash, even after a match: stopping early would tell which candidate matched.
    return [_verify(h, password) for h in hashes]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """Change the password; every dashboard session of the user ends."""
    if len(password) < 8:
        raise ValidationFailed({"password": ["Use at least 8 characters."]})
    user.password_hash = _hasher.hash(password)
    await session.flush()
    await end_sessions(session, user)


async def end_sessions(session: AsyncSession, user: User) -> None:
    """End every dashboard session of the user (logout, password change): sessions carry the version."""
    # One UPDATE, so two concurrent bumps both count; the loaded user gets the new value too.
    await session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
