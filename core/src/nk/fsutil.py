"""Writing files so that a reader never sees a partial one.

:func:`atomic_write_bytes` writes to a temporary file in the target's folder, flushes it to
disk (``fsync``) and renames it over the target (``os.replace``, atomic on POSIX): the target
holds either its old content or the complete new one. When writing fails (a full disk, no
permission) the temporary file is removed and the target is untouched, so no empty or torn
file is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from pathlib import Path

TMP_PREFIX = ".tmp-"
"""Temporary files start with this (readers listing a folder skip them; cleaners may remove
leftovers of a killed process)."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see the module docstring).

    :param fsync: flush the data to disk before the rename (survives a power cut, costs a
        little time per file).
    """
    target = Path(path)
    tmp = target.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{target.name}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` for text."""
    atomic_write_bytes(path, text.encode(encoding), fsync=fsync)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's content, read in blocks of 1 MiB (memory stays flat)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
