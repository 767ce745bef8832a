"""The per-country rule table the sandbox carrier applies (verification) and sending checks (reach).

| country | alphanumeric IDs | short codes | toll-free SMS |
|---|---|---|---|
| US, CA | not supported | yes | yes |
| BR, CN | not supported | yes | no |
| AE, SA, QA, EG, IN | transactional traffic only | IN only | no |
| AU, NZ, GB, IE, FR | allowed | yes | no |
| DE, JO, any other country | allowed | no | no |

Everywhere: generic IDs (TEST, SMS, INFO, ...) and protected names (banks, public bodies, large
brands) are rejected, since the sandbox cannot check that the tenant owns them. An alphanumeric ID is a
brand: one that is already active for another organization in that country is rejected (compared without
case and spaces, so "ACME Alerts" is "AcmeAlerts"). A long code must be
a mobile (SMS-capable) number: a landline fails verification. Long codes, toll-free numbers and
short codes reach numbers of their own country only; an alphanumeric ID reaches every country that
accepts alphanumeric IDs (promotional traffic only where they are not transactional-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
import pycountry


class SenderType(StrEnum):
    ALPHANUMERIC_ID = "alphanumeric_id"
    LONG_CODE = "long_code"
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"


class MessageType(StrEnum):
    TRANSACTIONAL = "transactional"
    PROMOTIONAL = "promotional"


class Alphanumeric(StrEnum):
    ALLOWED = "allowed"
    TRANSACTIONAL_ONLY = "transactional_only"
    NOT_SUPPORTED = "not_supported"


@dataclass(frozen=True, slots=True)
class CountryRule:
    alphanumeric: Alphanumeric = Alphanumeric.ALLOWED
    short_codes: bool = False
    toll_free: bool = False


_NO_ALPHA_NORTH_AMERICA = CountryRule(Alphanumeric.NOT_SUPPORTED, short_codes=True, toll_free=True)
_ALLOWED_WITH_SHORT_CODES = CountryRule(Alphanumeric.ALLOWED, short_codes=True)
_TRANSACTIONAL_ONLY = CountryRule(Alphanumeric.TRANSACTIONAL_ONLY)

RULES: dict[str, CountryRule] = {
    "US": _NO_ALPHA_NORTH_AMERICA,
    "CA": _NO_ALPHA_NORTH_AMERICA,
    "BR": CountryRule(Alphanumeric.NOT_SUPPORTED, short_codes=True),
    "CN": CountryRule(Alphanumeric.NOT_SUPPORTED, short_codes=True),
    "AE": _TRANSACTIONAL_ONLY,
    "SA": _TRANSACTIONAL_ONLY,
    "QA": _TRANSACTIONAL_ONLY,
    "EG": _TRANSACTIONAL_ONLY,
    "IN": CountryRule(Alphanumeric.TRANSACTIONAL_ONLY, short_codes=True),
    "AU": _ALLOWED_WITH_SHORT_CODES,
    "NZ": _ALLOWED_WITH_SHORT_CODES,
    "GB": _ALLOWED_WITH_SHORT_CODES,
    "IE": _ALLOWED_WITH_SHORT_CODES,
    "FR": _ALLOWED_WITH_SHORT_CODES,
    "DE": CountryRule(),
    "JO": CountryRule(),
}
DEFAULT_RULE = CountryRule()

# IDs that tell the recipient nothing about who is writing.
GENERIC_IDS = frozenset(
    {
        "TEST", "TESTING", "SMS", "INFO", "ALERT", "ALERTS", "NOTICE", "NOTIFY", "VERIFY", "OTP", "CODE",
        "ADMIN", "SYSTEM", "SUPPORT", "SERVICE", "NOREPLY", "MESSAGE", "TEXT", "MOBILE", "SENDER",
        "UNKNOWN", "BANK", "PAYMENT", "SECURITY", "PROMO", "OFFER",
    }
)  # fmt: skip
# Names of banks, public bodies and large brands: only their owners may use them.
PROTECTED_NAMES = frozenset(
    {
        "HSBC", "BARCLAYS", "CITIBANK", "CITI", "CHASE", "WELLSFARGO", "BOFA", "ANZ", "WESTPAC", "NAB",
        "COMMBANK", "LLOYDS", "NATWEST", "SANTANDER", "ALRAJHI", "RAJHI", "EMIRATESNBD", "ENBD", "QNB",
        "ADCB", "NBE", "BANQUEMISR", "PAYPAL", "VISA", "MASTERCARD", "AMEX", "APPLE", "GOOGLE", "AMAZON",
        "MICROSOFT", "WHATSAPP", "FACEBOOK", "GOV", "MYGOV", "POLICE", "ATO", "IRS", "HMRC", "USPS",
        "DHL", "FEDEX", "AUSPOST",
    }
)  # fmt: skip


def rule_for(country: str) -> CountryRule:
    return RULES.get(country.upper(), DEFAULT_RULE)


def country_name(country: str) -> str:
    found = pycountry.countries.get(alpha_2=country.upper())
    return str(getattr(found, "common_name", None) or getattr(found, "name", country)) if found else country


@dataclass(frozen=True, slots=True)
class Decision:
    """The carrier's answer to a verification: ``active``, ``failed`` or ``rejected``."""

    status: str
    reason: str | None = None
    transactional_only: bool = False


