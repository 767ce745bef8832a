"""Hostile bodies on every JSON operation of the OpenAPI document, of the Connect API and of the Connect event
receiver, and on every form (dashboard POSTs before login, the send's multipart, Connect's pages): bytes
that are not UTF-8 and JSON nested ~20,000 deep are a 400 ``invalid_json`` (a 422 naming the field for
forms), never a 500 with a traceback (issue 12, item 3). Bodies come from tests/hostile_bodies.py."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from tests.hostile_bodies import deep_json, non_utf8_form, non_utf8_json
from tgo.channels.connect_protocol import API_PATH, EVENTS_PATH, api_token, sign_event
from tgo.config import Settings
from tgo.kit.json_input import decode_json, nesting_exceeds
from tgo.openapi import finish_document
from tgo.runtime import Runtime

BODY_METHODS = ("post", "put", "patch", "delete")
# Operations whose handler reads its JSON body itself, which the document may not declare as a request body
# (the send takes JSON or multipart). Checked to exist, so the list cannot go stale silently.
EXAMPLES = 12


def examples(strategy: st.SearchStrategy[Any], n: int = EXAMPLES) -> list[Any]:
    """``n`` examples drawn by Hypothesis (its generation phase, edge cases first); the requests are then
    made in the test's own event loop, which Hypothesis cannot drive."""
    found: list[Any] = []

    @hypothesis_settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Hundreds of requests a second from one key: the rate limits are not under test here.
    return settings.model_copy(
        update={"api_rate_limit_per_key": "1000000/second", "api_rate_limit_per_tenant": "1000000/second"}
    )


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # concrete
    fields: tuple[str, ...]
    takes_json: bool

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _schema_fields(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str, ...]:
    for _ in range(8):
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            break
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    for key in ("oneOf", "anyOf"):
        for option in schema.get(key, []):
            if found := _schema_fields(doc, option):
                return found
    return tuple(schema.get("properties", {}))


def _concrete(path: str, parameters: list[dict[str, Any]]) -> str:
    formats = {p["name"]: (p.get("schema") or {}).get("format") for p in parameters if p.get("in") == "path"}

    def value(m: re.Match[str]) -> str:
        return "00000000-0000-4000-8000-000000000000" if formats.get(m.group(1)) == "uuid" else "999999"

    return re.sub(r"\{([^}]+)\}", value, path)


def document_operations(app: Litestar) -> list[Operation]:
    """Every operation of the app's OpenAPI document that can carry a body, and whether it takes JSON."""
    doc = finish_document(app.openapi_schema).to_schema()
    found = []
    for path, item in doc["paths"].items():
        for method in BODY_METHODS:
            op = item.get(method)
            if op is None:
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            json_schema = (content.get("application/json") or {}).get("schema")
            takes_json = json_schema is not None
            fields = _schema_fields(doc, json_schema) if json_schema else ()
            found.append(Operation(method, _concrete(path, op.get("parameters", [])), fields, takes_json))
    # The send declares its JSON body like every other operation, so it is walked too.
    assert any(op.method == "post" and op.path == "/api/v1/messages" and op.takes_json for op in found)
    return found


def connect_operations(runtime: Runtime) -> list[Operation]:
    """Every route of the Connect app that takes a body (from the app itself: it has no OpenAPI document)."""
    app = runtime.embedded_connect.get().app
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            data = handler.parsed_fn_signature.parameters.get("data")
            fields = tuple(f.name for f in msgspec.structs.fields(data.annotation)) if data else ()
            path = re.sub(r"\{phone:str\}", "+201000000001", route.path)
            path = re.sub(r"\{[^}:]+:int\}", "1", path)
            path = re.sub(r"\{[^}]+\}", "x", path)
            for method in handler.http_methods:
                if method.lower() in BODY_METHODS:
                    found.append(Operation(method.lower(), path, fields, data is not None))
    return found


