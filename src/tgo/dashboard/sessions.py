"""Dashboard sessions: a signed (itsdangerous, key from ``settings.secret()``) HttpOnly SameSite cookie.

The cookie holds only the user id, the tenant id, the user's session version, a per-session CSRF token and
the Connect inboxes this session opened with their keys (phone numbers, never the keys), so any API process
can read it (no server-side store to share). Every request compares the version with ``users.session_version``,
which logout and a password change bump: that ends every session of the user, copied cookies included.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "tgo_dashboard"
MAX_AGE_SECONDS = 12 * 3600
COOKIE_PATH = "/dashboard"
MAX_INBOXES = 10


@dataclass
class DashboardSession:
    user_id: int | None = None
    tenant_id: int | None = None
    session_version: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # The language chosen before logging in (the login page); a logged-in user's is in users.language.
    language: str | None = None
    # One-shot notices shown on the next page (e.g. "API key revoked").
    flashes: list[tuple[str, str]] = field(default_factory=list)
    # Phones whose Connect inbox this session opened with the phone's key (the signed cookie is the grant).
    inboxes: list[str] = field(default_factory=list)
    changed: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "u": self.user_id,
            "t": self.tenant_id,
            "v": self.session_version,
            "c": self.csrf,
            "l": self.language,
            "f": self.flashes,
            "i": self.inboxes,
        }

    @classmethod
    def from_payload(cls, data: Any) -> DashboardSession:
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return cls(changed=True)
        flashes = data.get("f") or []
        inboxes = data.get("i") or []
        return cls(
            user_id=data.get("u") if isinstance(data.get("u"), int) else None,
            tenant_id=data.get("t") if isinstance(data.get("t"), int) else None,
            session_version=data.get("v") if isinstance(data.get("v"), int) else None,
            csrf=data["c"],
            language=data.get("l") if data.get("l") in ("en", "ar") else None,
            flashes=[(str(k), str(m)) for k, m in flashes if isinstance(k, str)]
            if isinstance(flashes, list)
            else [],
            inboxes=[p for p in inboxes if isinstance(p, str)][-MAX_INBOXES:]
            if isinstance(inboxes, list)
            else [],
        )

    def flash(self, kind: str, message: str) -> None:
        self.flashes.append((kind, message))
        self.changed = True

    def pop_flashes(self) -> list[tuple[str, str]]:
        flashes, self.flashes = self.flashes, []
        if flashes:
            self.changed = True
        return flashes

    def open_inbox(self, phone: str) -> None:
        """Remember that this session presented ``phone``'s inbox key (the most recent MAX_INBOXES)."""
        kept = [p for p in self.inboxes if p != phone][-(MAX_INBOXES - 1) :]
        self.inboxes = [*kept, phone]
        self.changed = True

    def can_read_inbox(self, phone: str) -> bool:
        return phone in self.inboxes

    def log_in(self, user_id: int, tenant_id: int, session_version: int) -> None:
        # A fresh CSRF token at login: a token seen before authentication is never trusted after it; inboxes
        # opened before belong to whoever used the browser then.
        self.user_id, self.tenant_id = user_id, tenant_id
        self.session_version = session_version
        self.csrf = secrets.token_urlsafe(32)
        self.inboxes = []
        self.changed = True

    def log_out(self) -> None:
        self.user_id = self.tenant_id = self.session_version = None
        self.csrf = secrets.token_urlsafe(32)
        self.inboxes = []
        self.changed = True


class SessionCodec:
    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="tgo.dashboard.session")

    def load(self, cookie: str | None) -> DashboardSession:
        if not cookie:
            return DashboardSession(changed=True)
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return DashboardSession(changed=True)
        return DashboardSession.from_payload(data)

    def dump(self, session: DashboardSession) -> str:
        return self._serializer.dumps(session.to_payload())
