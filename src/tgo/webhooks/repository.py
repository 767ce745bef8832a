"""Every webhook query. Tenant-bound repositories for the API and the dashboard; ``DeliveryWork`` is the
separately named cross-tenant class that only the delivery worker and the sweeper use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models.webhook import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint, WebhookEvent


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def any_active_endpoint(tenant_id: Any) -> ColumnElement[bool]:
    """``EXISTS`` an active endpoint of the tenant: the webhook listener's interest (``tgo.events``), a
    column hot paths add to a query they run anyway so that the listener can skip its endpoint lookup."""
    return exists().where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.active.is_(True))


class WebhookEndpointRepository(TenantRepository):
    async def add(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        endpoint.tenant_id = self.tenant_id
        self.session.add(endpoint)
        await self.session.flush()
        return endpoint

    async def get(self, endpoint_id: int) -> WebhookEndpoint | None:
        return await self.session.scalar(
            select(WebhookEndpoint).where(
                WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == self.tenant_id
            )
        )

    async def page(self, *, before_id: int | None, limit: int) -> list[WebhookEndpoint]:
        """Newest first; ``limit + 1`` rows are fetched by the caller to know whether more follow."""
        query = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == self.tenant_id)
        if before_id is not None:
            query = query.where(WebhookEndpoint.id < before_id)
        result = await self.session.scalars(query.order_by(WebhookEndpoint.id.desc()).limit(limit))
        return list(result)

    async def active(self) -> list[WebhookEndpoint]:
        result = await self.session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.tenant_id == self.tenant_id, WebhookEndpoint.active.is_(True)
            )
        )
        return list(result)

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        # Deliveries and attempts go with it (ON DELETE CASCADE); events stay for other endpoints.
        await self.session.execute(
            delete(WebhookDeliveryAttempt).where(
                WebhookDeliveryAttempt.tenant_id == self.tenant_id,
                WebhookDeliveryAttempt.delivery_id.in_(
                    select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
                ),
            )
        )
        await self.session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.tenant_id == self.tenant_id, WebhookDelivery.endpoint_id == endpoint.id
            )
        )
        await self.session.delete(endpoint)
        await self.session.flush()


class WebhookDeliveryRepository(TenantRepository):
    async def add_event(self, event: WebhookEvent) -> WebhookEvent:
        event.tenant_id = self.tenant_id
        self.session.add(event)
        await self.session.flush()
        return event

    async def add_events(self, events: Sequence[WebhookEvent]) -> None:
        """Several events in one flush (one multi-row INSERT … RETURNING their ids)."""
        for event in events:
            event.tenant_id = self.tenant_id
        self.session.add_all(events)
        await self.session.flush()

    async def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            delivery.tenant_id = self.tenant_id
        self.session.add_all(deliveries)
        await self.session.flush()

    async def get(self, endpoint_id: int, delivery_id: int) -> tuple[WebhookDelivery, WebhookEvent] | None:
        row = (
            await self.session.execute(
                select(WebhookDelivery, WebhookEvent)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.endpoint_id == endpoint_id,
                    WebhookDelivery.tenant_id == self.tenant_id,
                )
            )
        ).first()
        return (row[0], row[1]) if row is not None else None

    async def page(
        self, endpoint_id: int, *, status: DeliveryStatus | None, before_id: int | None, limit: int
    ) -> list[tuple[WebhookDelivery, WebhookEvent]]:
        query = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.tenant_id == self.tenant_id, WebhookDelivery.endpoint_id == endpoint_id)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status.value)
        if before_id is not None:
            query = query.where(WebhookDelivery.id < before_id)
        rows = await self.session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))
        return [(r[0], r[1]) for r in rows]

    async def attempts(self, delivery_ids: Sequence[int]) -> list[WebhookDeliveryAttempt]:
        if not delivery_ids:
            return []
        result = await self.session.scalars(
            select(WebhookDeliveryAttempt)
            .where(
                WebhookDeliveryAttempt.tenant_id == self.tenant_id,
                WebhookDeliveryAttempt.delivery_id.in_(delivery_ids),
            )
            .order_by(WebhookDeliveryAttempt.id)
        )
        return list(result)

    async def requeue(self, delivery_id: int, *, at: datetime) -> bool:
        """Make a finished delivery due again for exactly one attempt (a replay)."""
        result: CursorResult[Any] = await self.session.execute(  # type: ignore[assignment]
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.tenant_id == self.tenant_id,
                WebhookDelivery.status != DeliveryStatus.PENDING.value,
            )
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=at,
                retry_until=at,
                dispatched_at=at,
                completed_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def fail_pending(self, endpoint_id: int, *, at: datetime, error: str) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.tenant_id == self.tenant_id,
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
            )
            .values(
                status=DeliveryStatus.FAILED.value, next_attempt_at=None, last_error=error, completed_at=at
            )
            .execution_options(synchronize_session=False)
        )


class DeliveryWork:
    """Cross-tenant access for the delivery worker and the sweeper (never for request handlers)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _due(at: datetime) -> Any:
        return and_(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= at,
            or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < at),
        )

    async def claim(self, delivery_id: int, *, token: str, at: datetime, until: datetime) -> bool:
        """Take the attempt that is due; a duplicate job (or one for a delivery not yet due) gets False."""
        result: CursorResult[Any] = await self.session.execute(  # type: ignore[assignment]
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, self._due(at))
            .values(claimed_until=until, claim_token=token)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def load(self, delivery_id: int) -> tuple[WebhookDelivery, WebhookEndpoint, WebhookEvent] | None:
        row = (
            await self.session.execute(
                select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id)
            )
        ).first()
        return (row[0], row[1], row[2]) if row is not None else None

    async def endpoint_active(self, endpoint_id: int) -> bool:
        return bool(
            await self.session.scalar(select(WebhookEndpoint.active).where(WebhookEndpoint.id == endpoint_id))
        )

    async def add_attempt(self, attempt: WebhookDeliveryAttempt) -> None:
        self.session.add(attempt)
        await self.session.flush()

    async def finish(self, delivery_id: int, *, token: str, values: dict[str, Any]) -> bool:
        """Record the attempt's outcome, only while the claim is still ours."""
        result: CursorResult[Any] = await self.session.execute(  # type: ignore[assignment]
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.claim_token == token)
            .values(claimed_until=None, claim_token=None, **values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def disable_endpoint(self, endpoint_id: int, *, reason: str, at: datetime) -> bool:
        result: CursorResult[Any] = await self.session.execute(  # type: ignore[assignment]
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.active.is_(True))
            .values(active=False, disabled_reason=reason, disabled_at=at, updated_at=at)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == endpoint_id,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
                WebhookDelivery.claim_token.is_(None),
            )
            .values(
                status=DeliveryStatus.FAILED.value, next_attempt_at=None, last_error=reason, completed_at=at
            )
            .execution_options(synchronize_session=False)
        )
        return True

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many deliveries are pending (due or waiting for a retry) and when the oldest was created."""
        row = (
            await self.session.execute(
                select(func.count(), func.min(WebhookDelivery.created_at)).where(
                    WebhookDelivery.status == DeliveryStatus.PENDING.value
                )
            )
        ).one()
        return int(row[0]), row[1]

    async def take_due(self, *, at: datetime, stale_before: datetime, limit: int) -> list[int]:
        """Mark up to ``limit`` due deliveries as dispatched now and return their ids (to publish).

        One whose job was published recently (``dispatched_at`` after ``stale_before``) is left alone."""
        not_recent = or_(
            WebhookDelivery.dispatched_at.is_(None), WebhookDelivery.dispatched_at < stale_before
        )
        ids = list(
            await self.session.scalars(
                select(WebhookDelivery.id)
                .where(self._due(at), not_recent)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            )
        )
        if not ids:
            return []
        # The conditions again: another sweeper may have taken some of them meanwhile.
        taken = await self.session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), self._due(at), not_recent)
            .values(dispatched_at=at)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(taken)

    async def purge_finished(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` deliveries finished before ``before`` (with their attempts), then the
        events no delivery refers to any more; returns how many deliveries went."""
        ids = list(
            await self.session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status != DeliveryStatus.PENDING.value,
                    WebhookDelivery.completed_at < before,
                )
                .limit(limit)
            )
        )
        if ids:
            await self.session.execute(
                delete(WebhookDeliveryAttempt).where(WebhookDeliveryAttempt.delivery_id.in_(ids))
            )
            await self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        orphaned = select(WebhookEvent.id).where(
            WebhookEvent.created_at < before,
            ~select(WebhookDelivery.id).where(WebhookDelivery.event_id == WebhookEvent.id).exists(),
        )
        await self.session.execute(
            delete(WebhookEvent)
            .where(WebhookEvent.id.in_(orphaned.limit(limit).scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        return len(ids)
