"""Webhook delivery jobs, each owning its transactions: one attempt (claim, sign, POST through the
SSRF-vetted transport, record), the sweeper that publishes due retries and stranded deliveries, and the
purge of old ones. The database is the truth; a duplicate job is a no-op thanks to the claim."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from tgo.config import Settings
from tgo.kit.backoff import retry_delay
from tgo.kit.clock import now
from tgo.metrics import SWEEPER_REPUBLISHED, WEBHOOK_DELIVERIES, WEBHOOK_LATENCY, observe_backlog
from tgo.models.webhook import WebhookDeliveryAttempt, WebhookEndpoint
from tgo.runtime import Runtime
from tgo.webhooks.outbox import TASK_DELIVER
from tgo.webhooks.repository import DeliveryStatus, DeliveryWork
from tgo.webhooks.service import ENDPOINT_DISABLED, ENDPOINT_GONE
from tgo.webhooks.signing import SecretBox, signature_header
from tgo.webhooks.transport import AttemptResult, build_client, post_webhook
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.webhooks")

SWEEP_BATCH = 500


def attempt_outcome(
    result: AttemptResult, *, attempt: int, at: datetime, deadline: datetime, settings: Settings
) -> dict[str, Any]:
    """The delivery's next state after an attempt (the one transition function of this machine):
    pending → succeeded on 2xx; → failed on 410 or once the retry deadline has passed; otherwise
    pending again with the next attempt after the back-off delay."""
    values: dict[str, Any] = {
        "attempt_count": attempt,
        "last_attempt_at": at,
        "last_status_code": result.status_code,
        "last_error": _error_text(result),
        "dispatched_at": None,
    }
    if result.success:
        return values | {
            "status": DeliveryStatus.SUCCEEDED.value,
            "next_attempt_at": None,
            "completed_at": at,
        }
    if result.gone or at >= deadline:
        return values | {
            "status": DeliveryStatus.FAILED.value,
            "next_attempt_at": None,
            "completed_at": at,
            "last_error": ENDPOINT_GONE if result.gone else values["last_error"],
        }
    delay = retry_delay(
        attempt, base=settings.webhook_retry_base_seconds, cap=settings.webhook_retry_max_seconds
    )
    return values | {"status": DeliveryStatus.PENDING.value, "next_attempt_at": at + timedelta(seconds=delay)}


def _error_text(result: AttemptResult) -> str | None:
    if result.success:
        return None
    if result.error:
        return result.error
    return f"HTTP {result.status_code}"


def webhook_client(runtime: Runtime) -> httpx.AsyncClient:
    """The runtime's SSRF-vetted webhook client (``runtime.webhook_client`` builds it on first use; tests
    pass ``webhook_resolver`` to the wiring to exercise DNS answers they cannot get from the system)."""
    settings = runtime.settings
    client = build_client(
        allow_private=lambda: runtime.settings.webhook_allow_private_networks,
        connect_timeout=settings.webhook_connect_timeout_seconds,
        read_timeout=settings.webhook_read_timeout_seconds,
        resolver=runtime.webhook_resolver,
    )
    runtime.on_shutdown(client.aclose)
    return client


async def attempt_delivery(runtime: Runtime, delivery_id: int) -> AttemptResult | None:
    """Claim a due delivery, POST it once and record the attempt; ``None`` when there was nothing to do
    (not due, already claimed, finished). No database connection is held during the HTTP request."""
    settings = runtime.settings
    total_timeout = settings.webhook_connect_timeout_seconds + settings.webhook_read_timeout_seconds
    token = secrets.token_hex(16)
    claimed_at = now()
    async with runtime.db.session_scope() as session:
        work = DeliveryWork(session)
        lease = claimed_at + timedelta(seconds=total_timeout + 60)
        if not await work.claim(delivery_id, token=token, at=claimed_at, until=lease):
            return None
        loaded = await work.load(delivery_id)
        if loaded is None:
            return None
        delivery, endpoint, event = loaded
        tenant_id, endpoint_id = delivery.tenant_id, endpoint.id
        attempt = delivery.attempt_count + 1
        deadline = delivery.retry_until or (
            delivery.created_at + timedelta(seconds=settings.webhook_retry_window_seconds)
        )
        if not endpoint.active:
            await work.finish(
                delivery_id,
                token=token,
                values={
                    "status": DeliveryStatus.FAILED.value,
                    "next_attempt_at": None,
                    "dispatched_at": None,
                    "last_error": ENDPOINT_DISABLED,
                    "completed_at": claimed_at,
                },
            )
            return None
        url, body, msg_id = endpoint.url, event.body.encode(), event.public_id
        try:
            signing_secrets = _signing_secrets(SecretBox(settings.secret()), endpoint, claimed_at)
        except ValueError as exc:
            signing_secrets = []
            secret_error = str(exc)

    sent_at = now()
    if signing_secrets:
        timestamp = int(sent_at.timestamp())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(signing_secrets, msg_id, timestamp, body),
        }
        result = await post_webhook(
            runtime.webhook_client.get(),
            url,
            body,
            headers,
            max_bytes=settings.webhook_response_max_bytes,
            total_timeout=total_timeout,
        )
    else:
        result = AttemptResult(status_code=None, latency_ms=0, response_body=None, error=secret_error)
    finished = now()

    async with runtime.db.session_scope() as session:
        work = DeliveryWork(session)
        await work.add_attempt(
            WebhookDeliveryAttempt(
                tenant_id=tenant_id,
                delivery_id=delivery_id,
                attempted_at=sent_at,
                success=result.success,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                response_body=result.response_body,
                error=result.error,
            )
        )
        values = attempt_outcome(result, attempt=attempt, at=finished, deadline=deadline, settings=settings)
        if result.gone:
            if await work.disable_endpoint(endpoint_id, reason=ENDPOINT_GONE, at=finished):
                log.warning("webhook_endpoint_disabled", endpoint_id=endpoint_id, reason=ENDPOINT_GONE)
        elif values["status"] == DeliveryStatus.PENDING.value and not await work.endpoint_active(endpoint_id):
            values |= {
                "status": DeliveryStatus.FAILED.value,
                "next_attempt_at": None,
                "completed_at": finished,
                "last_error": ENDPOINT_DISABLED,
            }
        await work.finish(delivery_id, token=token, values=values)
    WEBHOOK_DELIVERIES.labels(values["status"]).inc()
    if signing_secrets:  # a request was made (answered, refused or timed out)
        WEBHOOK_LATENCY.observe(result.latency_ms / 1000)
    log.info(
        "webhook_attempt",
        delivery_id=delivery_id,
        attempt=attempt,
        status_code=result.status_code,
        error=result.error,
        latency_ms=result.latency_ms,
        outcome=values["status"],
    )
    return result


def _signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, at: datetime) -> list[str]:
    found = [box.decrypt(endpoint.secret_ciphertext)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext and expires is not None and expires > at:
        found.append(box.decrypt(endpoint.previous_secret_ciphertext))
    return found


async def sweep_due_deliveries(runtime: Runtime) -> int:
    """Publish a job for every due delivery whose job is not recent (retries after their back-off, and
    work stranded by a crash or a lost job); returns how many were published."""
    settings = runtime.settings
    current = now()
    stale_before = current - timedelta(seconds=settings.sweeper_stale_seconds)
    async with runtime.db.session_scope() as session:
        work = DeliveryWork(session)
        ids = await work.take_due(at=current, stale_before=stale_before, limit=SWEEP_BATCH)
        observe_backlog("webhooks", *await work.backlog(), current)
    for delivery_id in ids:
        await publish(runtime, TASK_DELIVER, {"delivery_id": delivery_id})
        SWEEPER_REPUBLISHED.labels("webhooks").inc()
    return len(ids)


async def purge_old_deliveries(runtime: Runtime) -> int:
    """Delete finished deliveries, their attempts and unreferenced events older than the retention."""
    before = now() - timedelta(days=runtime.settings.webhook_retention_days)
    total = 0
    while True:
        async with runtime.db.session_scope() as session:
            purged = await DeliveryWork(session).purge_finished(before=before, limit=SWEEP_BATCH)
        total += purged
        if purged < SWEEP_BATCH:
            return total
