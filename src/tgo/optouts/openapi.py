"""The request bodies of ``POST /api/v1/opt-outs`` and ``PUT /api/v1/opt-outs/settings`` as the OpenAPI document
declares them: the handlers read their JSON objects themselves (``optouts.endpoints._object``), so Litestar
cannot infer them (without this the document said neither operation takes a body)."""

from __future__ import annotations

from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from tgo.optouts.service import CHANNELS, MAX_HELP_TEXT, MAX_SOURCE


def _json(schema: Schema, description: str) -> RequestBody:
    return RequestBody(
        required=True, description=description, content={"application/json": OpenAPIMediaType(schema=schema)}
    )


ADD_BODY = _json(
    Schema(
        title="OptOutCreate",
        type=OpenAPIType.OBJECT,
        required=["phone"],
        properties={
            "phone": Schema(
                type=OpenAPIType.STRING, min_length=1, max_length=32, description="E.164, e.g. +201010000000."
            ),
            "channel": Schema(type=OpenAPIType.STRING, enum=list(CHANNELS), description="Default `connect`."),
            "source": Schema(
                type=OpenAPIType.STRING,
                min_length=1,
                max_length=MAX_SOURCE,
                description="Where the opt-out came from; default `api`.",
            ),
        },
    ),
    "The phone to put on the tenant's suppression list for a channel.",
)

SETTINGS_BODY = _json(
    Schema(
        title="OptOutSettingsUpdate",
        type=OpenAPIType.OBJECT,
        properties={
            "confirmations": Schema(
                type=OpenAPIType.BOOLEAN, description="Answer STOP and START with a confirmation reply."
            ),
            "help_text": Schema(
                one_of=[
                    Schema(type=OpenAPIType.STRING, max_length=MAX_HELP_TEXT),
                    Schema(type=OpenAPIType.NULL),
                ],
                description="The reply to HELP; null for the default text.",
            ),
        },
    ),
    "The fields to change; those left out keep their values.",
)
