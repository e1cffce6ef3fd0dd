"""Exclusive file locks, one function for every platform: `flock` on POSIX, `msvcrt.locking` on Windows.

`file_lock(path)` holds an exclusive lock on `path` (created 0600 if missing) for the `with` block and
yields True; with `blocking=False` it yields False at once when another process holds it. The lock goes
with the process: a crashed holder releases it, so there are no stale lock files to clean up.

The back-end is a parameter (`backend="fcntl"|"msvcrt"`), and the Windows one takes `msvcrt.locking` as
an argument, so tests on Linux run both back-ends' code.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

POLL = 0.05


def default_backend() -> str:
    return "msvcrt" if sys.platform == "win32" else "fcntl"


@contextlib.contextmanager
def file_lock(
    path: Path,
    blocking: bool = True,
    *,
    backend: str | None = None,
    locking: Callable[[int, int, int], None] | None = None,
) -> Iterator[bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        chosen = backend or default_backend()
        if chosen == "fcntl":
            got = _fcntl_acquire(fd, blocking)
        elif chosen == "msvcrt":
            got = _msvcrt_acquire(fd, blocking, locking or _msvcrt_locking())
        else:
            raise ValueError(f"unknown lock back-end {chosen!r}")
        if not got:
            yield False
            return
        try:
            yield True
        finally:
            if chosen == "msvcrt":
                _msvcrt_release(fd, locking or _msvcrt_locking())
    finally:
        os.close(fd)  # closing releases a flock; msvcrt's region was unlocked above


def _fcntl_acquire(fd: int, blocking: bool) -> bool:
    if sys.platform == "win32":  # pragma: no cover - selected only on POSIX
        raise OSError("fcntl locks exist only on POSIX")
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


# msvcrt.locking modes (values from the C runtime's <sys/locking.h>, identical in Python's msvcrt module).
LK_UNLCK, LK_NBLCK = 0, 2


def _msvcrt_locking() -> Callable[[int, int, int], None]:
    if sys.platform != "win32":  # pragma: no cover - selected only on Windows (tests pass their own)
        raise OSError("msvcrt locks exist only on Windows")
    import msvcrt

    return msvcrt.locking


def _msvcrt_acquire(fd: int, blocking: bool, locking: Callable[[int, int, int], None]) -> bool:
    # msvcrt locks a byte range from the current position: always byte 0, one byte. LK_LOCK would give up
    # after ten one-second tries; polling LK_NBLCK waits as long as flock does.
    while True:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            locking(fd, LK_NBLCK, 1)
            return True
        except OSError:
            if not blocking:
                return False
        time.sleep(POLL)


def _msvcrt_release(fd: int, locking: Callable[[int, int, int], None]) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        locking(fd, LK_UNLCK, 1)
    except OSError:
        pass
