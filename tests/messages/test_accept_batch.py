"""The batch writer's read-only Message (built without the ORM's attribute events) reads exactly as a new
``Message(**values)`` does: the response and the event of a batched send are the same."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect

from tgo.messages.accept_batch import _read_only_message
from tgo.messages.schemas import message_view
from tgo.models import Message


def test_the_read_only_message_reads_as_a_new_message() -> None:
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    values = {
        "tenant_id": 7,
        "sender_number_id": 3,
        "sender_phone": "+201001187188",
        "to_phone": "+201010000000",
        "message_type": "text",
        "content": "hi",
        "caption": None,
        "media_id": None,
        "duration": None,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": at,
        "queued_at": at,
        "updated_at": at,
    }
    fast = _read_only_message(values, 42)
    slow = Message(**values, id=42)
    assert message_view(fast).to_dict() == message_view(slow).to_dict()
    for column in Message.__table__.columns:
        assert getattr(fast, column.key) == getattr(slow, column.key), column.key
    assert inspect(fast).transient and fast.id == 42 and fast.failure_code is None
