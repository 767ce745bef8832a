"""The data dir holds the databases (Connect's keeps inbox texts: OTPs), media and the secret key: what
this process creates there is its user's alone — directories 0700, files 0600 — whatever the umask."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import structlog

DIR_MODE = 0o700
FILE_MODE = 0o600

log = structlog.get_logger("tgo.files")


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (a directory that exists is left alone)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            directory.mkdir(mode=DIR_MODE)
    return path


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for ``open()``: a file it creates is 0600."""
    return os.open(path, flags, FILE_MODE)


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists. SQLite gives a database's -wal, -shm and
    journal files the database file's own mode, so creating the file first covers them too."""
    private_dir(path.parent)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    return path


def warn_if_shared(path: Path) -> None:
    """Log once at start when an existing data dir (made before it was created 0700) is open to others:
    changing a directory the operator chose is theirs to do."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if stat.S_IMODE(mode) & 0o077:
        log.warning(
            "data_dir_readable_by_others", path=str(path), mode=oct(stat.S_IMODE(mode)), fix="chmod 700"
        )
