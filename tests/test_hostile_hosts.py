"""Hosts are normalised in one place (tgo.kit.hosts) before the other-tenant check (issue 12, item 4):
``demo.localhost.``, ``DEMO.localhost:8000``, a Unicode name and its punycode all name the same tenant, so
another tenant's key is refused on every spelling, while its own spellings keep working."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tgo.errors import ValidationFailed
from tgo.kit.hosts import canonical_domain, request_host
from tgo.runtime import Runtime
from tgo.tenants.service import create_tenant

# "démo.localhost" in IDNA's ASCII form.
DEMO_IDN = "xn--dmo-bma.localhost"
DEMO_SPELLINGS = ["demo.localhost.", "DEMO.LOCALHOST.", "Demo.Localhost.:8000", "demo.localhost:8000"]
IDN_SPELLINGS = ["xn--dmo-bma.localhost", "XN--DMO-BMA.localhost.", "Xn--Dmo-Bma.Localhost.:443"]
# Clients put the ASCII form in Host; Litestar's router answers a non-ASCII Host 400 before any route runs.
# Should one get through, it is normalised like the rest (see test_request_hosts_are_canonical).
UNICODE_SPELLINGS = [
    "démo.localhost",
    "DÉMO.localhost.",
    "de\u0301mo.localhost",  # e + combining acute: the same name once normalised (NFC)
    "ＤＥＭＯ.localhost",  # fullwidth letters: UTS #46 maps them to ASCII
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"demo.localhost", "demo.localhost"),
        (b"demo.localhost.", "demo.localhost"),
        (b"DEMO.Localhost.:8443", "demo.localhost"),
        ("DÉMO.localhost".encode(), DEMO_IDN),
        (b"XN--DMO-BMA.LOCALHOST", DEMO_IDN),
        ("de\u0301mo.localhost".encode(), DEMO_IDN),
        ("ＤＥＭＯ.localhost.".encode(), "demo.localhost"),
        (b"127.0.0.1:8000", "127.0.0.1"),
        (b"[::1]:8000", "::1"),
        (b"[::1", None),
        (b"demo.localhost:http", None),
        (b"demo.localhost..", None),
        (b".demo.localhost", None),
        (b"", None),
        (b"\xff.localhost", None),
    ],
)
def test_request_hosts_are_canonical(header: bytes, expected: str | None) -> None:
    assert request_host([header]) == expected


def test_two_host_headers_name_no_host() -> None:
    assert request_host([b"demo.localhost", b"demo.localhost"]) is None


async def test_another_tenants_domain_is_refused_in_every_spelling(
    client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    acme_key = await make_key(await make_tenant("acme"))
    await make_tenant("demo")
    await make_tenant("demoidn", domain=DEMO_IDN)
    r = await client.get("/api/v1/me", headers={"X-Api-Key": acme_key, "Host": "demo.localhost"})
    assert r.status_code == 401
    for host in DEMO_SPELLINGS + IDN_SPELLINGS:
        r = await client.get("/api/v1/me", headers={"X-Api-Key": acme_key, "Host": host})
        assert r.status_code == 401, (host, r.text)
        assert r.json() == {"message": "Unauthenticated."}
    for host in UNICODE_SPELLINGS:
        # A raw (bytes) Host beside str headers: httpx sends it as is, though its types do not say so.
        r = await client.get("/api/v1/me", headers={"X-Api-Key": acme_key, "Host": host.encode()})  # type: ignore[arg-type]
        assert r.status_code in (400, 401), (host, r.text)


async def test_a_tenants_own_domain_works_in_every_spelling(
    client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    idn_key = await make_key(await make_tenant("demoidn", domain=DEMO_IDN))
    for host in [*IDN_SPELLINGS, "127.0.0.1:8000", "lb.internal"]:
        r = await client.get("/api/v1/me", headers={"X-Api-Key": idn_key, "Host": host})
        assert r.status_code == 200, (host, r.text)
        assert r.json()["tenant"]["domain"] == DEMO_IDN


async def test_tenant_domains_are_stored_in_the_same_canonical_form(runtime: Runtime) -> None:
    async with runtime.db.session_scope() as session:
        tenant = await create_tenant(session, slug="demoidn", domain=" DÉMO.Localhost. ")
        assert tenant.domain == DEMO_IDN
        with pytest.raises(ValidationFailed):
            await create_tenant(session, slug="ported", domain="ported.localhost:8000")


def test_canonical_domain_is_idempotent() -> None:
    for name in DEMO_SPELLINGS[:2] + IDN_SPELLINGS[:2] + UNICODE_SPELLINGS:
        first = canonical_domain(name)
        assert first is not None and canonical_domain(first) == first
