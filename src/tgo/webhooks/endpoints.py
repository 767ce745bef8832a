"""/api/v1/webhooks: manage endpoints, read their delivery log, replay a delivery (scope webhooks.manage)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.auth.context import AuthContext
from tgo.auth.scopes import Scope
from tgo.kit.pagination import LIMIT_RANGE
from tgo.kit.schemas import Page
from tgo.models.webhook import WebhookEndpoint
from tgo.openapi import error_responses
from tgo.runtime import Runtime
from tgo.webhooks import service
from tgo.webhooks.schemas import (
    Delivery,
    DeliveryAttempt,
    SecretRotation,
    Webhook,
    WebhookCreate,
    WebhookEventOut,
    WebhookUpdate,
    WebhookWithSecret,
)

MANAGE = {"scope": Scope.WEBHOOKS_MANAGE, "checks_ids": True}  # the service range-checks ids


def to_webhook(endpoint: WebhookEndpoint) -> Webhook:
    return Webhook(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        events=list(endpoint.events),
        active=endpoint.active,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        secret_rotated_at=endpoint.secret_rotated_at,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def to_webhook_with_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**msgspec.structs.asdict(to_webhook(endpoint)), secret=secret)


def to_delivery(record: service.DeliveryRecord) -> Delivery:
    d, event = record.delivery, record.event
    body = msgspec.json.decode(event.body)
    return Delivery(
        id=d.id,
        webhook_id=d.endpoint_id,
        status=d.status,
        event=WebhookEventOut(
            id=event.public_id,
            type=event.type,
            sequence=event.id,
            timestamp=body["timestamp"],
            data=body["data"],
        ),
        attempt_count=d.attempt_count,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
        completed_at=d.completed_at,
        created_at=d.created_at,
        attempts=[
            DeliveryAttempt(
                id=a.id,
                attempted_at=a.attempted_at,
                success=a.success,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_body=a.response_body,
                error=a.error,
            )
            for a in record.attempts
        ],
    )


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["Webhooks"]

    @post(
        "/",
        opt=MANAGE,
        operation_id="createWebhook",
        responses=error_responses(body=True),
        summary="Register a webhook endpoint (the secret is shown only here)",
    )
    async def create(
        self, data: WebhookCreate, auth: AuthContext, db_session: AsyncSession, runtime: Runtime
    ) -> WebhookWithSecret:
        endpoint, secret = await service.create_webhook(
            db_session,
            auth.tenant_id,
            url=data.url,
            events=data.events,
            description=data.description,
            active=data.active,
            settings=runtime.settings,
        )
        return to_webhook_with_secret(endpoint, secret)

    @get(
        "/",
        opt=MANAGE,
        operation_id="listWebhooks",
        responses=error_responses(),
        summary="List webhook endpoints",
    )
    async def list_(
        self,
        auth: AuthContext,
        db_session: AsyncSession,
        cursor: str | None = None,
        limit: Annotated[int | None, Parameter(schema_extra=LIMIT_RANGE)] = None,
    ) -> Page[Webhook]:
        rows, next_cursor = await service.list_webhooks(
            db_session, auth.tenant_id, cursor=cursor, limit=limit
        )
        return Page(data=[to_webhook(r) for r in rows], next_cursor=next_cursor)

    @get(
        "/{webhook_id:int}",
        opt=MANAGE,
        operation_id="getWebhook",
        responses=error_responses(service.WebhookNotFound),
        summary="One webhook endpoint",
    )
    async def get_(self, webhook_id: int, auth: AuthContext, db_session: AsyncSession) -> Webhook:
        return to_webhook(await service.get_webhook(db_session, auth.tenant_id, webhook_id))

    @patch(
        "/{webhook_id:int}",
        opt=MANAGE,
        operation_id="updateWebhook",
        responses=error_responses(service.WebhookNotFound, body=True),
        summary="Change URL, events, description or active flag",
    )
    async def update(
        self,
        webhook_id: int,
        data: WebhookUpdate,
        auth: AuthContext,
        db_session: AsyncSession,
        runtime: Runtime,
    ) -> Webhook:
        endpoint = await service.update_webhook(
            db_session,
            auth.tenant_id,
            webhook_id,
            settings=runtime.settings,
            url=data.url,
            events=data.events,
            description=data.description,
            active=data.active,
        )
        return to_webhook(endpoint)

    @delete(
        "/{webhook_id:int}",
        opt=MANAGE,
        operation_id="deleteWebhook",
        responses=error_responses(service.WebhookNotFound),
        summary="Delete a webhook endpoint",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_(self, webhook_id: int, auth: AuthContext, db_session: AsyncSession) -> None:
        await service.delete_webhook(db_session, auth.tenant_id, webhook_id)

    @post(
        "/{webhook_id:int}/rotate-secret",
        opt=MANAGE,
        status_code=HTTP_200_OK,
        operation_id="rotateWebhookSecret",
        responses=error_responses(service.WebhookNotFound, body=True),
        summary="New signing secret; the old one keeps signing during the grace period",
    )
    async def rotate_secret(
        self,
        webhook_id: int,
        auth: AuthContext,
        db_session: AsyncSession,
        runtime: Runtime,
        data: SecretRotation | None = None,
    ) -> WebhookWithSecret:
        endpoint, secret = await service.rotate_webhook_secret(
            db_session,
            auth.tenant_id,
            webhook_id,
            settings=runtime.settings,
            grace_period_seconds=data.grace_period_seconds if data is not None else None,
        )
        return to_webhook_with_secret(endpoint, secret)

    @get(
        "/{webhook_id:int}/deliveries",
        opt=MANAGE,
        operation_id="listWebhookDeliveries",
        responses=error_responses(service.WebhookNotFound),
        summary="Deliveries with every attempt, newest first",
    )
    async def deliveries(
        self,
        webhook_id: int,
        auth: AuthContext,
        db_session: AsyncSession,
        status: Annotated[str | None, Parameter(schema_extra={"enum": [*service.DeliveryStatus]})] = None,
        cursor: str | None = None,
        limit: Annotated[int | None, Parameter(schema_extra=LIMIT_RANGE)] = None,
    ) -> Page[Delivery]:
        records, next_cursor = await service.list_deliveries(
            db_session, auth.tenant_id, webhook_id, status=status, cursor=cursor, limit=limit
        )
        return Page(data=[to_delivery(r) for r in records], next_cursor=next_cursor)

    @get(
        "/{webhook_id:int}/deliveries/{delivery_id:int}",
        opt=MANAGE,
        operation_id="getWebhookDelivery",
        responses=error_responses(service.WebhookNotFound, service.WebhookDeliveryNotFound),
        summary="One delivery",
    )
    async def delivery(
        self, webhook_id: int, delivery_id: int, auth: AuthContext, db_session: AsyncSession
    ) -> Delivery:
        return to_delivery(await service.get_delivery(db_session, auth.tenant_id, webhook_id, delivery_id))

    @post(
        "/{webhook_id:int}/deliveries/{delivery_id:int}/replay",
        opt=MANAGE,
        status_code=HTTP_202_ACCEPTED,
        operation_id="replayWebhookDelivery",
        responses=error_responses(
            service.WebhookNotFound,
            service.WebhookDeliveryNotFound,
            service.WebhookDisabled,
            service.WebhookDeliveryPending,
        ),
        summary="Send a finished delivery once more (same webhook-id)",
    )
    async def replay(
        self, webhook_id: int, delivery_id: int, auth: AuthContext, db_session: AsyncSession
    ) -> Delivery:
        record = await service.replay_delivery(db_session, auth.tenant_id, webhook_id, delivery_id)
        return to_delivery(record)
