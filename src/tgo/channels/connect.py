"""ConnectClient: the only way Business code talks to a TGO Connect network (HTTP, with timeouts).

``runtime.connect`` is the runtime's client, chosen by ``tgo.wiring``: over real HTTP to TGO_CONNECT_URL, or,
when that is unset, over an in-process ASGI transport to the embedded reference network.

``ConnectClient`` is what the Business side's paths call (sender checks and OTPs, the send-time lookup,
delivery); ``HttpConnectClient`` is its implementation over ``ConnectApi``. The operator and test-only
calls of the reference network are ``channels/connect_admin.ConnectAdminClient``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Self

from tgo.channels.connect_api import ConnectApi, ConnectInvalidRequest, quote_phone
from tgo.channels.connect_types import (
    MAX_BATCH_MESSAGES,
    BatchAcceptance,
    BatchItemResult,
    ConnectAccount,
    ConnectError,
    ConnectRejected,
    ConnectUnavailable,
    InboxMessage,
    Lookup,
    OutboundBatch,
    OutboundMessage,
    ReachabilityPage,
    SendResult,
)
from tgo.kit.clock import now


class ConnectClient(ABC):
    """The Business side's view of a Connect network.

    Raises ConnectUnavailable when Connect cannot answer (retry later) and ConnectRejected with a
    ``reason_code`` when it refuses. ``over_http``/``over_asgi`` build the HTTP implementation."""

    @classmethod
    def over_http(cls, base_url: str, secret: bytes, timeout: float = 10.0) -> HttpConnectClient:
        return HttpConnectClient(ConnectApi.over_http(base_url, secret, timeout))

    @classmethod
    def over_asgi(cls, app: Any, secret: bytes, timeout: float = 10.0) -> HttpConnectClient:
        return HttpConnectClient(ConnectApi.over_asgi(app, secret, timeout))

    @abstractmethod
    async def get_account(self, phone: str) -> ConnectAccount | None:
        """The account owning ``phone``, or None."""

    @abstractmethod
    async def lookup(self, phone: str, sender_phone: str | None = None) -> Lookup:
        """Whether ``phone`` can receive (from ``sender_phone``), with a ``reason_code``."""

    @abstractmethod
    async def reachability_page(self, after: int, limit: int) -> ReachabilityPage:
        """Every account's reachability by account id, after ``after`` (the directory's bulk sync)."""

    @abstractmethod
    async def deliver(self, message: OutboundMessage) -> SendResult:
        """Hand one message to Connect. Idempotent by ``business_message_id``: a retry returns the
        first acceptance with ``duplicate=True`` and the recipient sees the message once."""

    async def deliver_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ConnectRejected]:
        """Hand several messages to Connect: one outcome per message, in order — its ``SendResult`` (idempotent
        as ``deliver``) or the ``ConnectRejected`` that refused it alone. Raises ConnectUnavailable when
        Connect cannot answer for the batch (none of it is known accepted; a retry is safe). This default
        makes one ``deliver`` call per message; ``HttpConnectClient`` sends one request per batch."""
        outcomes: list[SendResult | ConnectRejected] = []
        for message in messages:
            try:
                outcomes.append(await self.deliver(message))
            except ConnectUnavailable:
                raise
            except ConnectRejected as exc:
                outcomes.append(exc)
        return outcomes

    @abstractmethod
    async def set_link(self, phone: str, linked: bool) -> None:
        """Tell Connect whether ``phone`` is some business's active sender number (accounts may write to
        it only then); idempotent."""

    @abstractmethod
    async def replace_links(self, phones: list[str]) -> None:
        """The phones accounts may write to are exactly ``phones`` (the periodic reconciliation)."""

    @abstractmethod
    async def fetch_media(self, media_id: int) -> tuple[bytes, str]:
        """The bytes and content type of a file an account attached to a message it wrote."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connections (the runtime calls it at shutdown)."""


