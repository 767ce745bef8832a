"""Webhook rules: endpoints (create, list, update, delete, rotate the secret), the event listener that
writes the outbox, delivery attempts with back-off, the sweeper, deliveries and replays.

Services never commit. Functions that need the platform secret or the SSRF policy take ``settings``."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import msgspec
import structlog
from msgspec import UNSET, UnsetType
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.config import Settings
from tgo.db import after_commit
from tgo.errors import Conflict, NotFound, ValidationFailed
from tgo.events import interest_changed
from tgo.kit.backoff import retry_delay
from tgo.kit.clock import now
from tgo.kit.pagination import MAX_ID, check_limit, cursor_id, decode_cursor, encode_cursor
from tgo.metrics import SWEEPER_REPUBLISHED, WEBHOOK_DELIVERIES, WEBHOOK_LATENCY, observe_backlog
from tgo.models.webhook import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint, WebhookEvent
from tgo.runtime import Runtime, runtime_of
from tgo.webhooks.delivery import (
    AttemptResult,
    address_refusal,
    build_client,
    literal_address,
    post_webhook,
)
from tgo.webhooks.repository import (
    DeliveryStatus,
    DeliveryWork,
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
)
from tgo.webhooks.signing import SecretBox, generate_secret, signature_header
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.webhooks")
T = TypeVar("T")

TASK_DELIVER = "webhooks.deliver"
ENDPOINT_GONE = "endpoint_gone"
ENDPOINT_DISABLED = "endpoint_disabled"
MAX_GRACE_SECONDS = 7 * 86400
MAX_URL_LENGTH = 2048
SWEEP_BATCH = 500
_CONTROL = re.compile(r"[\x00-\x20\x7f]")

EVENT_TYPES = events.EVENT_TYPES


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class WebhookDeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


class WebhookDeliveryPending(Conflict):
    code = "webhook_delivery_pending"


class WebhookDisabled(Conflict):
    code = "webhook_disabled"


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery with its event and every attempt (oldest first)."""

    delivery: WebhookDelivery
    event: WebhookEvent
    attempts: list[WebhookDeliveryAttempt]


# --- validation -------------------------------------------------------------------------------------


