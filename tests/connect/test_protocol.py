"""The shared Connect protocol: phone normalisation, the API token and event signatures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tgo.channels.connect_protocol import (
    InvalidPhone,
    api_token,
    inbox_token,
    normalize_phone,
    sign_event,
    token_matches,
    verify_event,
)


@pytest.mark.parametrize(
    "raw",
    ["+201001187188", "+20 100 118 7188", "00201001187188", " 201001187188", "+20-100-118-7188"],
)
def test_phones_are_normalised_to_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+201001187188"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "201001187188",
        "+",
        "+20",
        "+2010011871889999",
        "+1555123456",
        "abc",
        "+20100118718a",
        "+" + "1" * 40,
    ],
)
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


def test_api_token_is_derived_and_compared_in_constant_time() -> None:
    secret = b"x" * 40
    token = api_token(secret)
    assert len(token) == 64 and token != api_token(b"y" * 40)
    assert token_matches(secret, token)
    assert not token_matches(secret, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not token_matches(secret, "")
    assert inbox_token(secret, "+201001187188") != inbox_token(secret, "+201010000000")


def test_event_signatures() -> None:
    secret, body = b"k" * 40, b'{"id":"1"}'
    at = datetime(2026, 1, 1, tzinfo=UTC)
    ts = int(at.timestamp())
    sig = sign_event(secret, ts, body)
    assert sig.startswith("v1=")
    assert verify_event(secret, str(ts), sig, body, at)
    assert verify_event(secret, str(ts), f"v1=deadbeef {sig}", body, at)  # rotation: any one matches
    assert not verify_event(secret, str(ts), sig, body + b" ", at)
    assert not verify_event(b"other" * 8, str(ts), sig, body, at)
    assert not verify_event(secret, str(ts + 1), sig, body, at)
    assert not verify_event(secret, str(ts), sig, body, datetime.fromtimestamp(ts + 301, UTC))
    assert verify_event(secret, str(ts), sig, body, datetime.fromtimestamp(ts + 300, UTC))
    assert not verify_event(secret, None, sig, body, at)
    assert not verify_event(secret, "-5", sig, body, at)
    assert not verify_event(secret, str(ts), None, body, at)
