"""The plain JSON send's lane (messages/send_lane.py): it answers what the handler would, byte for byte but for
the message's own id and times, for successes and for every refusal, and it hands everything else to the
handler. The handler's answer is had with ``Content-Type: application/json; charset=utf-8``, which the lane
leaves to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar.routes.http import HTTPRoute

from tests.messages.conftest import OWNER, RECIPIENT
from tgo.auth.scopes import Scope

TEXT = {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "hello"}
LANE = {"Content-Type": "application/json"}
HANDLER = {"Content-Type": "application/json; charset=utf-8"}
OWN = ("id", "created_at", "queued_at", "updated_at")  # what differs between two sends
VARYING_HEADERS = ("x-request-id", "location", "ratelimit-remaining", "ratelimit", "ratelimit-reset")


@pytest.fixture
def handler_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The sends Litestar's handler machinery answered (not the lane), by their paths."""
    calls: list[str] = []
    original = HTTPRoute._call_handler_function

    async def spy(self: HTTPRoute, scope: Any, *args: Any, **kwargs: Any) -> Any:
        if scope["path"] == "/api/v1/messages":  # the in-process Connect app's routes are Litestar's too
            calls.append(f"{scope['method']} {scope['path']}")
        return await original(self, scope, *args, **kwargs)

    monkeypatch.setattr(HTTPRoute, "_call_handler_function", spy)
    yield calls


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], content_type: dict[str, str], body: bytes
) -> httpx.Response:
    return await client.post("/api/v1/messages", content=body, headers={**headers, **content_type})


def _headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k not in VARYING_HEADERS}


async def test_a_plain_json_send_is_the_lanes_and_answered_as_the_handler_would(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, handler_calls: list[str]
) -> None:
    body = msgspec.json.encode(TEXT)
    lane = await _post(client, headers, LANE, body)
    assert lane.status_code == 201, lane.text
    assert handler_calls == []  # the lane answered it
    handled = await _post(client, headers, HANDLER, body)
    assert handled.status_code == 201, handled.text
    assert handler_calls == ["POST /api/v1/messages"]

    assert _headers(lane) == _headers(handled)
    assert set(lane.headers) == set(handled.headers)  # X-Request-Id and the RateLimit headers on both
    assert lane.headers["location"] == f"/api/v1/messages/{lane.json()['id']}"
    own, other = lane.json(), handled.json()
    assert list(own) == list(other)
    assert {k: v for k, v in own.items() if k not in OWN} == {k: v for k, v in other.items() if k not in OWN}
    # Both are the compact encoding of their values, in the same order: byte for byte the same form.
    assert lane.content == msgspec.json.encode(own) and handled.content == msgspec.json.encode(other)
    # Both are stored, queued.
    for sent in (own, other):
        got = await client.get(f"/api/v1/messages/{sent['id']}", headers=headers)
        assert got.status_code == 200 and got.json()["status"] in ("queued", "sent", "delivered")


@pytest.mark.parametrize(
    "body",
    [
        b"",  # 400 invalid_json
        b"{not json",  # 400 invalid_json
        b"\xff\xfe{}",  # 400 invalid_json (not UTF-8)
        b"[" * 100 + b"]" * 100,  # 400 invalid_json (too deep)
        b"[1, 2]",  # 422: not an object
        b'{"to_phone": "12", "type": "text", "content": "x"}',  # 422 validation_failed
        b'{"to_phone": "+201010000000", "type": "text", "content": "x", "sender_phone": "+201000000001"}',  # 404
    ],
)
async def test_a_refused_send_gets_the_handlers_answer(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, body: bytes, handler_calls: list[str]
) -> None:
    lane = await _post(client, headers, LANE, body)
    assert handler_calls == []
    handled = await _post(client, headers, HANDLER, body)
    assert lane.status_code == handled.status_code and lane.status_code >= 400, (lane.text, handled.text)
    assert lane.content == handled.content
    assert _headers(lane) == _headers(handled) and "x-request-id" in lane.headers


async def test_refusals_before_the_body_are_the_guards(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, make_key: Any, tenant: Any
) -> None:
    body = msgspec.json.encode(TEXT)
    for asked in ({}, {"X-Api-Key": "tgo_live_not-a-key"}):
        lane = await _post(client, asked, LANE, body)
        handled = await _post(client, asked, HANDLER, body)
        assert lane.status_code == handled.status_code == 401
        assert lane.content == handled.content and "x-request-id" in lane.headers
    reader = await make_key(tenant, Scope.MESSAGES_READ.value)
    lane = await _post(client, {"X-Api-Key": reader}, LANE, body)
    handled = await _post(client, {"X-Api-Key": reader}, HANDLER, body)
    assert lane.status_code == handled.status_code == 403 and lane.content == handled.content


async def test_other_sends_go_to_the_handler(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, handler_calls: list[str]
) -> None:
    body = msgspec.json.encode(TEXT)
    idempotent = {**headers, "Idempotency-Key": "lane-1"}
    r = await _post(client, idempotent, LANE, body)
    assert r.status_code == 201 and handler_calls == ["POST /api/v1/messages"]
    again = await _post(client, idempotent, LANE, body)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == r.json()["id"]
    form = await client.post("/api/v1/messages", data=TEXT, headers=headers)
    assert form.status_code == 415, form.text  # neither JSON nor multipart
    assert len(handler_calls) == 3
