"""Usage per sender number — counts by type and by status — from the maintained aggregates."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.errors import ValidationFailed
from tgo.usage.repository import UsageRepository

TYPES = ("text", "image", "voice", "document")
STATUSES = ("queued", "sent", "delivered", "read", "failed")


def _bucket() -> dict[str, Any]:
    return {"total": 0, "by_type": dict.fromkeys(TYPES, 0), "by_status": dict.fromkeys(STATUSES, 0)}


def _add(bucket: dict[str, Any], message_type: str, status: str, count: int) -> None:
    # ``by_status`` counts messages in each current status; every message counts once in ``total``.
    bucket["total"] += count
    bucket["by_type"][message_type] = bucket["by_type"].get(message_type, 0) + count
    bucket["by_status"][status] = bucket["by_status"].get(status, 0) + count


async def usage(
    session: AsyncSession,
    tenant_id: int,
    *,
    since: date | None,
    until: date | None,
    sender_number_id: int | None,
    per_day: bool,
) -> dict[str, Any]:
    if since and until and since > until:
        raise ValidationFailed({"until": ["Must not be before since."]})
    repo = UsageRepository(session, tenant_id)
    rows = await repo.totals(since, until, sender_number_id)
    phones = await repo.phones({r[0] for r in rows})
    senders: dict[int, dict[str, Any]] = {}
    days: dict[int, dict[date, dict[str, Any]]] = defaultdict(dict)
    total = _bucket()
    for sid, day, message_type, status, count in rows:
        if count == 0:
            continue
        bucket = senders.setdefault(
            sid, {"sender_number_id": sid, "sender_phone": phones.get(sid), **_bucket()}
        )
        _add(bucket, message_type, status, count)
        _add(total, message_type, status, count)
        if per_day:
            _add(days[sid].setdefault(day, _bucket()), message_type, status, count)
    data = []
    for sid in sorted(senders):
        entry = senders[sid]
        if per_day:
            entry["days"] = [{"day": d.isoformat(), **b} for d, b in sorted(days[sid].items())]
        data.append(entry)
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "data": data,
        "totals": total,
    }


@dataclass(frozen=True)
class Rates:
    """A sender's delivery and read rates (fractions; None while nothing has left the queue)."""

    delivery: float | None
    read: float | None


def rates(by_status: dict[str, int]) -> Rates:
    """Delivery rate: delivered or read, of the messages that left the queue (sent, delivered, read,
    failed). Read rate: read, of the delivered or read ones."""
    delivered = by_status.get("delivered", 0) + by_status.get("read", 0)
    settled = delivered + by_status.get("sent", 0) + by_status.get("failed", 0)
    return Rates(
        delivery=delivered / settled if settled else None,
        read=by_status.get("read", 0) / delivered if delivered else None,
    )
