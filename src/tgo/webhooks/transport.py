"""The SSRF-safe webhook sender: no database access, a request in, an ``AttemptResult`` out.

The host is resolved here and every address it resolves to is vetted (loopback, private, link-local,
multicast, reserved and cloud metadata addresses are refused unless the operator allows private
networks). The TCP connection is then opened to a vetted address by our own network backend, so a DNS
answer cannot change between the check and the connect (DNS rebinding), while httpx still sends the
URL's Host header and TLS SNI and verifies the certificate against the URL's host name. Redirects are
not followed, proxies from the environment are ignored and at most ``max_bytes`` of the response are
read."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from tgo.kit.hosts import IPAddress, Resolver

# Cloud instance metadata services: never a webhook target, whatever the operator allows.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
USER_AGENT = "TGO-Webhooks/1.0"


class AddressNotAllowed(Exception):
    """The target host is, or resolves to, an address webhooks may not reach."""


def address_refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``ip`` may not be a webhook target, or ``None`` when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 form that carries an IPv4 address is judged by that address.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded, allow_private=allow_private)
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if allow_private:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not globally routable"
    return None


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host``."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


class VettingNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves and vets the host itself, then connects to the vetted address."""

    def __init__(self, allow_private: Callable[[], bool], resolver: Resolver = system_resolve) -> None:
        self._allow_private = allow_private
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self._resolve(host, port), timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        allow_private = self._allow_private()
        # Refuse when any answer is forbidden: a hostile name may mix a public and a private address.
        for ip in addresses:
            reason = address_refusal(ip, allow_private=allow_private)
            if reason is not None:
                shown = host if literal_address(host) is not None else f"{host} ({ip})"
                raise AddressNotAllowed(f"{shown} is a {reason} address")
        last_error: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on the vetting network backend."""

    def __init__(
        self,
        *,
        allow_private: Callable[[], bool],
        resolver: Resolver = system_resolve,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        super().__init__(trust_env=False)
        # httpx (pinned) keeps its httpcore pool in ``_pool`` and has no public network-backend option.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=VettingNetworkBackend(allow_private, resolver),
        )


def build_client(
    *,
    allow_private: Callable[[], bool],
    connect_timeout: float,
    read_timeout: float,
    resolver: Resolver = system_resolve,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An httpx client for webhook deliveries (share one per process). Certificates are verified against
    the system's CAs (``ssl_context`` replaces that, e.g. for a private CA)."""
    return httpx.AsyncClient(
        transport=VettingTransport(allow_private=allow_private, resolver=resolver, ssl_context=ssl_context),
        timeout=httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
        ),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None

    @property
    def success(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


async def post_webhook(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    max_bytes: int,
    total_timeout: float,
) -> AttemptResult:
    """POST ``body`` once; never raises for network trouble (the result says what happened)."""
    started = time.monotonic()
    status: int | None = None
    received = bytearray()
    error: str | None = None
    request_headers = {
        "Content-Type": "application/json",
        # Raw bytes are read and stored: no compressed (or decompression-bomb) responses.
        "Accept-Encoding": "identity",
        **headers,
    }
    try:
        async with asyncio.timeout(total_timeout):
            async with client.stream("POST", url, content=body, headers=request_headers) as response:
                status = response.status_code
                async for chunk in response.aiter_raw():
                    received += chunk[: max_bytes - len(received)]
                    if len(received) >= max_bytes:
                        break  # closing the response drops the connection; the rest is never read
    except AddressNotAllowed as exc:
        error = f"address_not_allowed: {exc}"
    except httpx.ConnectTimeout:
        error = "connect_timeout"
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout, TimeoutError):
        error = "timeout"
    except httpx.ConnectError as exc:
        error = f"connect_error: {exc}" if str(exc) else "connect_error"
    except Exception as exc:  # an invalid URL, a TLS or protocol error: the attempt failed
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    latency_ms = int((time.monotonic() - started) * 1000)
    # PostgreSQL text cannot hold NUL characters; a binary response must still be recordable.
    text = bytes(received).decode("utf-8", errors="replace").replace("\x00", "\ufffd") if received else None
    if error is not None and status is not None:
        # The status line arrived but the body did not (e.g. a read timeout): keep the status.
        error = f"{error} after HTTP {status}"
    return AttemptResult(
        status_code=status,
        latency_ms=latency_ms,
        response_body=text,
        error=error.replace("\x00", "")[:500] if error else None,
    )
