"""The transport of every ConnectClient call: Connect's /connect/v1 API over one HTTP client (real HTTP, or an
in-process ASGI transport), with the timeout, credentials and error mapping the Business side relies on."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from tgo.channels.connect_http import LeanHttpClient, LeanResponse
from tgo.channels.connect_protocol import API_PATH, api_token
from tgo.channels.connect_types import ConnectRejected, ConnectUnavailable

T = TypeVar("T")

# httpx logs every request at INFO: one line per Connect call (and per CLI command) is noise.
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)


class ConnectInvalidRequest(ConnectRejected):
    """Connect refused the request itself (422 ``validation_failed``, e.g. a malformed phone)."""

    def __init__(self, reason_code: str, detail: str = "", errors: dict[str, Any] | None = None) -> None:
        super().__init__(reason_code, detail)
        self.errors = errors or {}


def quote_phone(phone: str) -> str:
    return quote(phone.strip(), safe="")


class ConnectApi:
    """Calls to Connect's /connect/v1 API.

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
        self.secret = secret
        # Also bounds in-process calls, where the transport itself has no timeout.
        self.timeout = (http.timeout.read if isinstance(http, httpx.AsyncClient) else http.timeout) or 10.0
        self.public_url = public_url  # where people open the inbox page, when known

    @classmethod
    def over_http(cls, base_url: str, secret: bytes, timeout: float = 10.0) -> ConnectApi:
        http = LeanHttpClient(
            base_url.rstrip("/"), headers={"authorization": f"Bearer {api_token(secret)}"}, timeout=timeout
        )
        return cls(http, secret=secret, public_url=base_url.rstrip("/"))

    @classmethod
    def over_asgi(cls, app: Any, secret: bytes, timeout: float = 10.0) -> ConnectApi:
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://connect.internal",
            timeout=httpx.Timeout(timeout),
            headers={"authorization": f"Bearer {api_token(secret)}"},
        )
        return cls(http, secret=secret)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        raw: tuple[bytes, str] | None = None,
    ) -> httpx.Response | LeanResponse:
        """``json`` is encoded as the body; ``raw`` is a ready one with its content type (multipart)."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        content = msgspec.json.encode(json) if json is not None else None
        content_type = "application/json" if json is not None else None
        if raw is not None:
            content, content_type = raw
        resp: httpx.Response | LeanResponse
        try:
            async with asyncio.timeout(self.timeout + 1):
                if isinstance(self.http, LeanHttpClient):
                    resp = await self.http.request(
                        method,
                        API_PATH + path,
                        content=content,
                        content_type=content_type,
                        params=query,
                    )
                else:
                    resp = await self.http.request(
                        method,
                        API_PATH + path,
                        content=content,
                        headers={"content-type": content_type} if content_type else None,
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
    def decode(resp: httpx.Response | LeanResponse, typ: type[T]) -> T:
        try:
            return msgspec.json.decode(resp.content, type=typ)
        except msgspec.DecodeError as exc:
            raise ConnectUnavailable(f"unexpected answer from Connect: {exc}") from exc
