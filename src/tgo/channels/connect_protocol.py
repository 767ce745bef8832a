"""The wire protocol both sides of TGO Connect share: the API bearer token, the event signature and
phone-number normalisation. Keys are derived from the platform secret so the two sides need only
the same ``TGO_SECRET_KEY``."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from tgo.kit.phones import e164 as cached_e164

API_PATH = "/connect/v1"
EVENTS_PATH = "/internal/connect/events"
# How far an event's timestamp may be from the receiver's clock (replay window).
EVENT_TOLERANCE_SECONDS = 300

HEADER_EVENT_ID = "x-connect-event-id"
HEADER_TIMESTAMP = "x-connect-timestamp"
HEADER_SIGNATURE = "x-connect-signature"


def _derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def api_token(secret: bytes) -> str:
    """The bearer token Business presents to Connect's API."""
    return _derive(secret, "connect-api").hex()


def token_matches(secret: bytes, presented: str) -> bool:
    return hmac.compare_digest(api_token(secret).encode(), presented.encode())


def inbox_token(secret: bytes, phone: str) -> str:
    """A per-phone key for the browser inbox page (so a URL guess cannot read someone's OTPs)."""
    return hmac.new(_derive(secret, "connect-inbox"), phone.encode(), hashlib.sha256).hexdigest()[:32]


def inbox_token_matches(secret: bytes, phone: str, presented: str) -> bool:
    """Whether ``presented`` is ``phone``'s inbox key (constant time)."""
    return hmac.compare_digest(inbox_token(secret, phone).encode(), presented.strip().encode())


def sign_event(secret: bytes, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 over "<timestamp>.<body>">`` with the events key."""
    mac = hmac.new(_derive(secret, "connect-events"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_event(
    secret: bytes, timestamp: str | None, signature: str | None, body: bytes, at: datetime
) -> bool:
    """True when the signature is ours and the timestamp is within the tolerance of ``at``."""
    if not timestamp or not signature or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(at.timestamp() - int(timestamp)) > EVENT_TOLERANCE_SECONDS:
        return False
    expected = sign_event(secret, int(timestamp), body)
    # Several space-separated signatures are allowed (key rotation); any match is enough.
    return any(hmac.compare_digest(expected.encode(), s.encode()) for s in signature.split())


class InvalidPhone(ValueError):
    """Not a valid phone number (E.164 expected)."""


def normalize_phone(value: str) -> str:
    """E.164 for a valid international number (``+`` or ``00`` prefix); raises InvalidPhone otherwise."""
    raw = (value or "").strip()
    if (value or "").startswith(" ") and raw[:1].isdigit():
        raw = "+" + raw  # a "+" that an unencoded query string turned into a space
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if not raw.startswith("+") or len(raw) > 32:
        raise InvalidPhone(value)
    e164 = cached_e164(raw)  # cached: the same few phones are normalised on every message
    if e164 is None:
        raise InvalidPhone(value)
    return e164
