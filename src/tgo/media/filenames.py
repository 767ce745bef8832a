"""An uploaded file's name, cleaned once at upload so every later use (the download's Content-Disposition,
the message log, Connect's inbox) gets a name that is safe to show and to put in a header."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_LENGTH = 200
MAX_EXTENSION = 16

# Control (Cc: NUL, ESC, DEL, C1), format (Cf: bidi overrides such as U+202E, zero-width characters),
# surrogates (Cs) and line/paragraph separators (Zl, Zp). A control character breaks the download's
# header; a bidi override makes "exe.png" look like "gnp.exe". Letters of any script (Arabic too) stay.
_DROPPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def clean_filename(raw: str | None) -> str | None:
    """``raw`` without control, format and separator characters or path separators, trimmed, at most
    MAX_LENGTH characters with its extension kept; ``None`` when nothing is left."""
    if not raw:
        return None
    text = unicodedata.normalize("NFC", raw)
    kept = "".join(
        "_" if ch in "/\\" else " " if unicodedata.category(ch) == "Zs" else ch
        for ch in text
        if unicodedata.category(ch) not in _DROPPED
    )
    name = " ".join(kept.split()).strip(" .")
    if not name:
        return None
    if len(name) > MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= MAX_EXTENSION:
            name = stem[: MAX_LENGTH - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:MAX_LENGTH]
    return name


def content_disposition(disposition: str, filename: str | None, fallback: str) -> str:
    """``attachment``/``inline`` with the name as an ASCII ``filename`` and RFC 6266 ``filename*``. The name
    is cleaned again here, so a row stored before names were cleaned at upload still gives a valid header."""
    name = (clean_filename(filename) or fallback).replace('"', "")
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
