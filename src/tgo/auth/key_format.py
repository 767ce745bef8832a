"""The API key format: ``tgo_`` + 43 URL-safe characters (256 random bits)."""

from __future__ import annotations

import hashlib
import re
import secrets

KEY_PREFIX = "tgo_"
_KEY_RE = re.compile(r"^tgo_[A-Za-z0-9_-]{43}$")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def is_well_formed(key: str) -> bool:
    return bool(_KEY_RE.fullmatch(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    return key[: len(KEY_PREFIX) + 4]
