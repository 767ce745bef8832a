"""SSRF guard: loopback, private, link-local, metadata and other non-public targets are refused unless the
operator allows private networks, for literal addresses and for host names after DNS resolution; the
connection goes to the vetted address; redirects are not followed; responses are read up to a limit."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import deliveries, emit, message, register
from tgo import events
from tgo.kit.hosts import IPAddress, Resolver
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.webhooks.transport import address_refusal, build_client, post_webhook

REFUSED = [
    "127.0.0.1",
    "127.5.5.5",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.10.10",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::",
    "ff02::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_private=False) is None


def test_allowing_private_networks_never_allows_metadata_or_multicast() -> None:
    for address in ("127.0.0.1", "10.1.2.3", "fe80::1", "fd12::1"):
        assert address_refusal(ipaddress.ip_address(address), allow_private=True) is None
    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "224.0.0.1", "0.0.0.0"):
        assert address_refusal(ipaddress.ip_address(address), allow_private=True) is not None


async def test_private_targets_are_refused_at_registration(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime
) -> None:
    runtime.settings.webhook_allow_private_networks = False
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/hook",
        "http://[fd00:ec2::254]/",
        "http://localhost:8000/hook",
        "http://api.localhost/hook",
        "http://0.0.0.0/",
    ]:
        r = await client.post(
            "/api/v1/webhooks", headers=headers, json={"url": url, "events": ["message.sent"]}
        )
        assert r.status_code == 422, (url, r.text)
        assert "url" in r.json()["errors"], url
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": "https://hooks.example.com/", "events": ["message.sent"]},
    )
    assert r.status_code == 201


async def test_a_host_name_resolving_to_loopback_is_refused_at_delivery(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    # Registered while allowed (as tests run), then the operator's default applies.
    hook = await register(client, headers, f"http://localhost:{receiver.port}/hooks/tgo")
    runtime.settings.webhook_allow_private_networks = False
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))

    async def attempted() -> object:
        log = await deliveries(client, headers, hook["id"])
        return log and log[0]["attempts"] and log[0]

    delivery = await wait_for(attempted, what="a refused attempt")
    error = delivery["attempts"][0]["error"]
    assert error.startswith("address_not_allowed") and "loopback" in error, error
    assert delivery["attempts"][0]["status_code"] is None
    assert receiver.requests == []

    # Allowed again: the same delivery arrives on its next try.
    runtime.settings.webhook_allow_private_networks = True

    async def arrived() -> object:
        return receiver.delivered

    await wait_for(arrived, what="delivery once allowed")


async def _fake_dns(answers: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in answers[host]]

    return resolve


async def test_dns_answers_are_vetted_and_the_vetted_address_is_used(receiver: Receiver) -> None:
    answers = {
        "internal.example": ["10.20.30.40"],
        "mixed.example": ["93.184.216.34", "127.0.0.1"],
        "metadata.example": ["169.254.169.254"],
        "receiver.example": ["127.0.0.1"],
    }
    resolver = await _fake_dns(answers)
    allowed = False
    client = build_client(
        allow_private=lambda: allowed, connect_timeout=1.0, read_timeout=1.0, resolver=resolver
    )
    try:
        for host in ("internal.example", "mixed.example", "metadata.example", "receiver.example"):
            result = await post_webhook(
                client, f"http://{host}:{receiver.port}/x", b"{}", {}, max_bytes=100, total_timeout=3
            )
            assert result.error is not None and result.error.startswith("address_not_allowed"), (host, result)
            assert not result.success
        assert receiver.requests == []

        allowed = True
        # The name resolves (through our resolver) to the receiver: the connection goes to the vetted
        # address while the Host header still names the URL's host.
        result = await post_webhook(
            client, f"http://receiver.example:{receiver.port}/x", b"{}", {}, max_bytes=100, total_timeout=3
        )
        assert result.success, result
        assert receiver.requests[0].headers["host"] == f"receiver.example:{receiver.port}"
        result = await post_webhook(
            client, f"http://metadata.example:{receiver.port}/x", b"{}", {}, max_bytes=100, total_timeout=3
        )
        assert result.error is not None and "metadata" in result.error
    finally:
        await client.aclose()


async def test_redirects_are_not_followed_and_bodies_are_cut(receiver: Receiver) -> None:
    client = build_client(allow_private=lambda: True, connect_timeout=1.0, read_timeout=1.0)
    try:
        receiver.then("redirect", "big")
        result = await post_webhook(client, receiver.url, b"{}", {}, max_bytes=256, total_timeout=3)
        assert result.status_code == 302 and not result.success
        assert len(receiver.requests) == 1
        result = await post_webhook(client, receiver.url, b"{}", {}, max_bytes=256, total_timeout=3)
        assert result.success and result.response_body == "x" * 256
        assert len(receiver.requests) == 2
    finally:
        await client.aclose()


async def test_connection_refused_and_timeouts_are_reported(receiver: Receiver) -> None:
    client = build_client(allow_private=lambda: True, connect_timeout=1.0, read_timeout=0.3)
    try:
        receiver.then("hang")
        result = await post_webhook(client, receiver.url, b"{}", {}, max_bytes=64, total_timeout=5)
        assert result.error == "timeout" and result.status_code is None
        await receiver.stop()
        result = await post_webhook(client, receiver.url, b"{}", {}, max_bytes=64, total_timeout=5)
        assert result.error is not None and result.error.startswith("connect_error")
    finally:
        await client.aclose()
