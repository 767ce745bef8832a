"""HTTPS: the connection goes to the vetted address while TLS sends the URL's host name as SNI and the
certificate is verified against that name (a certificate for another name is refused)."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.webhooks.receiver import Receiver
from tgo.kit.hosts import IPAddress
from tgo.webhooks.transport import build_client, post_webhook


def _usage(**on: bool) -> x509.KeyUsage:
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ]
    return x509.KeyUsage(**{n: on.get(n, False) for n in names})


def make_pki(tmp_path: Path, hostname: str) -> tuple[str, str, str]:
    """A private CA and a server certificate for ``hostname``; returns (ca, cert, key) file paths."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TGO webhook test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(paths[0]), str(paths[1]), str(paths[2])


async def test_https_uses_the_url_host_for_sni_and_certificate_checks(tmp_path: Path) -> None:
    ca, cert, key = make_pki(tmp_path, "hooks.example")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    receiver = Receiver(tls=server_ctx)
    await receiver.start()

    async def resolve(host: str, port: int) -> list[IPAddress]:
        # Both names resolve to the receiver (as a DNS server would answer).
        return [ipaddress.ip_address("127.0.0.1")]

    client = build_client(
        allow_private=lambda: True,
        connect_timeout=2.0,
        read_timeout=2.0,
        resolver=resolve,
        ssl_context=ssl.create_default_context(cafile=ca),
    )
    try:
        ok = await post_webhook(
            client, f"https://hooks.example:{receiver.port}/in", b"{}", {}, max_bytes=64, total_timeout=5
        )
        assert ok.success, ok
        assert sni == ["hooks.example"]
        assert receiver.requests[0].headers["host"] == f"hooks.example:{receiver.port}"

        wrong = await post_webhook(
            client, f"https://other.example:{receiver.port}/in", b"{}", {}, max_bytes=64, total_timeout=5
        )
        assert not wrong.success and wrong.status_code is None
        assert wrong.error is not None and "certificate" in wrong.error.lower(), wrong.error
        assert len(receiver.requests) == 1
    finally:
        await client.aclose()
        await receiver.stop()
