"""glibc's allocator, told to keep the memory a process frees for its next message.

A mail with a form is a few hundred KB, and reading it makes several buffers of that size at once (the raw
message, the base64 mask and run in `skeleton.elide`, the decoded PDF; a TLS literal and its copy in a reader).
glibc serves each from a fresh `mmap` (over 128 KiB) or trims its heap when they are freed together, so the next
message touches new pages again: a page fault per 4 KiB. In a process that reads messages one after another, that
is a fifth of a Maildir mail's MIME scan (2.0-2.2 ms, 1.65 ms with the memory kept) and a tenth of an IMAP
run's system time. Set by triage when it starts its workers or IMAP readers (they are forked and take it
along), in the calling process too: for the rest of its life, freed memory up to 64 MiB stays with it. Elsewhere
(macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import sys

_M_TRIM_THRESHOLD = -1  # <malloc.h>
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 << 20  # a larger buffer (a rare message of many MB) still gets its own mapping
TRIM_THRESHOLD = 64 << 20  # free memory kept at the heap's top before it is given back


def keep_freed_memory() -> bool:
    """Tell glibc to serve buffers up to `MMAP_THRESHOLD` from the heap and keep `TRIM_THRESHOLD` free; whether
    it took the settings."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # the process's C library: no mallopt in musl
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
