"""A message's header block, read once and fast, with the answers the email package gives.

Triage reads a few headers of every message (sender, subject, dates, ids, recipients). Parsing the block with
`email.parser` and then `email.utils`/`email.header` cost about 1 ms a message, more than everything else
in a headers-only run. Here the common shapes are handled directly: one pass over the block into a
name -> values map, `addr@host` / `Name <addr@host>` / `"Name" <addr@host>` addresses, text without
encoded words, dates in RFC 5322's canonical form. Anything else goes to the email package's own
functions, so every answer is the one `BytesHeaderParser` (policy compat32) and `email.utils` give:
tests/test_desk_parsing.py compares both on generated headers, and benchmarks/bench_desk_parse.py
measures the difference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Union, overload

from supportctl.i18n import _

if TYPE_CHECKING:
    from email.message import Message


class _Lazy:
    """A regular expression compiled when first used: a run that reads no mail (a rerun with nothing new)
    does not pay for the desk's patterns at start-up. Each method, once looked up, is the compiled one's."""

    def __init__(self, pattern: str | bytes, flags: int) -> None:
        self._source: tuple[Any, int] = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        method = getattr(re.compile(*self._source), name)
        setattr(self, name, method)
        return method


@overload
def lazy_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]: ...
@overload
def lazy_pattern(pattern: bytes, flags: int = 0) -> re.Pattern[bytes]: ...
def lazy_pattern(pattern: str | bytes, flags: int = 0) -> Any:
    """`re.compile(pattern, flags)`, done on first use."""
    return _Lazy(pattern, flags)


_CONTROL_RE = lazy_pattern(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Head:
    """The fields of a header block: lowercase name -> values in their order, as compat32's `Message.get_all`
    returns them (folding line breaks kept, trailing ones removed, 8-bit bytes as U+FFFD)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, failobj: Any = None) -> Any:
        values = self._fields.get(name.lower())
        return values[0] if values else failobj

    def get_all(self, name: str, failobj: Any = None) -> Any:
        values = self._fields.get(name.lower())
        return list(values) if values else failobj

    def get_content_type(self) -> str:
        """As `Message.get_content_type`: text/plain when Content-Type is missing or not `type/subtype`."""
        value = self.get("content-type")
        if value is None:
            return "text/plain"
        ctype = value.partition(";")[0].strip().lower()
        return ctype if ctype.count("/") == 1 else "text/plain"

    def get_content_maintype(self) -> str:
        """As `Message.get_content_maintype`: text when Content-Type is missing or not `type/subtype`."""
        return self.get_content_type().split("/")[0]


Headers = Union[Head, "Message"]

# A header line: a field name (printable ASCII but the colon, possibly empty) and a colon (feedparser's headerRE).
_NAME_RE = lazy_pattern(r"[\041-\071\073-\176]*:")
# One field at a line start: its name, and its value from after the blanks that follow the colon through its
# continuation lines (the last line's CR is stripped afterwards, as compat32 does).
_FIELD_RE = lazy_pattern(r"^([\041-\071\073-\176]+):[ \t]*(.*(?:\n[ \t].*)*)", re.M)


