"""Signed, expiring media links for Connect (which has no API key): ``/media/signed/{token}``."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from tgo.runtime import Runtime

MAX_AGE_SECONDS = 7 * 24 * 3600


def _serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime.settings.secret(), salt="tgo-media")


def signed_url(runtime: Runtime, media_id: int) -> str:
    base = (runtime.settings.business_url or "").rstrip("/")
    return f"{base}/media/signed/{_serializer(runtime).dumps({'m': media_id})}"


def media_id_from_token(runtime: Runtime, token: str) -> int | None:
    try:
        data: Any = _serializer(runtime).loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    value = data.get("m") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None
