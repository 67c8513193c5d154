"""Every file gemmtune writes goes through here: atomic replacement, and a lock for updates.

A writer puts the new contents in a temporary file in the same directory, flushes it to disk
and renames it over the old one, so a reader (another process, or a kill -9 half-way) sees
either the old file or the new one, never half of one. A read-modify-write (the tunings
file, the peak memo) holds the file's lock, so concurrent writers all keep their changes.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

LOCK_TIMEOUT = 60.0  # seconds; a write takes milliseconds, so this only trips on a stuck process


class LockTimeout(OSError):
    """Another process has held a file's lock for longer than the timeout."""


def write_atomic(path: str | os.PathLike, data: str | bytes, *, mode: int = 0o644,
                 fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (OSError when it cannot be written).

    Args:
        mode: permissions of the new file (the temporary file is created 0600).
        fsync: flush the data to disk before the rename, so a power cut leaves the old or
            the new file, not an empty one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def locked(path: str | os.PathLike, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold ``<path>.lock`` (a file lock across processes) for the ``with`` block.

    Raises:
        LockTimeout: another process held it for ``timeout`` seconds.
        OSError: the lock file cannot be created.
    """
    import filelock

    lock = filelock.FileLock(str(path) + ".lock", timeout=timeout)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockTimeout(f"another gemmtune process has held the lock {lock.lock_file} "
                          f"for over {timeout:.0f} s") from None
    try:
        yield
    finally:
        lock.release()


def update_atomic(path: str | os.PathLike, change: Callable[[str | None], str], *,
                  mode: int = 0o644, timeout: float = LOCK_TIMEOUT) -> None:
    """Read-modify-write ``path`` under its lock: ``change(old text or None) -> new text``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path, timeout):
        try:
            old: str | None = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            old = None
        write_atomic(path, change(old), mode=mode)
