"""Host names in one canonical form, for tenant domains as they are stored and for the ``Host`` of a request,
so that the other-tenant check compares like with like: lower case, no trailing dot (``demo.localhost.`` is
the same host as ``demo.localhost``), no port, and internationalised names as their ASCII (punycode) form
by IDNA 2008 with the UTS #46 mapping (``DÉMO.localhost`` and ``xn--dmo-bma.localhost`` are one host)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from functools import lru_cache

import idna

# An IP address, and what a DNS resolver is (host, port -> its addresses): the webhook transport resolves
# and vets every host through one; the wiring hands it the runtime's (tests pass fake DNS answers).
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


@lru_cache(maxsize=4096)
def canonical_domain(name: str) -> str | None:
    """``name`` in canonical form, or None when it is not a host name (or an IP address)."""
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return None
    if name.isascii():
        # ASCII names map to their lower case under UTS #46; what IDNA would refuse in them (``_``, a
        # space) can match no stored domain, and skipping the library keeps the per-request cost low.
        name = name.lower()
        return name if "." not in (name[0], name[-1]) and ".." not in name else None
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def request_host(values: list[bytes]) -> str | None:
    """The canonical host of a request's ``Host`` header values (port dropped); None when there is not
    exactly one or it is unusable, i.e. the request names no tenant's domain."""
    if len(values) != 1:
        return None
    try:
        host = values[0].decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if host.startswith("["):  # [::1]:8000
        end = host.find("]")
        return _ip(host[1:end]) if end > 0 else None
    if host.count(":") > 1:  # a bare IPv6 address
        return _ip(host)
    name, _, port = host.partition(":")
    if port and not port.isdigit():
        return None
    return canonical_domain(name)


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
