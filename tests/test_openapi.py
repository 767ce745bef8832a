"""The OpenAPI document (/openapi.json) is one that client generators turn into working clients: it
validates, names operations as a client library would, declares every body and every error status."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.conftest import MakeKey, MakeTenant
from tgo.errors import AppError, Conflict
from tgo.openapi import GUARD_ERRORS, error_responses

# The document needs no database: one backend is enough.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> Any:
    return (await client.get("/openapi.json")).json()


def operations(spec: Any) -> Iterator[tuple[str, str, Any]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def op(spec: Any, operation_id: str) -> Any:
    return next(o for _, _, o in operations(spec) if o["operationId"] == operation_id)


@sqlite_only
async def test_the_document_validates(spec: Any) -> None:
    validate(spec)


@sqlite_only
async def test_operation_ids_are_names_a_client_library_would_use(spec: Any) -> None:
    ids = [o["operationId"] for _, _, o in operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", i) for i in ids), ids
    assert {
        "sendMessage",
        "listMessages",
        "getMessage",
        "registerSenderNumber",
        "verifySenderNumber",
        "resendSenderNumberOtp",
        "downloadMedia",
        "getUsage",
        "sendSms",
        "createSmsSender",
        "replayWebhookDelivery",
    } <= set(ids)


@sqlite_only
async def test_every_operation_declares_the_guards_errors_with_the_envelope(spec: Any) -> None:
    guard = {str(cls.status_code) for cls in GUARD_ERRORS}
    assert guard == {"401", "403", "413", "415", "422", "429", "503"}
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        assert guard <= set(responses), (method, path)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (
                    path,
                    status,
                )
    envelope = spec["components"]["schemas"]["ErrorBody"]
    assert envelope["required"] == ["message"] and {"code", "errors"} <= set(envelope["properties"])


@sqlite_only
async def test_each_operation_declares_the_errors_its_service_raises(spec: Any) -> None:
    register = op(spec, "registerSenderNumber")["responses"]
    assert "sender_number_exists" in register["409"]["description"]
    assert "connect_account_not_found" in register["422"]["description"]
    assert "invalid_json" in register["400"]["description"]
    verify = op(spec, "verifySenderNumber")["responses"]
    assert "sender_not_pending_verification" in verify["409"]["description"]
    assert {"otp_invalid", "otp_expired", "otp_attempts_exceeded"} <= set(
        verify["422"]["description"].split("`code`: ")[1].split(", ")
    )
    assert "404" in verify
    send = op(spec, "sendMessage")["responses"]
    assert "idempotency_request_in_progress" in send["409"]["description"]
    assert "media_too_large" in send["413"]["description"]
    assert "sender_not_active" in send["422"]["description"]
    # Without a body there is no 400 (Litestar's own generic 400 is never what this API answers).
    assert "400" not in op(spec, "listMessages")["responses"]
    assert "409" not in op(spec, "getMe")["responses"]


def test_an_error_class_added_to_a_service_module_is_documented_where_the_module_is_named() -> None:
    service = types.ModuleType("tgo.some_part.service")

    class QuotaReached(AppError):
        status_code = 429
        code = "quota_reached"

    class AlreadyThere(Conflict):
        code = "already_there"

    for cls in (QuotaReached, AlreadyThere):
        cls.__module__ = service.__name__
        setattr(service, cls.__name__, cls)
    # Imported base classes are not the module's own errors. (A module object takes any attribute.)
    service.Conflict = Conflict  # type: ignore[attr-defined]
    responses = error_responses(service)
    assert "quota_reached" in (responses[429].description or "")
    assert (responses[409].description or "").endswith("`code`: already_there")


@sqlite_only
async def test_send_declares_a_json_and_a_multipart_body_and_a_typed_201(spec: Any) -> None:
    send = op(spec, "sendMessage")
    content = send["requestBody"]["content"]
    assert send["requestBody"]["required"] is True
    text = content["application/json"]["schema"]
    assert text["properties"]["type"]["enum"] == ["text"] and "content" in text["required"]
    form = content["multipart/form-data"]["schema"]["properties"]
    assert form["media"] == {**form["media"], "type": "string", "format": "binary"}
    assert {"duration", "caption", "sender_phone", "sender_number_id", "to_phone"} <= set(form)
    created = send["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/MessageView"}


@sqlite_only
async def test_media_download_is_binary_and_usage_is_typed(spec: Any) -> None:
    download = op(spec, "downloadMedia")["responses"]["200"]["content"]
    assert "application/json" not in download and {"image/png", "application/pdf"} <= set(download)
    assert all(m["schema"] == {"type": "string", "format": "binary"} for m in download.values())
    usage = op(spec, "getUsage")["responses"]["200"]["content"]["application/json"]["schema"]
    assert usage == {"$ref": "#/components/schemas/UsageReport"}
    report = spec["components"]["schemas"]["UsageReport"]
    assert {"since", "until", "data", "totals"} <= set(report["properties"])


@sqlite_only
async def test_the_sms_surface_declares_bearer_and_x_api_key(
    spec: Any, client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "name": "X-Api-Key", "in": "header"}
    for path, _, operation in operations(spec):
        if path.startswith("/v1/sms/"):
            assert {"Bearer": []} in operation["security"] and {"ApiKey": []} in operation["security"]
    key = await make_key(await make_tenant())
    for header in ({"X-Api-Key": key}, {"Authorization": f"Bearer {key}"}):
        r = await client.get("/v1/sms/senders", headers={**header, "Host": "acme.localhost"})
        assert r.status_code == 200, (header, r.text)


@sqlite_only
async def test_options_lists_every_method_the_document_declares_for_the_path(
    spec: Any, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in ("/api/v1/messages", "/api/v1/webhooks", "/api/v1/sender-numbers/{number_id}"):
        declared = {m.upper() for m in spec["paths"][path] if m in METHODS}
        r = await client.options(path.replace("{number_id}", "1"), headers=headers)
        assert r.status_code == 204
        assert set(r.headers["allow"].split(", ")) == declared | {"OPTIONS"}, path


# Actions that take no body: the path says everything.
BODILESS_ACTIONS = {
    "resendSenderNumberOtp",
    "replayWebhookDelivery",
    "markConversationRead",
    "verifySmsSender",
}


@sqlite_only
async def test_every_write_but_the_bodiless_actions_declares_its_json_body(spec: Any) -> None:
    # A handler that reads its body itself documents it (documented_operation): without it the document
    # said POST /api/v1/opt-outs and PUT /api/v1/opt-outs/settings take no body, and a generated client
    # could not send one.
    missing = sorted(
        op["operationId"]
        for item in spec["paths"].values()
        for method in ("post", "put", "patch")
        if (op := item.get(method)) and "requestBody" not in op and op["operationId"] not in BODILESS_ACTIONS
    )
    assert missing == []
    for path, method in (("/api/v1/opt-outs", "post"), ("/api/v1/opt-outs/settings", "put")):
        body = spec["paths"][path][method]["requestBody"]
        assert body["required"] is True and "application/json" in body["content"]
    add = spec["paths"]["/api/v1/opt-outs"]["post"]
    assert add["requestBody"]["content"]["application/json"]["schema"]["required"] == ["phone"]
    assert {"200", "201"} <= set(add["responses"])  # 200: it was on the list already
