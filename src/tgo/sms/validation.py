"""Field checks of the SMS API (seed 004): each adds its messages to an ``errors`` map, so that every bad
field of a request is reported at once; phone numbers are checked with ``phonenumbers``, countries with
``pycountry``."""

from __future__ import annotations

import re
import uuid
from typing import Any

import phonenumbers
import pycountry

from tgo.sms.rules import MessageType, SenderType

MAX_NAME = 100


_ALNUM = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SHORT = re.compile(r"^\d{4,6}$")


def add_error(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def validate_name(value: Any, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        add_error(errors, "name", "The name is required.")
        return None
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        add_error(errors, "name", "The name must be a non-empty string.")
        return None
    if len(value.strip()) > MAX_NAME:
        add_error(errors, "name", f"The name may not be longer than {MAX_NAME} characters.")
        return None
    return value.strip()


def validate_message_type(value: Any, field: str, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    if value not in (MessageType.TRANSACTIONAL.value, MessageType.PROMOTIONAL.value):
        add_error(errors, field, 'Must be "transactional" or "promotional".')
        return None
    return str(value)


def validate_country(value: Any, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        add_error(errors, "country", "The country is required.")
        return None
    if (
        not isinstance(value, str)
        or len(value) != 2
        or pycountry.countries.get(alpha_2=value.upper()) is None
        or not value.isalpha()
    ):
        add_error(errors, "country", 'Must be an ISO 3166-1 alpha-2 country code, e.g. "AU" or "US".')
        return None
    return value.upper()


def parse_phone(value: str) -> phonenumbers.PhoneNumber | None:
    if not _E164.match(value):
        return None
    try:
        return phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None


def validate_sender_id(
    value: Any, sender_type: str | None, country: str | None, errors: dict[str, list[str]]
) -> str | None:
    field = "senderId"
    if value is None:
        add_error(errors, field, "The sender ID is required.")
        return None
    if not isinstance(value, str):
        add_error(errors, field, "The sender ID must be a string.")
        return None
    if sender_type is None:
        return None  # its format depends on the type, which is already reported
    if sender_type == SenderType.ALPHANUMERIC_ID:
        if not _ALNUM.match(value) or not any(ch.isalpha() for ch in value):
            add_error(
                errors,
                field,
                "An alphanumeric sender ID has 1 to 11 characters (letters, digits and spaces) "
                "and at least one letter.",
            )
            return None
        return value
    if sender_type == SenderType.SHORT_CODE:
        if not _SHORT.match(value):
            add_error(errors, field, "A short code has 4 to 6 digits.")
            return None
        return value
    number = parse_phone(value)
    if number is None or not phonenumbers.is_valid_number(number):
        add_error(errors, field, "Must be a valid phone number in E.164 format, e.g. +61412345678.")
        return None
    if country is None:
        return value
    if not phonenumbers.is_valid_number_for_region(number, country):
        add_error(errors, field, f"The number is not a valid number for the country {country}.")
        return None
    kind = phonenumbers.number_type(number)
    if sender_type == SenderType.TOLL_FREE and kind != phonenumbers.PhoneNumberType.TOLL_FREE:
        add_error(errors, field, f"The number is not a toll-free number of {country}.")
        return None
    if sender_type == SenderType.LONG_CODE and kind in (
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    ):
        add_error(
            errors,
            field,
            "This is not a standard phone number; use the toll_free type for toll-free numbers.",
        )
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
