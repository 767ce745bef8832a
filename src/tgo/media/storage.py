"""Media storage behind an interface an object store can implement later; the local one writes under the
media dir via a temporary file and an atomic rename, so a failed upload leaves nothing behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio

from tgo.kit.private_files import private_dir, private_opener


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


class MediaStorage(Protocol):
    async def save(self, chunks: AsyncIterator[bytes], *, max_size: int) -> Stored: ...

    def open(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...

    def path(self, key: str) -> Path | None: ...


_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}$")


class TooLarge(Exception):
    pass


class LocalStorage:
    CHUNK = 256 * 1024

    def __init__(self, root: Path) -> None:
        self.root = root
        private_dir(root / ".tmp")

    def path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("bad storage key")
        return self.root / key

    async def save(self, chunks: AsyncIterator[bytes], *, max_size: int) -> Stored:
        key = f"{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        try:
            async with await anyio.open_file(tmp, "wb", opener=private_opener) as fh:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise TooLarge()
                    digest.update(chunk)
                    await fh.write(chunk)
            final = self.root / key
            private_dir(final.parent)
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return Stored(key=key, size=size, sha256=digest.hexdigest())

    async def open(self, key: str) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self.path(key), "rb") as fh:
            while chunk := await fh.read(self.CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()