class HttpConnectClient(ConnectClient):
    """ConnectClient over Connect's /connect/v1 API (``api``: real HTTP or an in-process ASGI transport)."""

    def __init__(self, api: ConnectApi) -> None:
        self.api = api

    @classmethod
    def over_http(cls, base_url: str, secret: bytes, timeout: float = 10.0) -> Self:
        return cls(ConnectApi.over_http(base_url, secret, timeout))

    @classmethod
    def over_asgi(cls, app: Any, secret: bytes, timeout: float = 10.0) -> Self:
        return cls(ConnectApi.over_asgi(app, secret, timeout))

    async def aclose(self) -> None:
        await self.api.aclose()

    async def get_account(self, phone: str) -> ConnectAccount | None:
        try:
            resp = await self.api.call("GET", f"/accounts/{quote_phone(phone)}")
        except ConnectRejected as exc:
            if exc.reason_code in ("account_not_found", "not_found"):
                return None
            raise
        return self.api.decode(resp, ConnectAccount)

    async def lookup(self, phone: str, sender_phone: str | None = None) -> Lookup:
        resp = await self.api.call("GET", "/lookup", params={"phone": phone, "sender_phone": sender_phone})
        return self.api.decode(resp, Lookup)

    async def reachability_page(self, after: int, limit: int) -> ReachabilityPage:
        resp = await self.api.call("GET", "/reachability", params={"after": after, "limit": limit})
        return self.api.decode(resp, ReachabilityPage)

    async def deliver(self, message: OutboundMessage) -> SendResult:
        resp = await self.api.call("POST", "/messages", json=message)
        return self.api.decode(resp, SendResult)

    async def deliver_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ConnectRejected]:
        outcomes: list[SendResult | ConnectRejected] = []
        for start in range(0, len(messages), MAX_BATCH_MESSAGES):
            chunk = list(messages[start : start + MAX_BATCH_MESSAGES])
            try:
                resp = await self.api.call("POST", "/messages:batch", json=OutboundBatch(messages=chunk))
            except ConnectRejected:
                # Refusals of a message are results of a 200; a refused request is a network without the
                # route (404) or a body it will not read: each message alone, through the single route.
                outcomes += await super().deliver_batch(chunk)
                continue
            results = self.api.decode(resp, BatchAcceptance).results
            if len(results) != len(chunk):
                raise ConnectUnavailable(f"Connect answered {len(results)} results for {len(chunk)} messages")
            outcomes += [_outcome(item) for item in results]
        return outcomes

    async def set_link(self, phone: str, linked: bool) -> None:
        await self.api.call("PUT" if linked else "DELETE", f"/links/{quote_phone(phone)}")

    async def replace_links(self, phones: list[str]) -> None:
        await self.api.call("PUT", "/links", json={"phones": phones})

    async def fetch_media(self, media_id: int) -> tuple[bytes, str]:
        resp = await self.api.call("GET", f"/media/{int(media_id)}")
        types = [v for k, v in resp.headers.items() if k.lower() == "content-type"]
        return resp.content, (types[0] if types else "application/octet-stream").split(";")[0].strip()


def _outcome(item: BatchItemResult) -> SendResult | ConnectRejected:
    if item.status in ("accepted", "duplicate") and item.connect_message_id is not None:
        return SendResult(
            connect_message_id=item.connect_message_id,
            accepted_at=item.accepted_at or now(),
            duplicate=item.status == "duplicate",
        )
    if item.status == "refused":
        return ConnectRejected(item.reason_code or "rejected", item.detail or "")
    raise ConnectUnavailable(f"unexpected batch result from Connect: {item.status}")


__all__ = [
    "ConnectAccount",
    "ConnectClient",
    "ConnectError",
    "ConnectInvalidRequest",
    "ConnectRejected",
    "ConnectUnavailable",
    "HttpConnectClient",
    "InboxMessage",
    "Lookup",
    "OutboundMessage",
    "SendResult",
]
