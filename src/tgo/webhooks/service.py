"""Webhook endpoints (create, list, update, delete, rotate the secret) and their deliveries (list, show,
replay, send a test event), in the caller's session. The outbox listener is in ``webhooks.outbox``, the
delivery attempts, sweeper and purge in ``webhooks.jobs``.

Services never commit. Functions that need the platform secret or the SSRF policy take ``settings``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from msgspec import UNSET, UnsetType
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.config import Settings
from tgo.errors import Conflict, NotFound, ValidationFailed
from tgo.kit.clock import now
from tgo.kit.pagination import MAX_ID, check_limit, cursor_id, decode_cursor, encode_cursor
from tgo.models.webhook import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint, WebhookEvent
from tgo.webhooks.outbox import publish_after_commit, write_event
from tgo.webhooks.repository import (
    DeliveryStatus,
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
)
from tgo.webhooks.signing import SecretBox, generate_secret
from tgo.webhooks.transport import (
    address_refusal,
    literal_address,
)

T = TypeVar("T")

ENDPOINT_GONE = "endpoint_gone"
ENDPOINT_DISABLED = "endpoint_disabled"
MAX_GRACE_SECONDS = 7 * 86400
MAX_URL_LENGTH = 2048
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
    publish_after_commit(session, [delivery_id])
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
    event, deliveries = await write_event(session, tenant_id, events.EventType.WEBHOOK_TEST, data, [endpoint])
    return DeliveryRecord(deliveries[0], event, [])
