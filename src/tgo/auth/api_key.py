"""The API-key authenticator and the guard that puts an AuthContext on each API request."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tgo.auth.context import AuthContext
from tgo.auth.key_cache import KeyCache
from tgo.auth.key_format import hash_key, is_well_formed
from tgo.auth.rate_limit import enforce as enforce_rate_limit
from tgo.errors import MissingScope, NotFound, Unauthenticated
from tgo.kit import hosts
from tgo.kit.clock import now


def request_host(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The request's host in canonical form (tgo.kit.hosts); ``None`` when absent or unusable."""
    return hosts.request_host([v for k, v in connection.scope["headers"] if k == b"host"])


def extract_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The presented key from ``X-Api-Key`` or ``Authorization: Bearer``; exactly one, well-formed."""
    api_keys: list[str] = []
    bearers: list[str] = []
    for name, value in connection.scope["headers"]:
        if name == b"x-api-key":
            api_keys.append(value.decode("latin-1").strip())
        elif name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthenticated()
            bearers.append(token.strip())
    presented = api_keys + bearers
    if len(presented) != 1 or not is_well_formed(presented[0]):
        raise Unauthenticated()
    return presented[0]


async def authenticate(keys: KeyCache, key: str, host: str | None) -> AuthContext:
    """Check a presented key against its row (from the cache, which change notices keep current in every
    process: a revoked key is refused everywhere as soon as the revocation commits) and the host's tenant."""
    key_hash = hash_key(key)
    row = await keys.key(key_hash)
    if row is None:
        raise Unauthenticated()
    current = now()
    if (
        not hmac.compare_digest(row.key_hash, key_hash)
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= current)
    ):
        raise Unauthenticated()
    if host:
        host_tenant_id = await keys.host_tenant(host)
        if host_tenant_id is not None and host_tenant_id != row.tenant_id:
            raise Unauthenticated()
    keys.usage.used(row.key_id, row.last_used_at, current)
    return AuthContext(
        tenant_id=row.tenant_id,
        tenant_slug=row.tenant_slug,
        tenant_name=row.tenant_name,
        tenant_domain=row.tenant_domain,
        api_key_id=row.key_id,
        scopes=frozenset(row.scopes),
    )


AUTH_STATE = "auth"  # the key of the AuthContext in the scope's state


async def api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Authenticate (401), count against the rate limits (429), then check the handler's ``opt["scope"]``
    (403), all before the body is read."""
    scope = connection.scope
    runtime = scope["litestar_app"].state.runtime
    auth = await authenticate(runtime.key_cache.get(), extract_key(connection), request_host(connection))
    await enforce_rate_limit(runtime, auth)
    opt = handler.opt
    needed = opt.get("scope")
    if needed and not auth.has_scope(needed):
        raise MissingScope(needed)
    # An integer id no database column can hold names nothing: 404, not a driver overflow (500).
    # Handlers with ``opt["checks_ids"]`` range-check their own ids to answer with a specific code.
    path_params = scope.get("path_params")
    if (
        path_params
        and not opt.get("checks_ids")
        and any(isinstance(v, int) and not -(2**63) <= v < 2**63 for v in path_params.values())
    ):
        raise NotFound()
    # In the scope's state (what ``connection.state`` wraps, in a new object at each access).
    scope["state"][AUTH_STATE] = auth


def auth_of(request: Request[Any, Any, Any]) -> AuthContext:
    """The AuthContext the guard left on the request."""
    auth: AuthContext = request.scope["state"][AUTH_STATE]
    return auth


async def provide_auth(request: Request[Any, Any, Any]) -> AuthContext:
    return auth_of(request)
