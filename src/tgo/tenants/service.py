"""Tenants: a slug, a name and the domain the API is called on."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.key_cache import TOPIC_TENANT
from tgo.errors import Conflict, NotFound, ValidationFailed
from tgo.kit.hosts import canonical_domain
from tgo.kit.noticed_cache import ALL
from tgo.models import Tenant
from tgo.notices import publish_change
from tgo.tenants.repository import TenantDirectory

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


async def create_tenant(session: AsyncSession, *, slug: str, domain: str, name: str | None = None) -> Tenant:
    slug, domain = slug.strip().lower(), canonical_domain(domain) or ""
    errors: dict[str, list[str]] = {}
    if not _SLUG.fullmatch(slug):
        errors["slug"] = ["Use 1-63 lower-case letters, digits and hyphens."]
    if not _DOMAIN.fullmatch(domain):
        errors["domain"] = ["Not a valid domain name."]
    if errors:
        raise ValidationFailed(errors)
    directory = TenantDirectory(session)
    if await directory.clash(slug, domain) is not None:
        raise Conflict("tenant_exists")
    tenant = await directory.add(Tenant(slug=slug, domain=domain, name=(name or slug).strip()[:200]))
    await publish_change(session, TOPIC_TENANT, ALL)  # its domain now names it (the guard's host check)
    return tenant


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = await TenantDirectory(session).by_slug(slug)
    if tenant is None:
        raise NotFound("tenant_not_found", params={"slug": slug})
    return tenant
