"""The desk's header and BODYSTRUCTURE parsers as they were before supportctl/desk/headers.py (commit 860851b).

Kept verbatim, only here, as the oracle for tests/test_desk_parsing.py and the baseline of
benchmarks/bench_desk_parse.py: the fast code must give the same answers on any input.
"""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from email.message import Message
from typing import Any

from supportctl.i18n import _

MAX_NODES = 2000
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Unparsable(Exception):
    pass


_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r?\n|([^\s()"]+))', re.S)


def parse_sexp(data: bytes) -> list[Any]:
    """An IMAP parenthesised list into nested Python lists of bytes/None (NIL)."""
    stack: list[list[Any]] = [[]]
    pos, nodes = 0, 0
    while pos < len(data):
        m = _TOKEN.match(data, pos)
        if not m:
            if data[pos:].strip() == b"":
                break
            raise Unparsable(data[pos : pos + 40])
        pos = m.end()
        nodes += 1
        if nodes > MAX_NODES or len(stack) > 64:
            raise Unparsable("too large")
        if m.group(1):
            stack.append([])
        elif m.group(2):
            if len(stack) < 2:
                raise Unparsable("unbalanced")
            done = stack.pop()
            stack[-1].append(done)
        elif m.group(3) is not None:
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", m.group(3)))
        elif m.group(4) is not None:
            n = int(m.group(4))
            stack[-1].append(data[pos : pos + n])
            pos += n
        else:
            atom = m.group(5)
            stack[-1].append(None if atom.upper() == b"NIL" else atom)
    if len(stack) != 1:
        raise Unparsable("unbalanced")
    return stack[0]


def clean(text: str) -> str:
    """Header text safe for a terminal: no control characters, no bidi overrides, one line."""
    return _CONTROL_RE.sub("?", text.replace("\r", " ").replace("\n", " ").replace("\t", " ")).strip()


def decoded_header(value: Any) -> str:
    """A header value (or RFC 2047 encoded word) decoded and made safe to show."""
    return _header_text(value)


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    try:
        from email.header import decode_header, make_header

        return clean(str(make_header(decode_header(str(value)))))
    except Exception:
        return clean(str(value))


_EARLIEST_YEAR = 1971  # the eta engine's range; a date outside it cannot start a clock


def _plausible(dt: datetime) -> bool:
    return _EARLIEST_YEAR <= dt.year <= datetime.now(timezone.utc).year + 1


def _received_time(msg: Message, arrival: float | None) -> tuple[datetime | None, str, str | None]:
    """(time, where it came from, why a header's date was not used): the newest plausible date wins."""
    from email.utils import parsedate_to_datetime

    absurd: str | None = None
    candidates: list[tuple[str, str]] = []
    for raw in msg.get_all("Received") or []:
        text = str(raw)
        if ";" in text:
            candidates.append(("received", text.rsplit(";", 1)[1].strip()))
            break  # the newest Received: is the desk's own server; older ones are the sender's word
    if msg.get("Date"):
        candidates.append(("date", str(msg.get("Date"))))
    for origin, value in candidates:
        # A four-digit year below 1000 (`0099`) is that year, not the two-digit year email.utils makes 1999 of.
        if re.search(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t\r\n]+0[0-9]{3}(?![0-9])", value, re.I):
            continue
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        if not _plausible(dt):
            absurd = absurd or _("its {header}: date {value} is not plausible").format(
                header="Received" if origin == "received" else "Date", value=clean(value)[:60]
            )
            continue
        return dt, origin, None
    if arrival is not None:
        try:
            when = datetime.fromtimestamp(arrival, timezone.utc)
            if _plausible(when):
                return when, "arrival", None
        except (OverflowError, OSError, ValueError):
            pass
    return None, "unknown", absurd


def message_key(msg: Message, head: bytes) -> str:
    mid = str(msg.get("Message-ID") or "").strip()
    basis = mid.encode("utf-8", "replace") if mid else head
    return hashlib.sha256(basis).hexdigest()[:12]


def _parse_head(head: bytes) -> Message:
    from email.parser import BytesHeaderParser

    return BytesHeaderParser().parsebytes(head)


def _addresses(msg: Message, *headers: str) -> list[str]:
    from email.utils import getaddresses

    values = [str(v) for h in headers for v in (msg.get_all(h) or [])]
    try:
        return [clean(a).lower() for _n, a in getaddresses(values) if a]
    except Exception:
        return []


def _names(msg: Message, address: str, headers: tuple[str, ...]) -> bool:
    """Whether `address` is among the headers' addresses (a substring test on the raw values, then a parse)."""
    wanted = address.lower()
    raw = " ".join(str(v) for h in headers for v in (msg.get_all(h) or [])).lower()
    return wanted in raw and wanted in _addresses(msg, *headers)


def head_facts(head: bytes, arrival: float | None, desk_address: str | None) -> dict[str, Any]:
    """What the old `examine()` took from the header block (its first lines, verbatim)."""
    msg = _parse_head(head)
    received, received_from, absurd = _received_time(msg, arrival)
    senders = _addresses(msg, "From")
    address = senders[0] if senders else ""
    reply_tos = _addresses(msg, "Reply-To")
    reply_to = reply_tos[0] if reply_tos else None
    return {
        "id": message_key(msg, head),
        "message_id": clean(str(msg.get("Message-ID") or "")) or None,
        "references": clean(str(msg.get("References") or "")) or None,
        "sender": _header_text(msg.get("From")) or address,
        "sender_address": address,
        "reply_to": reply_to,
        "subject": _header_text(msg.get("Subject")),
        "received": received.isoformat() if received else None,
        "received_from": received_from,
        "to_desk": bool(desk_address) and _names(msg, str(desk_address), ("To", "Cc", "Delivered-To")),
        "absurd": absurd,
        "single_text": msg.get_content_maintype() == "text" if msg.get("Content-Type") else True,
    }
