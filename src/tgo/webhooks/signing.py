"""Signing secrets: the Standard Webhooks format (``whsec_`` + base64), HMAC-SHA256 signatures over
``id.timestamp.body``, and AES-GCM encryption of secrets at rest with a key derived from TGO_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
_CIPHER_VERSION = "v1"
_AAD = b"tgo.webhooks.endpoint-secret"


def generate_secret() -> str:
    """A new signing secret as shown to the tenant (once)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature for the ``webhook-signature`` header."""
    to_sign = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Space-separated signatures, one per valid secret (both while a rotation's grace period runs)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


class SecretBox:
    """Encrypts signing secrets for storage; the key is derived from the platform secret key."""

    def __init__(self, platform_secret: bytes) -> None:
        key = hmac.new(platform_secret, b"tgo.webhooks.secret-encryption.v1", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def encrypt(self, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), _AAD)
        return f"{_CIPHER_VERSION}:" + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str) -> str:
        version, _, payload = stored.partition(":")
        if version != _CIPHER_VERSION:
            raise ValueError("unknown webhook secret encryption version")
        raw = base64.urlsafe_b64decode(payload.encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], _AAD).decode()
        except InvalidTag as exc:
            # TGO_SECRET_KEY changed since the secret was stored: the tenant must rotate it.
            raise ValueError("webhook secret cannot be decrypted with the current TGO_SECRET_KEY") from exc
