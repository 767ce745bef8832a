"""API key scopes (SPEC section 2)."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    ALL = "*"
    MESSAGES_SEND = "messages.send"
    MESSAGES_READ = "messages.read"
    CONTACTS_LOOKUP = "contacts.lookup"
    USAGE_READ = "usage.read"
    WEBHOOKS_MANAGE = "webhooks.manage"
    SMS_SEND = "sms.send"
    SMS_READ = "sms.read"
    SMS_SENDERS = "sms.senders"


ALL_SCOPES: tuple[str, ...] = tuple(s.value for s in Scope)


def parse_scopes(raw: str | list[str]) -> list[str]:
    """Validate a comma-separated or list form; raises ValueError naming an unknown scope."""
    items = [s.strip() for s in (raw.split(",") if isinstance(raw, str) else raw) if s.strip()]
    if not items:
        raise ValueError("at least one scope is required")
    for item in items:
        if item not in ALL_SCOPES:
            raise ValueError(f"unknown scope {item!r}; known: {', '.join(ALL_SCOPES)}")
    return sorted(set(items))
