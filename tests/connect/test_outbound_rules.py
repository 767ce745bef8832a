"""The one field rule of a Business message handed to Connect (one and batch acceptance both call it) and the
wire's UTC time format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tgo.channels.connect_types import OutboundMessage
from tgo.connect_network.outbound import check_outbound
from tgo.errors import ValidationFailed
from tgo.kit.clock import utc_iso


def test_check_outbound_normalises_both_phones() -> None:
    message = OutboundMessage(
        business_message_id=" b:1 ",
        sender_phone="+20 100 118 7188",
        sender_name="Support",
        to_phone="+201010000000",
        type="text",
        content="hi",
    )
    assert check_outbound(message) == ("+201010000000", "+201001187188")


def test_check_outbound_names_every_bad_field_at_once() -> None:
    message = OutboundMessage(
        business_message_id=" ",
        sender_phone="nope",
        sender_name="Support",
        to_phone="12",
        type="image",
    )
    with pytest.raises(ValidationFailed) as caught:
        check_outbound(message)
    assert set(caught.value.extra["errors"]) == {"business_message_id", "media", "to_phone", "sender_phone"}
    with pytest.raises(ValidationFailed) as caught:
        check_outbound(
            OutboundMessage(
                business_message_id="b",
                sender_phone="+201001187188",
                sender_name="S",
                to_phone="+201010000000",
                type="sticker",
            )
        )
    assert set(caught.value.extra["errors"]) == {"type"}


def test_utc_iso_writes_z() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert utc_iso(at) == "2026-01-02T03:04:05.123456Z"
    # Another offset keeps its own (callers hand it UTC times).
    assert utc_iso(at.astimezone(timezone(timedelta(hours=2)))) == "2026-01-02T05:04:05.123456+02:00"
