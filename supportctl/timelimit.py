"""A wall-clock limit for a block of Python code, on every platform and in any thread, without signals.

`time_limit(seconds)` raises `TimeLimitExceeded` inside the block once `seconds` have passed. A watchdog
thread raises it in the guarded thread with CPython's `PyThreadState_SetAsyncExc` — the same moment a
SIGALRM handler would (between two bytecodes), but it needs neither SIGALRM (Windows has none) nor the main
thread. Where that call does not exist (not CPython) the `deadline` back-end only records the deadline,
and code that loops checks it with `check()` (pdfutil's walk budget does).

The back-end is a parameter, so the tests run both on any platform.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class TimeLimitExceeded(BaseException):
    """A BaseException, so that parsers' broad `except Exception` recovery cannot swallow it."""


_local = threading.local()


def check() -> None:
    """Raise `TimeLimitExceeded` when the innermost `time_limit` of this thread has run out."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitExceeded()


def default_backend() -> str:
    import sys

    return "async-exc" if sys.implementation.name == "cpython" else "deadline"


@contextlib.contextmanager
def time_limit(seconds: float, backend: str | None = None) -> Iterator[None]:
    chosen = backend or default_backend()
    if chosen not in ("async-exc", "deadline"):
        raise ValueError(f"unknown time-limit back-end {chosen!r}")
    outer = getattr(_local, "deadline", None)
    deadline = time.monotonic() + seconds
    _local.deadline = deadline if outer is None else min(outer, deadline)
    try:
        if chosen == "deadline":
            yield
        else:
            with _watchdog(seconds):
                yield
    finally:
        _local.deadline = outer


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    import ctypes

    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"active": True, "fired": False}
    done = threading.Event()

    def watch() -> None:
        if done.wait(seconds):
            return
        with lock:
            if state["active"]:
                state["fired"] = True
                set_async_exc(target, ctypes.py_object(TimeLimitExceeded))

    t = threading.Thread(target=watch, name="supportctl-time-limit", daemon=True)
    t.start()
    try:
        yield
    finally:
        with lock:
            state["active"] = False
            if state["fired"]:
                # Fired but perhaps not delivered yet: take it back, so it cannot surface after the block.
                set_async_exc(target, None)
        done.set()
