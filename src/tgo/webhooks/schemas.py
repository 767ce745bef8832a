"""Request and response bodies of /api/v1/webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from tgo.events import EVENT_TYPES
from tgo.kit.schemas import Schema
from tgo.webhooks.service import MAX_GRACE_SECONDS

# Documented for clients; the service checks the list (with its own messages).
Events = Annotated[
    list[str],
    msgspec.Meta(
        extra_json_schema={"extra": {"minItems": 1, "items": {"type": "string", "enum": list(EVENT_TYPES)}}}
    ),
]


# Documented for clients; the service checks it: at most 500 characters, no NUL.
Description = Annotated[
    str, msgspec.Meta(extra_json_schema={"extra": {"maxLength": 500, "pattern": "^[^\\u0000]*$"}})
]


class WebhookCreate(Schema):
    url: str
    events: Events
    description: Description | None = None
    active: bool = True


class WebhookUpdate(Schema):
    url: str | UnsetType = UNSET
    events: Events | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET


class SecretRotation(Schema):
    # How long the previous secret keeps signing (both signatures are sent meanwhile); 0 ends it now.
    grace_period_seconds: (
        Annotated[
            int, msgspec.Meta(extra_json_schema={"extra": {"minimum": 0, "maximum": MAX_GRACE_SECONDS}})
        ]
        | None
    ) = None


class Webhook(Schema):
    id: int
    url: str
    description: str | None
    events: list[str]
    active: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    secret_rotated_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook):
    # Shown once, at creation and at each rotation.
    secret: str


class WebhookEventOut(Schema):
    id: str
    type: str
    sequence: int
    timestamp: str
    data: Any


class DeliveryAttempt(Schema):
    id: int
    attempted_at: datetime
    success: bool
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None


class Delivery(Schema):
    id: int
    webhook_id: int
    status: str
    event: WebhookEventOut
    attempt_count: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    completed_at: datetime | None
    created_at: datetime
    attempts: list[DeliveryAttempt]
