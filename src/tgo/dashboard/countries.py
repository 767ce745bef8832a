"""The countries a sender can be registered in: phonenumbers' regions, named in the page's language
(Babel's CLDR names), sorted by that name."""

from __future__ import annotations

from functools import cache

import phonenumbers
from babel import Locale


@cache
def countries(lang: str) -> list[tuple[str, str]]:
    """(ISO 3166 alpha-2 code, localized name) for every region phonenumbers knows."""
    names = Locale.parse(lang).territories
    regions = (r for r in phonenumbers.SUPPORTED_REGIONS if r != "001")
    return sorted(((r, names.get(r, r)) for r in regions), key=lambda item: item[1])
