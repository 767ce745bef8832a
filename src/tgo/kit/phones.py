"""Phone numbers: parsed, validated and normalised to E.164 with `phonenumbers`."""

from __future__ import annotations

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


def normalize_phone(raw: str, field: str = "phone") -> str:
    """E.164 form of ``raw`` or a 422 naming ``field``."""
    number = parse_e164(raw)
    if number is None:
        raise ValidationFailed({field: ["Must be a valid phone number in E.164 format, e.g. +201001187188."]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