def brand_key(sender_id: str) -> str:
    """How carriers compare alphanumeric IDs: without case and spaces (IDs are ASCII letters, digits and
    spaces, so ``upper(replace(sender_id, ' ', ''))`` in SQL gives the same key)."""
    return "".join(sender_id.upper().split())


def _protected(sender_id: str) -> str | None:
    tokens = sender_id.upper().split()
    joined = "".join(tokens)
    for name in PROTECTED_NAMES:
        if name in tokens or joined == name or (len(name) >= 4 and joined.startswith(name)):
            return name
    return None


def decide_verification(
    sender_type: str, sender_id: str, country: str, *, brand_taken: bool = False
) -> Decision:
    """The sandbox carrier's verdict for a sender identity (deterministic; see the module table).
    ``brand_taken``: the alphanumeric ID is already active for another organization in ``country``."""
    rule = rule_for(country)
    name = country_name(country)
    if sender_type == SenderType.ALPHANUMERIC_ID:
        if rule.alphanumeric is Alphanumeric.NOT_SUPPORTED:
            return Decision(
                "rejected",
                f"Carriers in {name} do not deliver messages from alphanumeric sender IDs. "
                "Register a long code, toll-free number or short code instead.",
            )
        if brand_key(sender_id) in GENERIC_IDS:
            return Decision(
                "rejected",
                f'"{sender_id}" is a generic sender ID: recipients could not tell who is writing. '
                "Use your brand or company name.",
            )
        protected = _protected(sender_id)
        if protected is not None:
            return Decision(
                "rejected",
                f'"{sender_id}" uses the protected name {protected}, which belongs to another organization. '
                "Only its owner can register it.",
            )
        if brand_taken:
            return Decision(
                "rejected",
                f'"{sender_id}" is already registered by another organization in {name}. An alphanumeric '
                "sender ID is a brand: only its owner can use it there. Use your own brand or company name.",
            )
        return Decision("active", transactional_only=rule.alphanumeric is Alphanumeric.TRANSACTIONAL_ONLY)
    if sender_type == SenderType.SHORT_CODE:
        if not rule.short_codes:
            return Decision("rejected", f"Short codes are not available in {name}.")
        return Decision("active")
    if sender_type == SenderType.TOLL_FREE:
        if not rule.toll_free:
            return Decision("rejected", f"Toll-free numbers cannot send SMS in {name}.")
        return Decision("active")
    # long_code: the carrier checks that the number can send SMS (a landline cannot).
    try:
        number = phonenumbers.parse(sender_id, None)
    except phonenumbers.NumberParseException:
        return Decision("failed", "The carrier could not look this number up. Check it and try again.")
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
        return Decision(
            "failed",
            "The carrier reports this number as a landline, which cannot send SMS. Use a mobile number.",
        )
    return Decision("active")


def reach_error(sender_type: str, sender_country: str, to_country: str, message_type: str) -> str | None:
    """Why a sender of this type may not send this traffic to ``to_country``; ``None`` when it may."""
    if sender_type == SenderType.ALPHANUMERIC_ID:
        rule = rule_for(to_country)
        if rule.alphanumeric is Alphanumeric.NOT_SUPPORTED:
            return f"Alphanumeric sender IDs cannot reach numbers in {country_name(to_country)}."
        if rule.alphanumeric is Alphanumeric.TRANSACTIONAL_ONLY and message_type == MessageType.PROMOTIONAL:
            return (
                f"Alphanumeric sender IDs may send transactional messages only to numbers in "
                f"{country_name(to_country)}."
            )
        return None
    if to_country.upper() != sender_country.upper():
        return (
            f"A {sender_type.replace('_', ' ')} registered in {country_name(sender_country)} can only send to "
            f"numbers in {country_name(sender_country)}."
        )
    return None
