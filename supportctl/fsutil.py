"""Atomic file writes (a temporary file in the same directory, fsync, then `os.replace`) and file locks.

Private files: on POSIX the mode (0600 for ours) is set on the temporary file before any byte is written.
Windows has no modes: a file created under the user's profile (%APPDATA%, %LOCALAPPDATA%) inherits the
profile's ACL, which grants the user, SYSTEM and Administrators only; `os.chmod` there would only toggle the
read-only flag, so nothing is changed. The back-end is a parameter so the tests run both.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path


def default_backend() -> str:
    return "windows" if sys.platform == "win32" else "posix"


def atomic_write(path: Path, data: bytes, mode: int = 0o644, backend: str | None = None) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a torn one."""
    import tempfile  # not at module level: it pulls in random and shutil on every start

    if path.is_dir():
        # os.replace would fail naming our temporary file; the user gave `path`.
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        if (backend or default_backend()) == "posix":
            os.chmod(tmp, mode)  # mkstemp made it 0600; before the first byte, so never readable by others
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename == tmp:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write(path, text.encode("utf-8"), mode)


def fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":  # a directory cannot be opened (or fsynced) on Windows; NTFS journals renames
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def flock(path: Path, blocking: bool = True) -> contextlib.AbstractContextManager[bool]:
    """Hold an exclusive lock on `path` (created 0600); yields False when `blocking` is off and it is taken.

    `supportctl.locks.file_lock`: flock on POSIX, msvcrt.locking on Windows.
    """
    from supportctl.locks import file_lock

    return file_lock(path, blocking)
