"""The API-key authenticator and the guard that puts an AuthContext on each API request."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from tgo.auth.context import AuthContext
from tgo.auth.key_format import hash_key, is_well_formed
from tgo.auth.rate_limit import enforce as enforce_rate_limit
from tgo.auth.repository import auth_row, touch_key
from tgo.db import Database
from tgo.errors import MissingScope, NotFound, Unauthenticated
from tgo.kit import hosts
from tgo.kit.clock import now

TOUCH_EVERY = timedelta(seconds=60)


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


async def authenticate(db: Database, key: str, host: str | None) -> AuthContext:
    """The key is looked up on every request (a revoked key fails at once in every process), with one
    autocommit statement: no transaction of its own (BEGIN/COMMIT) and, on SQLite, no write lock."""
    key_hash = hash_key(key)
    async with db.read_scope() as conn:
        row = await auth_row(conn, key_hash, host)
        if row is None:
            raise Unauthenticated()
        current = now()
        if (
            not hmac.compare_digest(row.key_hash, key_hash)
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= current)
            or (row.host_tenant_id is not None and row.host_tenant_id != row.tenant_id)
        ):
            raise Unauthenticated()
        if row.last_used_at is None or row.last_used_at < current - TOUCH_EVERY:
            await touch_key(conn, row.key_id, current, TOUCH_EVERY)
        return AuthContext(
            tenant_id=row.tenant_id,
            tenant_slug=row.tenant_slug,
            tenant_name=row.tenant_name,
            tenant_domain=row.tenant_domain,
            api_key_id=row.key_id,
            scopes=frozenset(row.scopes),
        )


async def api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Authenticate (401), count against the rate limits (429), then check the handler's ``opt["scope"]``
    (403), all before the body is read."""
    db: Database = connection.app.state.db
    auth = await authenticate(db, extract_key(connection), request_host(connection))
    await enforce_rate_limit(connection.app.state.runtime, auth)
    scope = handler.opt.get("scope")
    if scope and not auth.has_scope(scope):
        raise MissingScope(scope)
    # An integer id no database column can hold names nothing: 404, not a driver overflow (500).
    # Handlers with ``opt["checks_ids"]`` range-check their own ids to answer with a specific code.
    if not handler.opt.get("checks_ids") and any(
        isinstance(v, int) and not -(2**63) <= v < 2**63 for v in connection.path_params.values()
    ):
        raise NotFound()
    connection.state.auth = auth


async def provide_auth(request: Request[Any, Any, Any]) -> AuthContext:
    auth: AuthContext = request.state.auth
    return auth
