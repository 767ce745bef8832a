"""Every API route × every scope, generated from the app's routes (tests/routes.py): a key holding only one
scope gets past the scope check exactly where SPEC section 2 says it should, and is refused with 403 naming
the required scope everywhere else. A new route fails here until its scope is written in DOCUMENTED."""

from __future__ import annotations

import httpx
from litestar import Litestar

from tests.conftest import MakeKey, MakeTenant
from tests.routes import api_routes
from tgo.auth.scopes import ALL_SCOPES

SEND, READ = "messages.send", "messages.read"
WEBHOOKS = "webhooks.manage"
# The documented scope of every route (SPEC section 2, README "Sender numbers", "SMS", "Webhooks");
# None: any valid key.
DOCUMENTED: dict[tuple[str, str], str | None] = {
    ("GET", "/api/v1/me"): None,
    ("GET", "/api/v1/contacts/lookup"): "contacts.lookup",
    ("GET", "/api/v1/media/{media_id}"): READ,
    ("GET", "/api/v1/messages"): READ,
    ("POST", "/api/v1/messages"): SEND,
    ("GET", "/api/v1/messages/{message_id}"): READ,
    ("GET", "/api/v1/sender-numbers"): READ,
    ("POST", "/api/v1/sender-numbers"): SEND,
    ("DELETE", "/api/v1/sender-numbers/{number_id}"): SEND,
    ("GET", "/api/v1/sender-numbers/{number_id}"): READ,
    ("POST", "/api/v1/sender-numbers/{number_id}/resend-otp"): SEND,
    ("POST", "/api/v1/sender-numbers/{number_id}/verify"): SEND,
    ("GET", "/api/v1/usage"): "usage.read",
    ("GET", "/api/v1/webhooks"): WEBHOOKS,
    ("POST", "/api/v1/webhooks"): WEBHOOKS,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): WEBHOOKS,
    ("GET", "/api/v1/webhooks/{webhook_id}"): WEBHOOKS,
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): WEBHOOKS,
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): WEBHOOKS,
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"): WEBHOOKS,
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"): WEBHOOKS,
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): WEBHOOKS,
    # Two-way messaging (issue 18): conversations are read with messages.read; the opt-out list is read
    # with messages.read and changed with messages.send (it decides what may be sent).
    ("GET", "/api/v1/conversations"): READ,
    ("GET", "/api/v1/conversations/{conversation_id}"): READ,
    ("GET", "/api/v1/conversations/{conversation_id}/messages"): READ,
    ("POST", "/api/v1/conversations/{conversation_id}/read"): READ,
    ("GET", "/api/v1/opt-outs"): READ,
    ("POST", "/api/v1/opt-outs"): SEND,
    ("DELETE", "/api/v1/opt-outs/{phone}"): SEND,
    ("GET", "/api/v1/opt-outs/settings"): READ,
    ("PUT", "/api/v1/opt-outs/settings"): SEND,
    ("GET", "/v1/sms/messages"): "sms.read",
    ("POST", "/v1/sms/messages"): "sms.send",
    ("GET", "/v1/sms/messages/{message_id}"): "sms.read",
    ("GET", "/v1/sms/senders"): "sms.senders",
    ("POST", "/v1/sms/senders"): "sms.senders",
    ("DELETE", "/v1/sms/senders/{sender_id}"): "sms.senders",
    ("GET", "/v1/sms/senders/{sender_id}"): "sms.senders",
    ("PATCH", "/v1/sms/senders/{sender_id}"): "sms.senders",
    ("POST", "/v1/sms/senders/{sender_id}/verify"): "sms.senders",
}


async def scope_matrix(
    app: Litestar, client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> int:
    """Run the matrix; returns the number of (route, scope) cells checked."""
    routes = api_routes(app)
    assert {(r.method, r.path) for r in routes} == set(DOCUMENTED), "a route without a documented scope"
    for route in routes:
        assert route.scope == DOCUMENTED[(route.method, route.path)], route
    tenant = await make_tenant("scopes")
    keys = {scope: await make_key(tenant, scope, name=f"only {scope}") for scope in ALL_SCOPES}
    cells = 0
    for route in routes:
        for scope, key in keys.items():
            # An empty JSON body: the scope check comes before the body is read (SPEC section 5's order).
            r = await client.request(route.method, route.concrete(), headers={"X-Api-Key": key}, json={})
            allowed = route.scope is None or scope in ("*", route.scope)
            if allowed:
                assert r.status_code not in (401, 403), (route, scope, r.status_code, r.text)
            else:
                assert r.status_code == 403, (route, scope, r.status_code, r.text)
                assert r.json()["required_scope"] == route.scope, (route, scope, r.text)
            cells += 1
    return cells


async def test_every_route_by_every_scope(
    app: Litestar, client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    cells = await scope_matrix(app, client, make_tenant, make_key)
    assert cells == len(DOCUMENTED) * len(ALL_SCOPES)
