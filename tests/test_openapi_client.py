"""A Python client generated from /openapi.json by openapi-python-client, used as a customer would (no raw
HTTP to the API): register and verify a sender, send a text and an image, read the log, and get a typed
409 and a typed 422."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar

from tests.fixtures.connect import ConnectHelper
from tests.fixtures.media import png
from tgo.runtime import Runtime

OWNER, RECIPIENT = "+201001187188", "+201010000000"
PACKAGE = "tgo_client"
_generated: dict[str, Path] = {}


def generate(spec: dict[str, Any], out: Path) -> Path:
    """Generate the client package into ``out`` (never into the repository); once per test session."""
    if "root" not in _generated:
        out.mkdir(parents=True, exist_ok=True)
        (out / "openapi.json").write_text(json.dumps(spec))
        (out / "config.yaml").write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("openapi-python-client")),
                "generate",
                "--path",
                "openapi.json",
                "--meta",
                "none",
                "--output-path",
                PACKAGE,
                "--config",
                "config.yaml",
            ],
            cwd=out,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        # A warning means some operation or model was left out of the client.
        assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
        _generated["root"] = out
    return _generated["root"]


def load(root: Path, name: str) -> ModuleType:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_registers_verifies_sends_and_reads_typed_errors(
    app: Litestar,
    client: httpx.AsyncClient,
    headers: dict[str, str],
    runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = generate((await client.get("/openapi.json")).json(), tmp_path_factory.mktemp("generated-client"))
    api = load(root, "client")
    models = load(root, "models")
    register = load(root, "api.sender_numbers.register_sender_number")
    verify = load(root, "api.sender_numbers.verify_sender_number")
    send = load(root, "api.messages.send_message")
    log = load(root, "api.messages.list_messages")
    types = load(root, "types")

    connect = ConnectHelper(runtime)
    await connect.account(OWNER, verified=True)
    await connect.account(RECIPIENT, verified=True)
    tgo = api.AuthenticatedClient(
        base_url="http://testserver.local",
        token=headers["X-Api-Key"],
        prefix="",
        auth_header_name="X-Api-Key",
    )
    # In process (the test's event loop and database); the client still sends its own auth header.
    tgo.set_async_httpx_client(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast(Any, app)),
            base_url="http://testserver.local",
            headers=headers,
        )
    )

    created = await register.asyncio_detailed(
        client=tgo, body=models.SenderNumberCreate(phone=OWNER, display_name="Support")
    )
    assert created.status_code == HTTPStatus.CREATED and isinstance(created.parsed, models.SenderNumberView)
    number = created.parsed
    verified = await verify.asyncio(
        number.id, client=tgo, body=models.OtpSubmit(otp=await connect.otp(OWNER))
    )
    assert isinstance(verified, models.SenderNumberView) and verified.can_send is True

    text = await send.asyncio_detailed(
        client=tgo,
        body=models.SendMessageJsonTextMessageCreate(
            to_phone=RECIPIENT,
            type_=models.SendMessageJsonTextMessageCreateType.TEXT,
            content="Hello from a generated client",
            sender_number_id=number.id,
        ),
    )
    assert text.status_code == HTTPStatus.CREATED, text.content
    assert isinstance(text.parsed, models.MessageView) and text.parsed.message_type == "text"

    image = await send.asyncio_detailed(
        client=tgo,
        body=models.SendMessageFilesMediaMessageCreate(
            to_phone=RECIPIENT,
            type_=models.SendMessageFilesMediaMessageCreateType.IMAGE,
            media=types.File(payload=BytesIO(png()), file_name="pixel.png", mime_type="image/png"),
            caption="A pixel",
            sender_phone=OWNER,
        ),
    )
    assert image.status_code == HTTPStatus.CREATED, image.content
    assert isinstance(image.parsed, models.MessageView)
    assert image.parsed.media.content_type == "image/png" and image.parsed.caption == "A pixel"

    listed = await log.asyncio(client=tgo)
    assert isinstance(listed, models.MessageList)
    assert [m.id for m in listed.data] == [image.parsed.id, text.parsed.id]

    again = await register.asyncio_detailed(client=tgo, body=models.SenderNumberCreate(phone=OWNER))
    assert again.status_code == HTTPStatus.CONFLICT
    assert isinstance(again.parsed, models.ErrorBody) and again.parsed.code == "sender_number_exists"

    invalid = await send.asyncio_detailed(
        client=tgo,
        body=models.SendMessageJsonTextMessageCreate(
            to_phone="12",
            type_=models.SendMessageJsonTextMessageCreateType.TEXT,
            content="x",
            sender_phone=OWNER,
        ),
    )
    assert invalid.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert isinstance(invalid.parsed, models.ErrorBody) and invalid.parsed.code == "validation_failed"
    assert "to_phone" in invalid.parsed.errors.additional_properties
