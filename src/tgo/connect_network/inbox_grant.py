"""Connect's own inbox page remembers, in a signed cookie of its own (itsdangerous, key from
``settings.secret()``), which phones this browser opened with their key, and a CSRF token for its forms.
It holds phone numbers and the token, never a key: the key is posted once and never appears in a URL
(browser history, Referer, proxy and access logs)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "tgo_connect_inbox"
COOKIE_PATH = "/connect/inbox"
MAX_AGE_SECONDS = 12 * 3600
MAX_PHONES = 10


@dataclass
class InboxGrant:
    phones: list[str] = field(default_factory=list)
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    changed: bool = False

    def open(self, phone: str) -> None:
        """Remember that this browser presented ``phone``'s key (the most recent MAX_PHONES)."""
        self.phones = [*[p for p in self.phones if p != phone][-(MAX_PHONES - 1) :], phone]
        self.changed = True

    def allows(self, phone: str) -> bool:
        return phone in self.phones

    def csrf_matches(self, presented: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), presented.encode())


class InboxGrantCodec:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="tgo.connect.inbox")

    def load(self, cookie: str | None) -> InboxGrant:
        data: Any = None
        if cookie:
            try:
                data = self._serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
            except BadSignature:
                data = None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return InboxGrant(changed=True)
        phones = data.get("p")
        kept = [p for p in phones if isinstance(p, str)][-MAX_PHONES:] if isinstance(phones, list) else []
        return InboxGrant(phones=kept, csrf=data["c"])

    def dump(self, grant: InboxGrant) -> str:
        return self._serializer.dumps({"p": grant.phones, "c": grant.csrf})
