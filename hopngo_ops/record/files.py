"""File plumbing of an incident folder: its lock, atomic writes, and content hashes."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MANIFEST = "manifest.json"
# Atomic writes stage their content under this prefix, in the folder itself (same filesystem,
# so os.replace is atomic), under the folder lock. A crash can leave one behind, never a
# half-written record; `verify` then reports it as an added file.
STAGING_PREFIX = ".staging-"


@contextmanager
def folder_lock(folder: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the incident folder's lock: writers exclusive, verifiers shared.

    The lock is on the directory itself, so it adds no file to the record.
    """
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomically(path: Path, content: str | bytes) -> None:
    """Replace `path` with `content` all at once: readers see the old file or the new one."""
    data = content.encode() if isinstance(content, str) else content
    fd, staged = tempfile.mkstemp(dir=path.parent, prefix=f"{STAGING_PREFIX}{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(staged, 0o644)
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


def record_files(folder: Path) -> list[Path]:
    """The files a manifest covers: all of the folder's but the manifest itself."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p != folder / MANIFEST)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_of(p) for p in record_files(folder)}