def assert_invalid_json(r: httpx.Response, where: object) -> None:
    assert r.status_code == 400, (str(where), r.status_code, r.text[:300])
    assert r.json()["code"] == "invalid_json", (str(where), r.text[:300])


def assert_no_server_error(r: httpx.Response, where: object) -> None:
    assert r.status_code < 500, (str(where), r.status_code, r.text[:300])


async def post_json(
    client: httpx.AsyncClient, op: Operation, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(
        op.method, op.path, content=body, headers={**headers, "Content-Type": "application/json"}
    )


def hostile_json(kind: str, fields: tuple[str, ...], limit: int) -> st.SearchStrategy[bytes]:
    fields = fields or ("value",)
    return non_utf8_json(fields) if kind == "not_utf8" else deep_json(fields, limit)


@pytest.mark.parametrize("kind", ["not_utf8", "too_deep"])
async def test_every_json_operation_of_the_document_refuses_hostile_json_with_400(
    app: Litestar, client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, kind: str
) -> None:
    operations = document_operations(app)
    json_operations = [op for op in operations if op.takes_json]
    # The five named in the report, at least, and every one is walked.
    assert {"/api/v1/messages", "/api/v1/webhooks", "/api/v1/sender-numbers", "/v1/sms/senders"} <= {
        op.path for op in json_operations
    }
    assert len(json_operations) >= 9
    for op in operations:
        for body in examples(hostile_json(kind, op.fields, settings.max_json_depth)):
            r = await post_json(client, op, body, headers)
            (assert_invalid_json if op.takes_json else assert_no_server_error)(r, op)


@pytest.mark.parametrize("kind", ["not_utf8", "too_deep"])
async def test_every_connect_api_operation_refuses_hostile_json_with_400(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, kind: str
) -> None:
    operations = connect_operations(runtime)
    assert sum(op.takes_json for op in operations if op.path.startswith(API_PATH)) >= 4
    bearer = {"Authorization": f"Bearer {api_token(settings.secret())}"}
    for op in operations:
        for body in examples(hostile_json(kind, op.fields, settings.max_json_depth)):
            r = await post_json(client, op, body, bearer)
            (assert_invalid_json if op.takes_json else assert_no_server_error)(r, op)


@pytest.mark.parametrize("kind", ["not_utf8", "too_deep"])
async def test_the_connect_event_receiver_checks_the_signature_then_refuses_hostile_json_with_400(
    client: httpx.AsyncClient, settings: Settings, kind: str
) -> None:
    receiver = Operation("post", EVENTS_PATH, ("id", "type", "data"), True)
    for body in examples(hostile_json(kind, receiver.fields, settings.max_json_depth)):
        # A forged signature is 401 before the body is looked at; a signed hostile body is a 400.
        ts = int(time.time())
        signed = {
            "X-Connect-Timestamp": str(ts),
            "X-Connect-Signature": sign_event(settings.secret(), ts, body),
        }
        assert_invalid_json(await post_json(client, receiver, body, signed), receiver)
        forged = {**signed, "X-Connect-Signature": "v1=" + "0" * 64}
        assert (await post_json(client, receiver, body, forged)).status_code == 401


def dashboard_posts(app: Litestar) -> list[str]:
    paths = []
    for route in app.routes:
        if not route.path.startswith("/dashboard"):
            continue
        for handler in getattr(route, "route_handlers", []):
            # The catch-all 404 page answers every method of an unknown address; it reads no form.
            if handler.name == "dashboard:not-found":
                continue
            if isinstance(handler, HTTPRouteHandler) and "POST" in handler.http_methods:
                path = re.sub(r"\{[^}:]+:int\}", "1", route.path)
                paths.append(re.sub(r"\{[^}]+\}", "x", path))
    return sorted(set(paths))


async def test_every_dashboard_post_refuses_a_non_utf8_form_field_with_422_before_login(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    paths = dashboard_posts(app)
    assert {"/dashboard/login", "/dashboard/logout"} <= set(paths)
    assert len(paths) >= 10
    for path in paths:
        for form in examples(non_utf8_form(("_csrf", "email", "password", "name", "phone"))):
            r = await client.post(path, content=form.body, headers={"Content-Type": form.content_type})
            assert r.status_code == 422, (path, r.status_code, r.text[:300])
            assert f"“{form.field}”" in r.text, (path, form.field)


async def test_a_non_utf8_field_of_a_multipart_send_is_a_422_naming_it(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    fields = ("to_phone", "type", "content", "caption", "sender_phone")
    for form in examples(non_utf8_form(fields, multipart=True), 25):
        r = await client.post(
            "/api/v1/messages", content=form.body, headers={**headers, "Content-Type": form.content_type}
        )
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "validation_failed"
        assert list(r.json()["errors"]) == [form.field]
        assert form.field in r.json()["message"]


async def test_connect_pages_never_fail_on_a_non_utf8_form(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    pages = [op for op in connect_operations(runtime) if not op.path.startswith(API_PATH)]
    assert pages
    for op in pages:
        for form in examples(non_utf8_form(("key", "phone"))):
            r = await client.post(op.path, content=form.body, headers={"Content-Type": form.content_type})
            assert_no_server_error(r, op)


async def test_a_deeply_nested_or_non_utf8_cursor_is_a_422_on_every_listing(
    app: Litestar, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    doc = app.openapi_schema.to_schema()
    listings = [
        (path, item["get"].get("parameters", []))
        for path, item in doc["paths"].items()
        if any(p["name"] == "cursor" for p in item.get("get", {}).get("parameters", []))
    ]
    assert len(listings) >= 4
    # Deep enough to exhaust Python's recursion limit, short enough for a URL.
    cursors = [b"[" * 5_000 + b"]" * 5_000, b'{"id":' * 3_000, b'{"id": "\xff"}']
    for path, parameters in listings:
        for raw in cursors:
            cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            r = await client.get(_concrete(path, parameters), params={"cursor": cursor}, headers=headers)
            assert r.status_code == 422, (path, r.status_code, r.text[:300])


# The decoder itself: the depth limit is exact, brackets inside strings do not count, and any JSON value
# (well-formed or cut short) is measured as deep as it is.
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(alphabet='[]{}"\\,:ab\u0627 ')),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=40,
)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@hypothesis_settings(max_examples=300, deadline=None)
@given(value=json_values, limit=st.integers(1, 12))
def test_nesting_is_measured_exactly(value: Any, limit: int) -> None:
    raw = msgspec.json.encode(value)
    assert nesting_exceeds(raw, limit) == (depth_of(value) > limit)
    if depth_of(value) <= limit:
        assert decode_json(raw, limit) == value


def test_the_limit_is_the_setting() -> None:
    assert Settings().max_json_depth == 64
    assert decode_json(b"[" * 64 + b"]" * 64, 64) is not None
    assert nesting_exceeds(b"[" * 65 + b"]" * 65, 64)
    assert not nesting_exceeds(b'["' + b"[" * 100_000 + b'"]', 64)  # inside a string


async def test_the_depth_limit_holds_exactly_on_a_route(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings
) -> None:
    limit = settings.max_json_depth

    def body(depth: int) -> bytes:  # the object itself is the first level
        return b'{"url":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b', "events": ["message.sent"]}'

    at_limit = await client.post("/api/v1/webhooks", content=body(limit), headers=headers)
    assert at_limit.status_code == 422 and at_limit.json()["code"] == "validation_failed", at_limit.text
    over = await client.post("/api/v1/webhooks", content=body(limit + 1), headers=headers)
    assert_invalid_json(over, "POST /api/v1/webhooks")
    assert str(limit) in over.json()["message"]
    arabic = await client.post(
        "/api/v1/webhooks", content=body(limit + 1), headers={**headers, "Accept-Language": "ar"}
    )
    assert arabic.json()["message"] != over.json()["message"] and str(limit) in arabic.json()["message"]