def parse_head(head: bytes) -> Headers:
    """The header block's fields; unusual blocks (a lone CR, a `From ` line) are parsed by the email package."""
    if b"\r" in head and head.count(b"\r") != head.count(b"\r\n"):
        return _email_parse(head)  # a lone CR ends a line for the email package: let it split them
    # The email package decodes ASCII with surrogateescape and, for a value holding 8-bit bytes, returns a
    # Header whose str() shows each such byte as U+FFFD: decoding with "replace" gives the same text.
    text = head.decode("ascii") if head.isascii() else head.decode("ascii", "replace")
    fields: dict[str, list[str]] = {}
    # The usual block: every line up to the empty one is a field or a continuation. Then one findall reads
    # it, if it finds a field at every line that does not start with a blank (else the loop below decides).
    ends = [i for i in (text.find("\n\n"), text.find("\n\r\n")) if i >= 0]
    if ends or text.endswith("\n"):
        section = text[: min(ends) + 1] if ends else text
        if section[0] not in " \t\r\n":
            found = _FIELD_RE.findall(section)
            starts = section.count("\n") - section.count("\n ") - section.count("\n\t")
            if len(found) == starts:
                for field_name, field_value in found:
                    key = field_name.lower()
                    if key in fields:
                        fields[key].append(field_value.rstrip("\r\n"))
                    else:
                        fields[key] = [field_value.rstrip("\r\n")]
                return Head(fields)
    name: str | None = None  # the field being read
    value: list[str] = []
    lines = text.split("\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if i < last:
            line += "\n"
        elif not line:
            break
        c = line[0]
        if c == " " or c == "\t":
            if name is not None:  # else a continuation before any field: the email package drops it too
                value.append(line)
            continue
        if c == "\r" or c == "\n":
            break  # the empty line that ends the header block
        if line.startswith("From "):
            return _email_parse(head)  # an mbox envelope line: the email package's rules depend on its place
        m = _NAME_RE.match(line)
        if m is None:
            break  # not a header line: the body starts here (the email package notes a defect)
        if name is not None:
            fields.setdefault(name.lower(), []).append("".join(value).rstrip("\r\n"))
        colon = m.end() - 1
        if colon == 0:
            name = None  # no field name: ignored, and so are its continuation lines
            continue
        name = line[:colon]
        value = [line[colon + 1 :].lstrip(" \t")]
    if name is not None:
        fields.setdefault(name.lower(), []).append("".join(value).rstrip("\r\n"))
    return Head(fields)


def _email_parse(head: bytes) -> Message:
    from email.parser import BytesHeaderParser

    return BytesHeaderParser().parsebytes(head)


# ---------------------------------------------------------------- text


def clean(text: str) -> str:
    """Header text safe for a terminal: no control characters, no bidi overrides, one line."""
    if text.isprintable():  # none of the characters below (all are "Other" or "Separator" in Unicode)
        return text.strip()
    return _CONTROL_RE.sub("?", text.replace("\r", " ").replace("\n", " ").replace("\t", " ")).strip()


MAX_NAME = 255  # characters of a file name shown: what file systems allow; a mail may claim megabytes


def file_name(text: str) -> str | None:
    """An attachment's name made safe to show (`clean`) and cut to `MAX_NAME` characters."""
    name = clean(text)
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1] + "\u2026"
    return name or None


MAX_TEXT = 998  # characters of a header's text kept (a Subject, a sender): RFC 5322's longest line


