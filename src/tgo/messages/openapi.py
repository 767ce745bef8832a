"""The request body of ``POST /api/v1/messages`` as the OpenAPI document declares it: the handler parses
JSON or multipart itself (``messages.endpoints._parse``), so Litestar cannot infer it."""

from __future__ import annotations

from litestar.openapi.spec import Encoding, OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from tgo.messages.service import MEDIA_TYPES, MESSAGE_TYPES
from tgo.openapi import binary

_SENDER = "Give exactly one of `sender_phone` or `sender_number_id`."


def _phone(description: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, min_length=1, max_length=32, description=description)


def _fields(types: tuple[str, ...]) -> dict[str, Schema]:
    return {
        "to_phone": _phone("The recipient, E.164 (e.g. +201010000000)."),
        "type": Schema(type=OpenAPIType.STRING, enum=list(types)),
        "sender_phone": _phone(f"The sender number, E.164. {_SENDER}"),
        "sender_number_id": Schema(type=OpenAPIType.INTEGER, minimum=1, description=_SENDER),
    }


TEXT_MESSAGE = Schema(
    title="TextMessageCreate",
    type=OpenAPIType.OBJECT,
    required=["to_phone", "type", "content"],
    properties={
        **_fields(("text",)),
        "content": Schema(type=OpenAPIType.STRING, min_length=1, max_length=4096),
    },
    description=f"A text message. {_SENDER}",
)

MEDIA_MESSAGE = Schema(
    title="MediaMessageCreate",
    type=OpenAPIType.OBJECT,
    required=["to_phone", "type", "media"],
    properties={
        **_fields(MEDIA_TYPES),
        "media": binary("The file: its type is read from its bytes (image, voice or document formats)."),
        "caption": Schema(
            type=OpenAPIType.STRING, max_length=1024, description="Image and document messages only."
        ),
        "duration": Schema(
            type=OpenAPIType.INTEGER,
            minimum=1,
            maximum=300,
            description="Voice messages: seconds (required).",
        ),
    },
    description=f"An image, voice or document message with its file in `media`. {_SENDER}",
)

SEND_BODY = RequestBody(
    required=True,
    description=(
        "`application/json` for a text message; `multipart/form-data` with the file in `media` for "
        f"{', '.join(t for t in MESSAGE_TYPES if t in MEDIA_TYPES)}."
    ),
    content={
        "application/json": OpenAPIMediaType(schema=TEXT_MESSAGE),
        "multipart/form-data": OpenAPIMediaType(
            schema=MEDIA_MESSAGE, encoding={"media": Encoding(content_type="application/octet-stream")}
        ),
    },
)
