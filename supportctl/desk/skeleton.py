"""Parse a message with Python's `email` package without walking every line of its base64 attachments.

`email`'s feed parser handles a message line by line: a 130 KB PDF in base64 is ~2,300 lines, and parsing them
cost a third as much as validating the form. A line made only of base64 characters (`A-Z a-z 0-9 + / =`) can
never be a header, a continuation, a boundary or an empty line, so in every state of the parser a run of such
lines does exactly what one such line does. `elide` replaces each long run with one token line of the same kind
(the run's last line ending kept), `restore` puts the run back into the payload the token ended up in: the parse
of the skeleton is the parse of the message, at a fraction of the lines.

A part whose payload is a single token standing for clean base64 (lines of one width, whole quads, `=` only at
the end) is decoded from the run directly (`decoded`): what the `email` package would return, without putting
its lines back into a string, splitting and joining them first. Base64 is decoded by pybase64 (SIMD: 0.01 ms for
a 130 KB form where binascii takes 0.4 ms, a twentieth of the form's validation), with binascii's results.
"""

from __future__ import annotations

import binascii
import re
from typing import TYPE_CHECKING, NamedTuple

from pybase64 import b64decode

if TYPE_CHECKING:
    from email.message import Message

MIN_RUN = 4096  # bytes; shorter runs are parsed line by line (the token would save little)
_MARK = b"zzSupportctlElidedRun"
_TOKEN_RE = re.compile(_MARK.decode("ascii") + r"(\d+)z")
_ONLY_TOKEN_RE = re.compile(r"[\r\n]*" + _MARK.decode("ascii") + r"(\d+)z[\r\n]*")
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
# b"a" for a base64 character or a line break, b" " for anything else: runs are then found with find().
_MASK = bytes(b"a"[0] if c in _B64 + b"\r\n" else b" "[0] for c in range(256))
_PROBE = b"a" * 256
_CRLF = b"\r\n"


class Run(NamedTuple):
    """The lines a token stands for, and the same without line breaks when its lines are uniform (else None)."""

    lines: bytes
    joined: bytes | None


def _uniform(run: bytes) -> bytes | None:
    """The run without its line breaks, when every line but a shorter last one has one width and one ending.

    Such a run has no empty line. The line breaks at the expected places are checked in two strided slices,
    and that there are no others by the length of the run without them.
    """
    ends = [x for x in (run.find(b"\n"), run.find(b"\r")) if x >= 0]
    if not ends:
        return run  # one line
    width = min(ends)
    eol = _CRLF if run[width : width + 2] == _CRLF else run[width : width + 1]
    step = width + len(eol)
    breaks = (len(run) - 1) // step
    if run[width::step] != eol[:1] * breaks or (len(eol) == 2 and run[width + 1 :: step] != b"\n" * breaks):
        return None
    joined = run.translate(None, _CRLF)
    return joined if len(joined) == len(run) - breaks * len(eol) else None


def elide(data: bytes) -> tuple[bytes, list[Run]]:
    """The message with every long run of base64-only lines replaced by a token line, and the runs."""
    if len(data) < MIN_RUN or _MARK in data:
        return data, []  # nothing worth it, or a message that carries our mark: parse it as it is
    mask = data.translate(_MASK)
    pieces: list[bytes] = []
    runs: list[Run] = []
    done = pos = 0
    while True:
        i = mask.find(_PROBE, pos)
        if i < 0:
            break
        a = mask.rfind(b" ", 0, i) + 1
        b = mask.find(b" ", i)
        b = len(data) if b < 0 else b
        pos = b
        if b - a < MIN_RUN:
            continue
        # The span's first line may have begun before it (a header value, a word): start after a line break,
        # past any empty lines, so the run begins at the start of a non-empty line.
        first = min(x for x in (data.find(b"\n", a, b), data.find(b"\r", a, b), b) if x >= 0)
        start = first
        while start < b and data[start] in _CRLF:
            start += 1
        # Its last line may go on after it: end at the last complete line, before any empty lines.
        last = max(data.rfind(b"\n", start, b), data.rfind(b"\r", start, b))
        k = last
        while k >= start and data[k] in _CRLF:
            k -= 1
        end = k + 1
        if end - start < MIN_RUN:
            continue
        run = data[start:end]
        joined = _uniform(run)
        if joined is None and b"" in run.splitlines():  # bytes split at \r\n, \n and \r only, as the parser does
            continue  # an empty line inside ends headers or a block: keep this run as it is
        ending = _CRLF if data[end : end + 2] == _CRLF else data[end : end + 1]
        pieces += [data[done:start], _MARK, str(len(runs)).encode("ascii"), b"z", ending]
        runs.append(Run(run, joined))
        done = end + len(ending)
    if not runs:
        return data, []
    pieces.append(data[done:])
    return b"".join(pieces), runs


def restore(payload: str, runs: list[Run]) -> str:
    """A payload of the skeleton with its tokens replaced by the lines they stand for."""
    return _TOKEN_RE.sub(lambda m: runs[int(m.group(1))].lines.decode("ascii"), payload)


def decoded(part: Message, runs: list[Run]) -> bytes | None:
    """The bytes of a base64 part whose payload is one token standing for clean base64; else None (restore it).

    `email` joins the payload's lines and decodes them strictly (`_encoded_words.decode_b`): for whole quads
    with `=` only at the very end that first attempt succeeds, without a defect, with these bytes.
    """
    payload = part.get_payload()
    if not isinstance(payload, str) or str(part.get("content-transfer-encoding", "")).lower() != "base64":
        return None  # the encoding read as `email.message.Message.get_payload` reads it
    m = _ONLY_TOKEN_RE.fullmatch(payload)
    joined = runs[int(m.group(1))].joined if m is not None else None
    if joined is None or len(joined) % 4:
        return None
    pad = joined.find(b"=")
    if pad >= 0 and joined[pad:] not in (b"=", b"=="):
        return None
    return b64decode(joined, validate=True)  # what binascii.a2b_base64 gives for clean base64


def lenient_b64(data: bytes) -> bytes:
    """`binascii.a2b_base64(data)` (non-alphabet bytes skipped), fast where `=` comes only at the end."""
    pad = data.find(b"=")
    if pad >= 0 and data[pad:].rstrip(b"\r\n \t") not in (b"=", b"=="):
        return binascii.a2b_base64(data)  # padding inside: binascii's own rules for where decoding stops
    return b64decode(data)


def marked(payload: str) -> bool:
    return _MARK.decode("ascii") in payload
