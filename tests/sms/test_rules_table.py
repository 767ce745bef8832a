"""The sandbox carrier's per-country rule table (``tgo.sms.rules``; SPEC section 7, seed 004), as tables.

Like Jasmin's routing tests: each row is an input and the answer the table gives for it, so a change to
the rules shows up as the one row it breaks. Pure: no database, no carrier.
"""

from __future__ import annotations

import pytest

from tgo.sms.rules import (
    RULES,
    Alphanumeric,
    CountryRule,
    MessageType,
    SenderType,
    decide_verification,
    reach_error,
    rule_for,
)

A, T, M = Alphanumeric, SenderType, MessageType
TRANSACTIONAL, PROMOTIONAL = M.TRANSACTIONAL, M.PROMOTIONAL

# The module docstring's table, one row per country: (alphanumeric IDs, short codes, toll-free SMS).
COUNTRIES: list[tuple[str, Alphanumeric, bool, bool]] = [
    ("US", A.NOT_SUPPORTED, True, True),
    ("CA", A.NOT_SUPPORTED, True, True),
    ("BR", A.NOT_SUPPORTED, True, False),
    ("CN", A.NOT_SUPPORTED, True, False),
    ("AE", A.TRANSACTIONAL_ONLY, False, False),
    ("SA", A.TRANSACTIONAL_ONLY, False, False),
    ("QA", A.TRANSACTIONAL_ONLY, False, False),
    ("EG", A.TRANSACTIONAL_ONLY, False, False),
    ("IN", A.TRANSACTIONAL_ONLY, True, False),
    ("AU", A.ALLOWED, True, False),
    ("NZ", A.ALLOWED, True, False),
    ("GB", A.ALLOWED, True, False),
    ("IE", A.ALLOWED, True, False),
    ("FR", A.ALLOWED, True, False),
    ("DE", A.ALLOWED, False, False),
    ("JO", A.ALLOWED, False, False),
    ("KE", A.ALLOWED, False, False),  # any other country
    ("JP", A.ALLOWED, False, False),  # any other country
    ("us", A.NOT_SUPPORTED, True, True),  # codes are compared without case
]


@pytest.mark.parametrize(("country", "alphanumeric", "short_codes", "toll_free"), COUNTRIES)
def test_country_rule(country: str, alphanumeric: Alphanumeric, short_codes: bool, toll_free: bool) -> None:
    assert rule_for(country) == CountryRule(alphanumeric, short_codes=short_codes, toll_free=toll_free)


def test_every_listed_country_is_in_the_table() -> None:
    assert set(RULES) <= {country for country, *_ in COUNTRIES}


# (sender type, sender ID, country, brand taken) -> (status, transactional only, a part of the reason).
VERIFICATIONS: list[tuple[SenderType, str, str, bool, str, bool, str | None]] = [
    # alphanumeric IDs: the country first, then generic IDs, protected names, brands held by others.
    (T.ALPHANUMERIC_ID, "Acme", "US", False, "rejected", False, "Carriers in United States do not deliver"),
    (T.ALPHANUMERIC_ID, "Acme", "CA", False, "rejected", False, "alphanumeric sender IDs"),
    (T.ALPHANUMERIC_ID, "Acme", "BR", False, "rejected", False, "alphanumeric sender IDs"),
    (T.ALPHANUMERIC_ID, "Acme", "US", True, "rejected", False, "Carriers in United States do not deliver"),
    (T.ALPHANUMERIC_ID, "Acme", "AE", False, "active", True, None),
    (T.ALPHANUMERIC_ID, "Acme", "EG", False, "active", True, None),
    (T.ALPHANUMERIC_ID, "Acme", "IN", False, "active", True, None),
    (T.ALPHANUMERIC_ID, "Acme", "GB", False, "active", False, None),
    (T.ALPHANUMERIC_ID, "Acme", "DE", False, "active", False, None),
    (T.ALPHANUMERIC_ID, "Acme", "KE", False, "active", False, None),
    (T.ALPHANUMERIC_ID, "TEST", "GB", False, "rejected", False, '"TEST" is a generic sender ID'),
    (T.ALPHANUMERIC_ID, "info", "GB", False, "rejected", False, "generic sender ID"),
    (T.ALPHANUMERIC_ID, "No Reply", "GB", False, "rejected", False, "generic sender ID"),
    (T.ALPHANUMERIC_ID, "HSBC", "GB", False, "rejected", False, "protected name HSBC"),
    (T.ALPHANUMERIC_ID, "hsbc Alerts", "GB", False, "rejected", False, "protected name HSBC"),
    (T.ALPHANUMERIC_ID, "PayPalPay", "GB", False, "rejected", False, "protected name PAYPAL"),
    (T.ALPHANUMERIC_ID, "ANZ Bank", "AU", False, "rejected", False, "protected name ANZ"),
    (T.ALPHANUMERIC_ID, "ANZAC", "AU", False, "active", False, None),  # a short name matches whole words only
    (T.ALPHANUMERIC_ID, "Acme", "GB", True, "rejected", False, "already registered by another organization"),
    (T.ALPHANUMERIC_ID, "Acme", "AE", True, "rejected", False, "in United Arab Emirates"),
    # short codes and toll-free numbers: by the country's column.
    (T.SHORT_CODE, "12345", "US", False, "active", False, None),
    (T.SHORT_CODE, "12345", "IN", False, "active", False, None),
    (T.SHORT_CODE, "12345", "GB", False, "active", False, None),
    (T.SHORT_CODE, "12345", "AE", False, "rejected", False, "Short codes are not available in United Arab"),
    (T.SHORT_CODE, "12345", "DE", False, "rejected", False, "Short codes are not available in Germany"),
    (T.TOLL_FREE, "+18005550199", "US", False, "active", False, None),
    (T.TOLL_FREE, "+18005550199", "CA", False, "active", False, None),
    (T.TOLL_FREE, "+611800123456", "AU", False, "rejected", False, "cannot send SMS in Australia"),
    # long codes: the carrier looks the number up; a landline cannot send SMS.
    (T.LONG_CODE, "+447700900123", "GB", False, "active", False, None),
    (T.LONG_CODE, "+201001187188", "EG", False, "active", False, None),
    (T.LONG_CODE, "+12015550123", "US", False, "active", False, None),  # fixed line or mobile: may send
    (T.LONG_CODE, "+442071838750", "GB", False, "failed", False, "reports this number as a landline"),
    (T.LONG_CODE, "+20223456789", "EG", False, "failed", False, "landline"),
    (T.LONG_CODE, "12345", "GB", False, "failed", False, "could not look this number up"),
]


