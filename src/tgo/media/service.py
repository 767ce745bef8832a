"""Media uploads: sniffed from the bytes, size-limited per type, streamed into storage."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from litestar.datastructures import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.errors import AppError, NotFound, Unprocessable
from tgo.kit.clock import now
from tgo.media import sniff
from tgo.media.filenames import clean_filename
from tgo.media.repository import MediaRepository
from tgo.media.storage import TooLarge
from tgo.models import Media
from tgo.runtime import Runtime


class MediaTooLarge(AppError):
    status_code = 413
    code = "media_too_large"


class MediaTypeMismatch(Unprocessable):
    code = "media_type_mismatch"


class MediaRejected(Unprocessable):
    code = "media_rejected"


async def _size(upload: UploadFile) -> int:
    def measure() -> int:
        f: Any = upload.file
        f.seek(0, 2)
        size = int(f.tell())
        f.seek(0)
        return size

    return await asyncio.to_thread(measure)


async def _chunks(upload: UploadFile, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while data := await upload.read(chunk):
        yield data


async def inspect(kind: str, upload: UploadFile) -> sniff.Sniffed:
    """Validate an upload for ``kind`` (size limit, real type) without storing it."""
    size = await _size(upload)
    limit = sniff.LIMITS[kind]
    if size > limit:
        raise MediaTooLarge("media_too_large", params={"kind": kind, "limit_mb": limit // sniff.MB})
    if size == 0:
        raise MediaRejected("media_empty")
    await upload.seek(0)
    head = await upload.read(sniff.HEAD_BYTES)
    await upload.seek(0)
    try:
        return sniff.sniff(kind, head, clean_filename(upload.filename))
    except sniff.Rejected as exc:
        raise MediaTypeMismatch(
            "media_type_mismatch", params={"kind": kind}, extra={"detected": exc.reason}
        ) from exc


async def fingerprint(upload: UploadFile) -> str:
    digest = hashlib.sha256()
    async for data in _chunks(upload):
        digest.update(data)
    await upload.seek(0)
    return digest.hexdigest()


async def store(
    session: AsyncSession,
    runtime: Runtime,
    tenant_id: int,
    kind: str,
    upload: UploadFile,
    sniffed: sniff.Sniffed,
    *,
    max_duration: int | None = None,
) -> Media:
    """Stream the upload into storage and record it; removes the file again if a check fails."""
    storage = runtime.media_storage.get()
    try:
        stored = await storage.save(_chunks(upload), max_size=sniff.LIMITS[kind])
    except TooLarge as exc:
        raise MediaTooLarge(
            "media_too_large", params={"kind": kind, "limit_mb": sniff.LIMITS[kind] // sniff.MB}
        ) from exc
    try:
        path = storage.path(stored.key)
        if kind == "image" and path is not None:
            await asyncio.to_thread(sniff.check_image, str(path))
        if kind == "voice" and path is not None and max_duration is not None:
            length = await asyncio.to_thread(sniff.audio_duration, str(path))
            if length is not None and length > max_duration + 1:
                raise MediaRejected("voice_too_long", params={"seconds": int(length)})
    except sniff.Rejected as exc:
        await storage.delete(stored.key)
        raise MediaRejected(f"media_{exc.reason}") from exc
    except AppError:
        await storage.delete(stored.key)
        raise
    row = Media(
        tenant_id=tenant_id,
        kind=kind,
        content_type=sniffed.content_type,
        size=stored.size,
        sha256=stored.sha256,
        filename=clean_filename(upload.filename),
        storage_key=stored.key,
        created_at=now(),
    )
    session.add(row)
    try:
        await session.flush()
    except Exception:
        await storage.delete(stored.key)
        raise
    return row


async def get_media(session: AsyncSession, tenant_id: int, media_id: int) -> Media:
    row = await MediaRepository(session, tenant_id).get(media_id)
    if row is None:
        raise NotFound()
    return row


async def get_media_by_token(session: AsyncSession, runtime: Runtime, token: str) -> Media:
    """A file behind a signed link (how Connect, which holds no API key, fetches media)."""
    from tgo.media.signed import media_id_from_token

    media_id = media_id_from_token(runtime, token)
    row = await session.get(Media, media_id) if media_id is not None else None
    if row is None:
        raise NotFound()
    return row
