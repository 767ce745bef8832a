"""The opt-out keywords (issue 18): an inbound text whose trimmed, case-folded body is exactly one of these.
A pure table, tested as one."""

from __future__ import annotations

from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "إيقاف", "توقف", "الغاء", "إلغاء"}
)
START_WORDS = frozenset({"start", "unstop", "yes", "ابدأ"})
HELP_WORDS = frozenset({"help", "مساعدة"})


def classify(text: str | None) -> Keyword | None:
    """The keyword ``text`` is, or None for an ordinary message."""
    if not text:
        return None
    word = text.strip().casefold()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    if word in HELP_WORDS:
        return Keyword.HELP
    return None
