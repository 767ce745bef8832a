"""What an upload really is, from its bytes (never the client's content type), and whether it is allowed."""

from __future__ import annotations

from dataclasses import dataclass

import filetype

MB = 1024 * 1024
# Limits as WhatsApp's (SPEC section 5).
LIMITS = {"image": 5 * MB, "voice": 16 * MB, "document": 100 * MB}
MAX_UPLOAD = max(LIMITS.values())
ALLOWED = {
    "image": {"image/jpeg", "image/png", "image/webp"},
    "voice": {"audio/ogg", "audio/mpeg", "audio/aac", "audio/mp4", "audio/x-m4a", "audio/m4a", "audio/amr"},
    "document": {
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "text/plain",
        "text/csv",
    },
}
# Images whose pixel count would need more memory than this to decode are refused (decompression bombs).
MAX_IMAGE_PIXELS = 40_000_000
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return False
    return True


def sniff(kind: str, head: bytes, filename: str | None) -> Sniffed:
    """Identify ``head`` (the first bytes) and check it is an allowed format for ``kind``."""
    guess = filetype.guess(head)
    if guess is not None:
        mime, ext = guess.mime, guess.extension
        if mime == "video/mp4" and kind == "voice":  # an M4A with a generic brand
            mime = "audio/mp4"
    elif kind == "document" and head and _looks_like_text(head):
        is_csv = (filename or "").lower().endswith(".csv")
        mime, ext = ("text/csv", "csv") if is_csv else ("text/plain", "txt")
    else:
        raise Rejected("unrecognised")
    if mime not in ALLOWED[kind]:
        raise Rejected(mime)
    return Sniffed(mime, ext)


def check_image(path: str) -> None:
    """Refuse images whose declared size would be a decompression bomb (reads the header only)."""
    from PIL import Image  # on first use: Pillow is a noticeable part of every process's start-up

    try:
        with Image.open(path) as img:
            width, height = img.size
    except Image.DecompressionBombError as exc:
        raise Rejected("decompression_bomb") from exc
    except Exception as exc:
        raise Rejected("corrupt_image") from exc
    if width * height > MAX_IMAGE_PIXELS:
        raise Rejected("decompression_bomb")


def audio_duration(path: str) -> float | None:
    """The real length of an audio file in seconds, when mutagen can read it."""
    import mutagen

    try:
        audio = mutagen.File(path)
    except Exception:
        return None
    length = getattr(getattr(audio, "info", None), "length", None)
    return float(length) if length else None
