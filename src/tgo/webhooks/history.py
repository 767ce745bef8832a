"""A delivery's history read as runs: the first dispatch with its retries, then each replay with its
single attempt, so a replay that fails does not read as the original delivery failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tgo.models import WebhookDeliveryAttempt
from tgo.webhooks.service import DeliveryRecord


@dataclass(frozen=True)
class DeliveryRun:
    replay: bool
    attempts: list[WebhookDeliveryAttempt]

    @property
    def outcome(self) -> str:
        """``succeeded``, ``failed`` or ``pending`` (no attempt yet)."""
        if not self.attempts:
            return "pending"
        return "succeeded" if self.attempts[-1].success else "failed"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def delivery_runs(record: DeliveryRecord) -> list[DeliveryRun]:
    """The first run, then the latest replay. A replay makes the delivery due for exactly one attempt by
    setting ``retry_until`` to the moment it was asked for, while a delivery's own retries all happen
    before its ``retry_until``: attempts from that moment on are the replay's."""
    d = record.delivery
    if d.retry_until is None:
        return [DeliveryRun(replay=False, attempts=list(record.attempts))]
    since = _utc(d.retry_until)
    before = [a for a in record.attempts if _utc(a.attempted_at) < since]
    after = [a for a in record.attempts if _utc(a.attempted_at) >= since]
    if not before or not after:
        return [DeliveryRun(replay=False, attempts=list(record.attempts))]
    return [DeliveryRun(replay=False, attempts=before), DeliveryRun(replay=True, attempts=after)]
