"""Phone numbers: parsed, validated and normalised to E.164 with `phonenumbers`."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from tgo.errors import ValidationFailed


def parse_e164(raw: str) -> phonenumbers.PhoneNumber | None:
    text = (raw or "").strip()
    if not text.startswith("+") or len(text) > 32:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


@lru_cache(maxsize=8192)
def e164(raw: str) -> str | None:
    """The E.164 form of ``raw``, or None when it is not a valid number in E.164 notation. Cached: parsing
    costs ~60 µs and a send checks the same few sender and recipient strings over and over (the result is an
    immutable string; a PhoneNumber object is mutable and is not cached)."""
    number = parse_e164(raw)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_phone(raw: str, field: str = "phone") -> str:
    """E.164 form of ``raw`` or a 422 naming ``field``."""
    normalized = e164(raw) if isinstance(raw, str) else None
    if normalized is None:
        raise ValidationFailed({field: ["Must be a valid phone number in E.164 format, e.g. +201001187188."]})
    return normalized