def validate_url(raw: str, *, allow_private: bool) -> str:
    """An http(s) URL without credentials; literal addresses and localhost names are vetted here too,
    every other host name is vetted after DNS resolution at each delivery."""
    url = raw.strip()
    problems: list[str] = []
    if _CONTROL.search(url):
        raise ValidationFailed({"url": ["The URL must not contain control characters or spaces."]})
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed({"url": ["This is not a valid URL."]}) from None
    if not url or len(url) > MAX_URL_LENGTH:
        problems.append(f"A URL of 1 to {MAX_URL_LENGTH} characters is required.")
    if parts.scheme not in ("http", "https"):
        problems.append("The URL must start with http:// or https://.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        problems.append("The URL must name a host.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        problems.append("Credentials in the URL are not allowed; verify the signature instead.")
    if parts.fragment:
        problems.append("The URL must not contain a fragment.")
    if port == 0:
        problems.append("The URL's port is not valid.")
    if host and not problems:
        ip = literal_address(host)
        reason = address_refusal(ip, allow_private=allow_private) if ip is not None else None
        if reason is None and not allow_private and (host == "localhost" or host.endswith(".localhost")):
            reason = "loopback"
        if reason is not None:
            problems.append(f"Webhooks cannot be sent to a {reason} address.")
    if problems:
        raise ValidationFailed({"url": problems})
    return url


def validate_events(raw: list[str]) -> list[str]:
    chosen: list[str] = []
    unknown: list[str] = []
    for name in raw:
        name = name.strip()
        if name not in EVENT_TYPES:
            unknown.append(name)
        elif name not in chosen:
            chosen.append(name)
    if unknown:
        raise ValidationFailed(
            {"events": [f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}."]}
        )
    if not chosen:
        raise ValidationFailed({"events": ["Subscribe to at least one event type."]})
    return chosen


def _collect(errors: dict[str, list[str]], check: Callable[..., T], *args: Any, **kw: Any) -> T | None:
    """Run one field check, adding its messages to ``errors`` so every bad field is reported at once."""
    try:
        return check(*args, **kw)
    except ValidationFailed as exc:
        errors.update(exc.extra["errors"])
        return None


def validate_description(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    if len(text) > 500:
        raise ValidationFailed({"description": ["At most 500 characters."]})
    if "\x00" in text:
        raise ValidationFailed({"description": ["Control characters are not allowed."]})
    return text or None


# --- endpoints --------------------------------------------------------------------------------------


async def create_webhook(
    session: AsyncSession,
    tenant_id: int,
    *,
    url: str,
    events: list[str],
    settings: Settings,
    description: str | None = None,
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its signing secret, which is shown only this once."""
    errors: dict[str, list[str]] = {}
    checked_url = _collect(errors, validate_url, url, allow_private=settings.webhook_allow_private_networks)
    checked_events = _collect(errors, validate_events, events)
    checked_description = _collect(errors, validate_description, description)
    if errors or checked_url is None or checked_events is None:
        raise ValidationFailed(errors)
    secret = generate_secret()
    current = now()
    endpoint = WebhookEndpoint(
        url=checked_url,
        description=checked_description,
        events=checked_events,
        active=active,
        secret_ciphertext=SecretBox(settings.secret()).encrypt(secret),
        created_at=current,
        updated_at=current,
    )
    await WebhookEndpointRepository(session, tenant_id).add(endpoint)
    await interest_changed(session, tenant_id)
    return endpoint, secret


async def get_webhook(session: AsyncSession, tenant_id: int, webhook_id: int) -> WebhookEndpoint:
    """One endpoint of the tenant (another tenant's is 404, like a missing one)."""
    if not 0 < webhook_id <= MAX_ID:
        raise WebhookNotFound()
    endpoint = await WebhookEndpointRepository(session, tenant_id).get(webhook_id)
    if endpoint is None:
        raise WebhookNotFound()
    return endpoint


async def list_webhooks(
    session: AsyncSession, tenant_id: int, *, cursor: str | None = None, limit: int | None = None
) -> tuple[list[WebhookEndpoint], str | None]:
    """The tenant's endpoints, newest first, with the cursor of the next page (or None)."""
    size = check_limit(limit)
    position = decode_cursor(cursor, "id")
    rows = await WebhookEndpointRepository(session, tenant_id).page(
        before_id=cursor_id(position), limit=size + 1
    )
    next_cursor = encode_cursor(id=rows[size - 1].id) if len(rows) > size else None
    return rows[:size], next_cursor


async def update_webhook(
    session: AsyncSession,
    tenant_id: int,
    webhook_id: int,
    *,
    settings: Settings,
    url: str | UnsetType = UNSET,
    events: list[str] | UnsetType = UNSET,
    description: str | UnsetType | None = UNSET,
    active: bool | UnsetType = UNSET,
) -> WebhookEndpoint:
    """Change what is given. Deactivating fails the endpoint's pending deliveries (they can be
    replayed once it is active again); activating clears a platform-set ``disabled_reason``."""
    endpoint = await get_webhook(session, tenant_id, webhook_id)
    errors: dict[str, list[str]] = {}
    current = now()
    if not isinstance(url, UnsetType):
        new_url = _collect(errors, validate_url, url, allow_private=settings.webhook_allow_private_networks)
    if not isinstance(events, UnsetType):
        new_events = _collect(errors, validate_events, events)
    if not isinstance(description, UnsetType):
        new_description = _collect(errors, validate_description, description)
    if errors:
        raise ValidationFailed(errors)
    if not isinstance(url, UnsetType) and new_url is not None:
        endpoint.url = new_url
    if not isinstance(events, UnsetType) and new_events is not None:
        endpoint.events = new_events
    if not isinstance(description, UnsetType):
        endpoint.description = new_description
    if not isinstance(active, UnsetType) and active != endpoint.active:
        endpoint.active = active
        if active:
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            await interest_changed(session, tenant_id)
        else:
            endpoint.disabled_at = current
            await WebhookDeliveryRepository(session, tenant_id).fail_pending(
                endpoint.id, at=current, error=ENDPOINT_DISABLED
            )
    endpoint.updated_at = current
    await session.flush()
    return endpoint


async def delete_webhook(session: AsyncSession, tenant_id: int, webhook_id: int) -> None:
    """Delete an endpoint with its deliveries and attempts."""
    endpoint = await get_webhook(session, tenant_id, webhook_id)
    await WebhookEndpointRepository(session, tenant_id).delete(endpoint)


async def rotate_webhook_secret(
    session: AsyncSession,
    tenant_id: int,
    webhook_id: int,
    *,
    settings: Settings,
    grace_period_seconds: float | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned once). The previous one keeps signing, next to the new one, for
    the grace period (default TGO_WEBHOOK_SECRET_GRACE_SECONDS) so receivers can switch over."""
    endpoint = await get_webhook(session, tenant_id, webhook_id)
    grace = settings.webhook_secret_grace_seconds if grace_period_seconds is None else grace_period_seconds
    if not 0 <= grace <= MAX_GRACE_SECONDS:
        raise ValidationFailed({"grace_period_seconds": [f"Must be between 0 and {MAX_GRACE_SECONDS}."]})
    box = SecretBox(settings.secret())
    secret = generate_secret()
    current = now()
    if grace > 0:
        endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
        endpoint.previous_secret_expires_at = current + timedelta(seconds=grace)
    else:
        endpoint.previous_secret_ciphertext = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_ciphertext = box.encrypt(secret)
    endpoint.secret_rotated_at = current
    endpoint.updated_at = current
    await session.flush()
    return endpoint, secret


# --- deliveries -------------------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    tenant_id: int,
    webhook_id: int,
    *,
    status: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> tuple[list[DeliveryRecord], str | None]:
    """An endpoint's deliveries, newest first, each with every attempt; ``status`` filters."""
    wanted: DeliveryStatus | None = None
    if status is not None:
        try:
            wanted = DeliveryStatus(status)
        except ValueError:
            raise ValidationFailed(
                {"status": [f"One of: {', '.join(s.value for s in DeliveryStatus)}."]}
            ) from None
    size = check_limit(limit)
    position = decode_cursor(cursor, "id")
    await get_webhook(session, tenant_id, webhook_id)
    repo = WebhookDeliveryRepository(session, tenant_id)
    rows = await repo.page(webhook_id, status=wanted, before_id=cursor_id(position), limit=size + 1)
    next_cursor = encode_cursor(id=rows[size - 1][0].id) if len(rows) > size else None
    rows = rows[:size]
    attempts = await repo.attempts([d.id for d, _ in rows])
    by_delivery: dict[int, list[WebhookDeliveryAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [DeliveryRecord(d, e, by_delivery.get(d.id, [])) for d, e in rows], next_cursor


async def get_delivery(
    session: AsyncSession, tenant_id: int, webhook_id: int, delivery_id: int
) -> DeliveryRecord:
    repo = WebhookDeliveryRepository(session, tenant_id)
    found = (
        await repo.get(webhook_id, delivery_id)
        if 0 < delivery_id <= MAX_ID and 0 < webhook_id <= MAX_ID
        else None
    )
    if found is None:
        await get_webhook(session, tenant_id, webhook_id)  # an unknown webhook says so
        raise WebhookDeliveryNotFound()
    delivery, event = found
    return DeliveryRecord(delivery, event, await repo.attempts([delivery.id]))


async def replay_delivery(
    session: AsyncSession, tenant_id: int, webhook_id: int, delivery_id: int
) -> DeliveryRecord:
    """Send a finished (failed or succeeded) delivery once more, with the same ``webhook-id``."""
    endpoint = await get_webhook(session, tenant_id, webhook_id)
    record = await get_delivery(session, tenant_id, webhook_id, delivery_id)
    if not endpoint.active:
        raise WebhookDisabled()
    current = now()
    if not await WebhookDeliveryRepository(session, tenant_id).requeue(delivery_id, at=current):
        raise WebhookDeliveryPending()
    await session.refresh(record.delivery)
    _publish_after_commit(session, [delivery_id])
    return record


async def send_test_event(session: AsyncSession, tenant_id: int, webhook_id: int) -> DeliveryRecord:
    """A ``webhook.test`` event delivered to this endpoint only (whatever its ``events``), through the
    usual outbox, signing, retries and delivery log, so it shows exactly what the receiver will get."""
    endpoint = await get_webhook(session, tenant_id, webhook_id)
    if not endpoint.active:
        raise WebhookDisabled()
    data = {
        "webhook_id": endpoint.id,
        "url": endpoint.url,
        "message": "A test event from TGO Business: this endpoint receives and verifies events.",
    }
    event, deliveries = await _write_event(
        session, tenant_id, events.EventType.WEBHOOK_TEST, data, [endpoint]
    )
    return DeliveryRecord(deliveries[0], event, [])


# --- the outbox: events recorded in the emitting transaction ------------------------------------------


async def record_event(session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]) -> None:
    """Write the event and one delivery per active endpoint subscribed to it, in the caller's
    transaction; their jobs are published after it commits (or found by the sweeper)."""
    if events.known_uninterested(session, tenant_id):  # read earlier in this transaction (the send path)
        return
    endpoints = [
        e for e in await WebhookEndpointRepository(session, tenant_id).active() if event_type in e.events
    ]
    if endpoints:
        await _write_event(session, tenant_id, event_type, data, endpoints)


async def _write_event(
    session: AsyncSession,
    tenant_id: int,
    event_type: str,
    data: dict[str, Any],
    endpoints: list[WebhookEndpoint],
) -> tuple[WebhookEvent, list[WebhookDelivery]]:
    """The event row and one delivery per endpoint; their jobs are published after commit."""
    current = now()
    repo = WebhookDeliveryRepository(session, tenant_id)
    event = await repo.add_event(
        WebhookEvent(public_id="evt_" + secrets.token_hex(16), type=event_type, body="", created_at=current)
    )
    event.body = msgspec.json.encode(
        {
            "id": event.public_id,
            "type": event_type,
            "timestamp": current,
            "sequence": event.id,
            "data": data,
        }
    ).decode()
    publishable = _publishing_runtime(session) is not None
    deliveries = [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event_id=event.id,
            status=DeliveryStatus.PENDING.value,
            attempt_count=0,
            next_attempt_at=current,
            # Without a runtime to publish through, the sweeper's next pass sends it.
            dispatched_at=current if publishable else None,
            created_at=current,
        )
        for endpoint in endpoints
    ]
    await repo.add_deliveries(deliveries)
    _publish_after_commit(session, [d.id for d in deliveries])
    return event, deliveries


def _publishing_runtime(session: AsyncSession) -> Runtime | None:
    """The started runtime that opened ``session`` (the wiring puts it in the session's info), through which
    the listener publishes jobs; without one (a runtime never started) the sweeper sends the deliveries."""
    runtime = runtime_of(session)
    return runtime if runtime is not None and runtime.started else None


def _publish_after_commit(session: AsyncSession, delivery_ids: list[int]) -> None:
    runtime = _publishing_runtime(session)
    if runtime is None or not delivery_ids:
        return

    async def publish_jobs() -> None:
        for delivery_id in delivery_ids:
            try:
                await publish(runtime, TASK_DELIVER, {"delivery_id": delivery_id})
            except Exception:
                # The delivery row is committed: the sweeper re-publishes it once it is stale.
                log.warning("webhook_publish_failed", delivery_id=delivery_id, exc_info=True)

    after_commit(session, publish_jobs)


# --- delivery attempts --------------------------------------------------------------------------------


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