@pytest.mark.parametrize(
    ("sender_type", "sender_id", "country", "brand_taken", "status", "transactional_only", "reason"),
    VERIFICATIONS,
)
def test_verification(
    sender_type: SenderType,
    sender_id: str,
    country: str,
    brand_taken: bool,
    status: str,
    transactional_only: bool,
    reason: str | None,
) -> None:
    decision = decide_verification(sender_type, sender_id, country, brand_taken=brand_taken)
    assert (decision.status, decision.transactional_only) == (status, transactional_only)
    if reason is None:
        assert decision.reason is None
    else:
        assert decision.reason is not None and reason in decision.reason


# (sender type, sender's country, recipient's country, traffic) -> None (may send) or a part of the reason.
REACH: list[tuple[SenderType, str, str, MessageType, str | None]] = [
    # alphanumeric IDs: by the recipient's country, wherever the sender was registered.
    (T.ALPHANUMERIC_ID, "GB", "GB", PROMOTIONAL, None),
    (T.ALPHANUMERIC_ID, "GB", "DE", PROMOTIONAL, None),
    (T.ALPHANUMERIC_ID, "AE", "GB", PROMOTIONAL, None),
    (T.ALPHANUMERIC_ID, "GB", "AE", TRANSACTIONAL, None),
    (
        T.ALPHANUMERIC_ID,
        "GB",
        "AE",
        PROMOTIONAL,
        "transactional messages only to numbers in United Arab Emirates",
    ),
    (T.ALPHANUMERIC_ID, "AE", "AE", PROMOTIONAL, "transactional messages only"),
    (T.ALPHANUMERIC_ID, "GB", "IN", PROMOTIONAL, "transactional messages only to numbers in India"),
    (T.ALPHANUMERIC_ID, "GB", "US", TRANSACTIONAL, "cannot reach numbers in United States"),
    (T.ALPHANUMERIC_ID, "GB", "CN", TRANSACTIONAL, "cannot reach numbers in China"),
    # numbers and short codes: their own country only, for any traffic.
    (T.LONG_CODE, "GB", "GB", PROMOTIONAL, None),
    (T.LONG_CODE, "GB", "gb", TRANSACTIONAL, None),
    (
        T.LONG_CODE,
        "GB",
        "FR",
        TRANSACTIONAL,
        "A long code registered in United Kingdom can only send to numbers in",
    ),
    (T.TOLL_FREE, "US", "US", PROMOTIONAL, None),
    (T.TOLL_FREE, "US", "CA", TRANSACTIONAL, "A toll free registered in United States"),
    (T.SHORT_CODE, "AU", "AU", TRANSACTIONAL, None),
    (T.SHORT_CODE, "AU", "NZ", TRANSACTIONAL, "A short code registered in Australia"),
]


@pytest.mark.parametrize(("sender_type", "sender_country", "to_country", "message_type", "reason"), REACH)
def test_reach(
    sender_type: SenderType,
    sender_country: str,
    to_country: str,
    message_type: MessageType,
    reason: str | None,
) -> None:
    found = reach_error(sender_type, sender_country, to_country, message_type)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found
