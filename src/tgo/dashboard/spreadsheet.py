"""CSV exports opened in a spreadsheet: text someone wrote never runs as a formula."""

from __future__ import annotations

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: str | None) -> str:
    """User-written text for a CSV cell: as it is, or after a quote when it would start a formula."""
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_START) else text