def header_text(value: Any) -> str:
    """A header value (or RFC 2047 encoded word) decoded, made safe to show and cut to `MAX_TEXT` characters
    (a header block may be a megabyte long: it is not copied whole into every list and record)."""
    if value is None:
        return ""
    text = str(value)
    # no encoded word: email.header would return the text unchanged
    text = clean(text) if "=?" not in text else _decoded_words(text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


@lru_cache(maxsize=4096)  # a desk hears from the same senders again and again
def _decoded_words(text: str) -> str:
    fast = _fast_words(text)
    if fast is not None:
        return clean(fast)
    try:
        from email.header import decode_header, make_header

        return clean(str(make_header(decode_header(text))))
    except Exception:
        return clean(text)


_CODECS = {"utf-8": "utf-8", "iso-8859-1": "latin-1"}  # what mail programs use; other charsets: email.header


def _fast_words(text: str) -> str | None:
    """`str(make_header(decode_header(text)))` for ASCII text whose encoded words are UTF-8 or ISO-8859-1.

    The same steps as email.header (its regex and decoders), without building Header and Charset objects:
    split each line at encoded words, drop the space between two of them, join neighbours of one charset,
    decode, and put a space where Header.__str__ puts one. None: not such a text, or a step failed (then
    email.header decides, and says the same).
    """
    if not text.isascii():
        return None  # non-ASCII next to encoded words takes email.header's odd paths (raw-unicode-escape)
    ecre, header_decode, b64decode = _email_header()
    if not ecre.search(text):
        return text  # "=?" but no encoded word: email.header leaves the text as it is
    words: list[tuple[str, str | None, str | None]] = []  # (text, encoding, charset)
    for line in text.splitlines():
        parts = ecre.split(line)
        first = True
        while parts:
            unencoded = parts.pop(0)
            if first:
                unencoded = unencoded.lstrip()
                first = False
            if unencoded:
                words.append((unencoded, None, None))
            if parts:
                charset = parts.pop(0).lower()
                encoding = parts.pop(0).lower()
                words.append((parts.pop(0), encoding, charset))
    droplist = [n - 1 for n, w in enumerate(words) if n > 1 and w[1] and words[n - 2][1] and words[n - 1][0].isspace()]
    for d in reversed(droplist):
        del words[d]
    if not words:
        return None
    chunks: list[tuple[bytes, str | None]] = []  # decoded bytes, joined while the charset stays the same
    try:
        for word, encoding, charset in words:
            if charset is not None and charset not in _CODECS:
                return None
            if encoding is None:
                data = word.encode("ascii")
            elif encoding == "q":
                data = header_decode(word).encode("raw-unicode-escape")
            else:
                pad = len(word) % 4
                data = b64decode(word + "==="[: 4 - pad] if pad else word)
            if chunks and chunks[-1][1] == charset:
                sep = b" " if charset is None else b""
                chunks[-1] = (chunks[-1][0] + sep + data, charset)
            else:
                chunks.append((data, charset))
        decoded = [(data.decode(_CODECS[cs]) if cs else data.decode("ascii"), cs) for data, cs in chunks]
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        return None
    out: list[str] = []
    last_encoded, last_space = False, False
    for string, cs in decoded:  # Header.__str__: a space between encoded and plain text unless one is there
        if out:
            if last_encoded:
                if cs is None and not (string and _nonctext(string[0])):
                    out.append(" ")
            elif cs is not None and not last_space:
                out.append(" ")
        last_space = bool(string) and _nonctext(string[-1])
        last_encoded = cs is not None
        out.append(string)
    return "".join(out)


@cache
def _email_header() -> tuple[re.Pattern[str], Callable[[str], str], Callable[[str], bytes]]:
    """email.header's own regex and decoders, imported on the first encoded word (not when no mail is read)."""
    import email.header
    from email import base64mime, quoprimime

    return email.header.ecre, quoprimime.header_decode, base64mime.decode  # type: ignore[attr-defined]


def _nonctext(c: str) -> bool:
    return c.isspace() or c in ("(", ")", "\\")


decoded_header = header_text


def message_key(msg: Headers, head: bytes) -> str:
    mid = str(msg.get("Message-ID") or "").strip()
    basis = mid.encode("utf-8", "replace") if mid else head
    return hashlib.sha256(basis).hexdigest()[:12]


# ---------------------------------------------------------------- addresses

# Addresses the way nearly all mail carries them: `addr@host`, `Name <addr@host>`, `"Name, Dr." <addr@host>`,
# comma-separated, with dot-atom address parts, display names of ASCII atoms and quoted strings without
# escapes or line breaks; no comments, groups, domain literals or empty entries. For these,
# email.utils.getaddresses returns each address exactly as written (before and after its stricter checks of
# 2024). Each character of a display name belongs to one alternative only, so no value makes it backtrack.
_FWS = r"[ \t\r\n]*"
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PHRASE = r"""(?:[!#-'*+\-./0-9=?A-Z^-~]|"[^"\\\r\n]*"|[ \t\r\n])*"""
_MAILBOX_RE = lazy_pattern(rf"{_FWS}(?:({_LOCAL}@{_DOMAIN})|{_PHRASE}<({_LOCAL}@{_DOMAIN})>){_FWS}")


def addresses(msg: Headers, *headers: str) -> list[str]:
    """The addresses in these headers, lowercase, in order (as email.utils.getaddresses finds them)."""
    values = [str(v) for h in headers for v in (msg.get_all(h) or [])]
    found = []
    for v in values:
        pos, end = 0, len(v)
        while True:
            m = _MAILBOX_RE.match(v, pos)
            if m is None:
                return _getaddresses(values)
            found.append((m.group(1) or m.group(2)).lower())
            pos = m.end()
            if pos == end:
                break
            if v[pos] != ",":
                return _getaddresses(values)
            pos += 1
    return found


def _getaddresses(values: list[str]) -> list[str]:
    from email.utils import getaddresses

    try:
        return [clean(a).lower() for _n, a in getaddresses(values) if a]
    except Exception:
        return []


def names(msg: Headers, address: str, headers: tuple[str, ...]) -> bool:
    """Whether `address` is among the headers' addresses (a substring test on the raw values, then a parse)."""
    wanted = address.lower()
    raw = " ".join(str(v) for h in headers for v in (msg.get_all(h) or [])).lower()
    return wanted in raw and wanted in addresses(msg, *headers)


# ---------------------------------------------------------------- dates

_EARLIEST_YEAR = 1971  # the eta engine's range; a date outside it cannot start a clock
_MONTHS = {m: n for n, m in enumerate(("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(), 1)}
# RFC 5322's form, as servers and mail programs write it: `Wed, 25 Nov 2026 09:58:00 +0100 (CET)`.
_DATE_RE = lazy_pattern(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t\r\n]+)?([0-9]{1,2})[ \t\r\n]+"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t\r\n]+([1-9][0-9]{3})[ \t\r\n]+"
    r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?[ \t\r\n]+([+-][0-9]{4})(?:[ \t\r\n]+\([^()\\]*\))?"
)


_LOW_YEAR_RE = lazy_pattern(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t\r\n]+0[0-9]{3}(?![0-9])", re.I)


def parse_date(value: str) -> datetime:
    """email.utils.parsedate_to_datetime, with the common form read directly (same result, same errors)."""
    m = _DATE_RE.fullmatch(value)
    if m is not None:
        dd, mon, yy, hh, mi, ss, tz = m.groups()
        offset = int(tz)
        if offset or tz[0] == "+":  # -0000 means "no zone known": a naive datetime, left to email.utils
            sign = -1 if offset < 0 else 1
            offset = abs(offset)
            seconds = sign * ((offset // 100) * 3600 + (offset % 100) * 60)
            try:
                return datetime(
                    int(yy),
                    _MONTHS[mon],
                    int(dd),
                    int(hh),
                    int(mi),
                    int(ss or 0),
                    tzinfo=timezone(timedelta(seconds=seconds)),
                )
            except ValueError:
                pass  # out of range: email.utils raises the same error
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(value)


def plausible(dt: datetime) -> bool:
    return _EARLIEST_YEAR <= dt.year <= datetime.now(timezone.utc).year + 1


def received_time(msg: Headers, arrival: float | None) -> tuple[datetime | None, str, str | None]:
    """(time, where it came from, why a header's date was not used): the newest plausible date wins."""
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
        if _LOW_YEAR_RE.search(value):  # `0000` is year 0, not the two-digit `00` email.utils makes 2000 of
            continue
        try:
            dt = parse_date(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
        dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        if not plausible(dt):
            absurd = absurd or _("its {header}: date {value} is not plausible").format(
                header="Received" if origin == "received" else "Date", value=clean(value)[:60]
            )
            continue
        return dt, origin, None
    if arrival is not None:
        try:
            when = datetime.fromtimestamp(arrival, timezone.utc)
            if plausible(when):
                return when, "arrival", None
        except (OverflowError, OSError, ValueError):
            pass
    return None, "unknown", absurd
