"""ConnectClient: the only way Business code talks to a TGO Connect network (HTTP, with timeouts).

``get_connect_client(runtime)`` gives the runtime's client: over real HTTP to TGO_CONNECT_URL, or, when
that is unset, over an in-process ASGI transport to the embedded reference network."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from tgo.channels.connect_http import LeanHttpClient, LeanResponse
from tgo.channels.connect_protocol import (
    API_PATH,
    api_token,
    inbox_token,
    inbox_token_matches,
    normalize_phone,
)
from tgo.channels.connect_types import (
    ConnectAccount,
    ConnectError,
    ConnectRejected,
    ConnectUnavailable,
    InboxMessage,
    Lookup,
    OutboundMessage,
    SendResult,
)

if TYPE_CHECKING:
    from tgo.runtime import Runtime

T = TypeVar("T")
_KEY = "connect_client"

# httpx logs every request at INFO: one line per Connect call (and per CLI command) is noise.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)


class ConnectBlock(msgspec.Struct, kw_only=True):
    phone: str
    sender_phone: str
    created_at: datetime


class InboxPage(msgspec.Struct, kw_only=True):
    """One page of an inbox, newest first; ``next_cursor`` asks for the older messages (None: last page)."""

    phone: str
    data: list[InboxMessage]
    next_cursor: str | None = None


class _Attempts(msgspec.Struct, kw_only=True):
    business_message_id: str
    attempts: int


class ConnectInvalidRequest(ConnectRejected):
    """Connect refused the request itself (422 ``validation_failed``, e.g. a malformed phone)."""

    def __init__(self, reason_code: str, detail: str = "", errors: dict[str, Any] | None = None) -> None:
        super().__init__(reason_code, detail)
        self.errors = errors or {}


def _p(phone: str) -> str:
    return quote(phone.strip(), safe="")


class ConnectClient:
    """Async client of Connect's /connect/v1 API.

    Raises ConnectUnavailable on connection errors, timeouts and 5xx (retry later); ConnectRejected
    with a ``reason_code`` when Connect refuses (``not_found``, ``phone_not_verified``,
    ``account_disabled``, ``blocked_sender``, ``account_not_found``, ``account_exists``,
    ``validation_failed`` ...)."""

    def __init__(
        self,
        http: httpx.AsyncClient | LeanHttpClient,
        *,
        secret: bytes,
        public_url: str | None = None,
    ) -> None:
        self.http = http
        self._secret = secret
        # Also bounds in-process calls, where the transport itself has no timeout.
        self.timeout = (http.timeout.read if isinstance(http, httpx.AsyncClient) else http.timeout) or 10.0
        self.public_url = public_url  # where people open the inbox page, when known

    @classmethod
    def over_http(cls, base_url: str, secret: bytes, timeout: float = 10.0) -> ConnectClient:
        http = LeanHttpClient(
            base_url.rstrip("/"), headers={"authorization": f"Bearer {api_token(secret)}"}, timeout=timeout
        )
        return cls(http, secret=secret, public_url=base_url.rstrip("/"))

    @classmethod
    def over_asgi(cls, app: Any, secret: bytes, timeout: float = 10.0) -> ConnectClient:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://connect.internal",
            timeout=httpx.Timeout(timeout),
            headers={"authorization": f"Bearer {api_token(secret)}"},
        )
        return cls(http, secret=secret)

    async def aclose(self) -> None:
        await self.http.aclose()

    # Transport.

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response | LeanResponse:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = msgspec.json.encode(json) if json is not None else None
        resp: httpx.Response | LeanResponse
        try:
            async with asyncio.timeout(self.timeout + 1):
                if isinstance(self.http, LeanHttpClient):
                    resp = await self.http.request(
                        method,
                        API_PATH + path,
                        content=content,
                        content_type="application/json" if json is not None else None,
                        params=query,
                    )
                else:
                    resp = await self.http.request(
                        method,
                        API_PATH + path,
                        content=content,
                        headers={"content-type": "application/json"} if json is not None else None,
                        params=query,
                    )
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise ConnectUnavailable(f"timeout: {exc}") from exc
        except (httpx.TransportError, OSError) as exc:
            raise ConnectUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 500:
            raise ConnectUnavailable(f"HTTP {resp.status_code}")
        if resp.status_code in (401, 403):
            # A wrong TGO_SECRET_KEY on one side: a configuration error, not a recipient problem.
            raise ConnectUnavailable(f"HTTP {resp.status_code}: Connect refused our credentials")
        if resp.status_code == 429:
            raise ConnectUnavailable("HTTP 429: rate limited")
        if resp.status_code >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = {}
            code = str(body.get("code") or ("not_found" if resp.status_code == 404 else "rejected"))
            message = str(body.get("message", ""))
            if code == "validation_failed":
                raise ConnectInvalidRequest(code, message, body.get("errors"))
            raise ConnectRejected(code, message)
        return resp

    @staticmethod
    def _decode(resp: httpx.Response | LeanResponse, typ: type[T]) -> T:
        try:
            return msgspec.json.decode(resp.content, type=typ)
        except msgspec.DecodeError as exc:
            raise ConnectUnavailable(f"unexpected answer from Connect: {exc}") from exc

    # The Business side's operations.

    async def get_account(self, phone: str) -> ConnectAccount | None:
        """The account owning ``phone``, or None."""
        try:
            resp = await self._call("GET", f"/accounts/{_p(phone)}")
        except ConnectRejected as exc:
            if exc.reason_code in ("account_not_found", "not_found"):
                return None
            raise
        return self._decode(resp, ConnectAccount)

    async def lookup(self, phone: str, sender_phone: str | None = None) -> Lookup:
        """Whether ``phone`` can receive (from ``sender_phone``), with a ``reason_code``."""
        resp = await self._call("GET", "/lookup", params={"phone": phone, "sender_phone": sender_phone})
        return self._decode(resp, Lookup)

    async def deliver(self, message: OutboundMessage) -> SendResult:
        """Hand one message to Connect. Idempotent by ``business_message_id``: a retry returns the
        first acceptance with ``duplicate=True`` and the recipient sees the message once."""
        resp = await self._call("POST", "/messages", json=message)
        return self._decode(resp, SendResult)

    async def inbox(self, phone: str, limit: int = 50) -> list[InboxMessage]:
        """The account's newest messages, newest first (ConnectRejected ``account_not_found`` if none)."""
        return (await self.inbox_page(phone, limit)).data

    async def inbox_page(self, phone: str, limit: int = 50, cursor: str | None = None) -> InboxPage:
        """One page of the account's inbox (at most 200); ``cursor`` is the previous page's ``next_cursor``."""
        params = {"limit": limit, "cursor": cursor or None}
        resp = await self._call("GET", f"/accounts/{_p(phone)}/inbox", params=params)
        return self._decode(resp, InboxPage)

    async def mark_read(self, phone: str, inbox_message_id: int) -> InboxMessage:
        resp = await self._call("POST", f"/accounts/{_p(phone)}/inbox/{int(inbox_message_id)}/read")
        return self._decode(resp, InboxMessage)

    async def attempts(self, business_message_id: str) -> int:
        """How many acceptance requests Connect received for this id (duplicates included)."""
        resp = await self._call("GET", f"/messages/{quote(business_message_id, safe='')}/attempts")
        return self._decode(resp, _Attempts).attempts

    # Operator operations (CLI, demo, tests).

    async def create_account(
        self,
        phone: str,
        *,
        name: str | None = None,
        language: str = "en",
        verified: bool = False,
        phone_verified: bool = True,
    ) -> ConnectAccount:
        resp = await self._call(
            "POST",
            "/accounts",
            json={
                "phone": phone,
                "name": name,
                "language": language,
                "account_verified": verified,
                "phone_verified": phone_verified,
            },
        )
        return self._decode(resp, ConnectAccount)

    async def set_account_verified(self, phone: str, verified: bool = True) -> ConnectAccount:
        action = "verify" if verified else "unverify"
        return self._decode(await self._call("POST", f"/accounts/{_p(phone)}/{action}"), ConnectAccount)

    async def set_phone_verified(self, phone: str, verified: bool = True) -> ConnectAccount:
        resp = await self._call(
            "POST", f"/accounts/{_p(phone)}/phone-verification", json={"verified": verified}
        )
        return self._decode(resp, ConnectAccount)

    async def disable_account(self, phone: str, disabled: bool = True) -> ConnectAccount:
        action = "disable" if disabled else "enable"
        return self._decode(await self._call("POST", f"/accounts/{_p(phone)}/{action}"), ConnectAccount)

    async def block(self, phone: str, sender_phone: str) -> ConnectBlock:
        resp = await self._call("POST", f"/accounts/{_p(phone)}/blocks", json={"sender_phone": sender_phone})
        return self._decode(resp, ConnectBlock)

    async def unblock(self, phone: str, sender_phone: str) -> None:
        await self._call("DELETE", f"/accounts/{_p(phone)}/blocks/{_p(sender_phone)}")

    async def fail_next_messages(self, count: int, status: int = 503) -> None:
        """Reference network only: answer the next ``count`` deliveries with ``status`` (a 5xx), after
        counting them as attempts — to exercise retries (per Connect process)."""
        await self._call("POST", "/faults", json={"fail_next_messages": count, "status": status})

    def inbox_key(self, phone: str) -> str:
        """The key that opens ``phone``'s inbox (what the "phone" holds in the reference network)."""
        return inbox_token(self._secret, normalize_phone(phone))

    def inbox_key_matches(self, phone: str, key: str) -> bool:
        """Whether ``key`` opens ``phone``'s inbox (constant time)."""
        return inbox_token_matches(self._secret, normalize_phone(phone), key)

    def inbox_url(self, phone: str, base_url: str | None = None) -> str:
        """The browser inbox page of ``phone``. It asks for the phone's key (``inbox_key``) in a form: a key in
        a URL would end up in browser history, Referer headers and access logs."""
        e164 = normalize_phone(phone)
        base = (base_url or self.public_url or "").rstrip("/")
        return f"{base}/connect/inbox/{e164}"


def get_connect_client(runtime: Runtime) -> ConnectClient:
    """The runtime's ConnectClient (cached in ``runtime.extras``; closed with the runtime)."""
    client: ConnectClient | None = runtime.extras.get(_KEY)
    if client is not None:
        return client
    settings = runtime.settings
    if settings.connect_url:
        client = ConnectClient.over_http(
            settings.connect_url, settings.secret(), timeout=settings.connect_timeout_seconds
        )
    else:
        from tgo.connect_network.embedded import get_embedded_connect

        embedded = get_embedded_connect(runtime)
        client = ConnectClient.over_asgi(
            embedded.app, settings.secret(), timeout=settings.connect_timeout_seconds
        )
    runtime.extras[_KEY] = client
    runtime.on_shutdown(client.aclose)
    return client


__all__ = [
    "ConnectAccount",
    "ConnectBlock",
    "ConnectClient",
    "ConnectError",
    "ConnectInvalidRequest",
    "ConnectRejected",
    "ConnectUnavailable",
    "InboxMessage",
    "Lookup",
    "OutboundMessage",
    "SendResult",
    "get_connect_client",
]
