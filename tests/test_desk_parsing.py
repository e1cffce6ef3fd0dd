"""The desk's fast header and BODYSTRUCTURE parsers give the same answers as the code they replace.

supportctl/desk/headers.py reads header blocks itself and leaves unusual ones to the email package;
imapparts.parse_sexp tokenises with one regex. The oracle is the old code, kept verbatim in
tests/desk_reference.py (the email package's parser, getaddresses, decode_header, parsedate_to_datetime).
The headers are generated the way mail programs and servers write them, and then damaged: RFC 2047 words
in UTF-8 and ISO-8859-1, quoted names with commas, comments, groups, folding, duplicates, odd dates, raw
8-bit bytes, stray lines.
"""

from __future__ import annotations

import base64
import string
from datetime import datetime, timedelta, timezone
from email import quoprimime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from supportctl.desk import headers, imapparts
from supportctl.desk import triage as inbox
from supportctl.desk.sources import Envelope
from tests import desk_reference as ref

MANY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- generated header parts

WORD = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
LATIN1_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), min_size=1, max_size=12)
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@st.composite
def encoded_word(draw: Any) -> str:
    """An RFC 2047 word as mail programs write it: UTF-8 or ISO-8859-1, B or Q."""
    charset = draw(st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "ISO-8859-1"]))
    text = draw(LATIN1_TEXT if charset.lower() == "iso-8859-1" else ANY_TEXT)
    data = text.encode(charset)
    if draw(st.booleans()):
        return f"=?{charset}?{draw(st.sampled_from('Bb'))}?{base64.b64encode(data).decode()}?="
    return quoprimime.header_encode(data, charset)


BROKEN_WORD = st.sampled_from(
    ["=?utf-8?q?caf=E9?=", "=?x-unknown?q?abc?=", "=?utf-8?b?!!!?=", "=?utf-8?B?YWJj?=", "=?=", "=?utf-8?x?a?=", "a=?b"]
)
PHRASE_PART = st.one_of(
    WORD,
    WORD.map(lambda w: w + "."),
    encoded_word(),
    BROKEN_WORD,
    ANY_TEXT.filter(lambda t: "\n" not in t and "\r" not in t),
    st.sampled_from(
        ['"Doe, John"', '"Dr. A. Meier"', '"q\\"uote"', '"a(b)c"', '"unterminated', "(comment)", "(a (b))"]
    ),
)
PHRASE = st.lists(PHRASE_PART, min_size=1, max_size=3).map(" ".join)
LOCAL = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,10}", fullmatch=True),
    st.sampled_from(['"a b"', "a..b", ".a", "a.", "ä", "o'neil", "x=y?z"]),
)
DOMAIN = st.one_of(
    st.from_regex(r"[A-Za-z0-9-]{1,8}(\.[A-Za-z0-9-]{1,8}){0,2}", fullmatch=True),
    st.sampled_from(["[127.0.0.1]", "exa mple.org", "ex(c)ample.org", "bücher.de", "a@b.c", ""]),
)
ADDR = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN) | st.sampled_from(["nobody", "<>", "@x"])


@st.composite
def mailbox(draw: Any) -> str:
    addr = draw(ADDR)
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return addr
    if shape == 1:
        return f"{draw(PHRASE)} <{addr}>"
    if shape == 2:
        return f"<{addr}>"
    if shape == 3:
        return f"{addr} ({draw(PHRASE)})"
    if shape == 4:
        return f"{draw(PHRASE)}<{addr}>"
    return f"{draw(PHRASE)} < {addr} >"


@st.composite
def address_value(draw: Any) -> str:
    boxes = draw(st.lists(mailbox(), min_size=1, max_size=3))
    if draw(st.integers(0, 9)) == 0:
        return f"{draw(WORD)}: {', '.join(boxes)};"  # a group
    return draw(st.sampled_from([", ", ",", " , ", ",\r\n "])).join(boxes)


@st.composite
def date_value(draw: Any) -> str:
    when = draw(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 30)))
    offset = draw(st.integers(-14 * 60, 14 * 60))
    text = format_datetime(when.replace(tzinfo=timezone(timedelta(minutes=offset))))
    variant = draw(st.integers(0, 14))
    if variant == 1:
        text = text.split(", ", 1)[1]  # no day name
    elif variant == 2:
        text += " (CET)"
    elif variant == 3:
        text = text[:-5] + "-0000"
    elif variant == 4:
        text = text[:-5] + draw(st.sampled_from(["GMT", "UT", "EST", "edt", "Z", "XYZ", "+2400", "-9999", "+0060"]))
    elif variant == 5:
        text = text.replace(" ", draw(st.sampled_from(["  ", "\t", "\r\n "])))
    elif variant == 6:
        text = text[:-9] + text[-6:]  # no seconds
    elif variant == 7:
        parts = text.split()
        parts[3] = parts[3][2:]  # a two-digit year
        text = " ".join(parts)
    elif variant == 8:
        text = text.lower()
    elif variant == 9:
        text = draw(
            st.sampled_from(
                [
                    "Wed, 31 Feb 2026 10:00:00 +0100",
                    "Wed, 25 Nov 2026 24:00:00 +0100",
                    "Wed, 25 Nov 2026 10:61:00 +0100",
                    "25 Nov 2026",
                    "yesterday",
                    "",
                    "Wed,25 Nov 2026 10:00:00 +0100",
                    "Wed 25 Nov 2026 10:00:00 +0100",
                    "Wed, 25 November 2026 10:00:00 +0100",
                    "Wed, 25-Nov-2026 10:00 +0100",
                    "Wed, 25 Nov 0099 10:00:00 +0100",
                    "Wed, 25 Nov 2026 10.00.00 +0100",
                    "Wed, 25 Nov 2026 10:00:00 +01:00",
                    "Wed, ٢٥ Nov 2026 10:00:00 +0100",
                ]
            )
        )
    elif variant == 10:
        text = draw(ANY_TEXT)
    return text


MESSAGE_ID = st.one_of(
    st.builds(lambda a, b: f"<{a}@{b}>", WORD, WORD), st.sampled_from(["", "  <x@y> ", "<a\x01b@c>", "no brackets"])
)
CONTENT_TYPE = st.sampled_from(
    [
        "text/plain; charset=utf-8",
        "TEXT/HTML",
        "multipart/mixed; boundary=x",
        "application/pdf",
        "bogus",
        "a/b/c",
        "",
        " text / plain ",
        "image/png;name=a.png",
        "Multipart/Alternative",
    ]
)
NAMES = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Delivered-To",
    "Subject",
    "Date",
    "Received",
    "Message-ID",
    "References",
    "Content-Type",
    "X-Mailer",
]


@st.composite
def field(draw: Any) -> tuple[str, str]:
    name = draw(st.sampled_from(NAMES))
    if name in ("From", "To", "Cc", "Reply-To", "Delivered-To"):
        value = draw(address_value() | st.just("") | PHRASE)
    elif name == "Subject":
        value = draw(PHRASE | st.just("") | st.lists(encoded_word(), min_size=1, max_size=3).map(" ".join))
    elif name == "Date":
        value = draw(date_value())
    elif name == "Received":
        value = draw(st.sampled_from(["from a by b with ESMTPS id 1; ", "from a by b;\r\n\t", "by b; x;"]))
        value += draw(date_value()) if draw(st.booleans()) else ""
    elif name in ("Message-ID", "References"):
        value = draw(MESSAGE_ID)
    elif name == "Content-Type":
        value = draw(CONTENT_TYPE)
    else:
        value = draw(PHRASE)
    return draw(st.sampled_from([name, name.lower(), name.upper()])), value


@st.composite
def header_block(draw: Any) -> bytes:
    """A header block as a server hands it over, sometimes damaged."""
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    lines: list[bytes] = []
    for name, value in draw(st.lists(field(), max_size=10)):
        raw = value.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")
        if draw(st.integers(0, 4)) == 0 and b" " in raw:  # fold at a space
            at = raw.index(b" ")
            raw = raw[:at] + eol + draw(st.sampled_from([b" ", b"\t", b"  "])) + raw[at + 1 :]
        sep = draw(st.sampled_from([b" ", b"", b"\t", b"  "]))
        lines.append(name.encode() + b":" + sep + raw.replace(b"\r\n", eol))
    for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
        stray = draw(
            st.sampled_from(
                [
                    b"From sender@example.org Wed Nov 25 09:58:00 2026",
                    b"no colon here",
                    b" a continuation",
                    b": no name",
                    b"X Bad: space in name",
                    b"Subj\xc3\xa9ct: 8-bit name",
                    b"\tindented",
                    b"\r",
                    b"X-Lone: a\rb",
                    b"X-Empty:",
                ]
            )
        )
        lines.insert(draw(st.integers(0, len(lines))), stray)
    block = eol.join(lines)
    end = draw(st.sampled_from([eol + eol, eol + eol + b"body text" + eol, eol, b""]))
    return block + end if lines else end


def _fields(msg: Any) -> dict[str, Any]:
    names = [*NAMES, "X-Bad", "Subj", "X-Lone", "X-Empty", "Content-type"]
    out: dict[str, Any] = {"maintype": msg.get_content_maintype()}
    for n in names:
        out[n] = ([str(v) for v in msg.get_all(n) or []], None if msg.get(n) is None else str(msg.get(n)))
    return out


# ---------------------------------------------------------------- headers


@MANY
@given(header_block())
@example(b"Subject: a\r\n b\r\n\tc\r\n\r\n")
@example(b"Subject:\r\n folded\r\nFrom: x@y\r\nSubject: second\r\n\r\n")
@example(b" first\r\nFrom: x@y\r\n\r\n")
@example(b"From x@y Wed\r\nFrom: x@y\r\n\r\n")
@example(b"From: x@y\r\nFrom x@y Wed\r\n")
@example(b"From: a\xe9@b\r\nSubject: caf\xc3\xa9\r\n\r\n")
@example(b"Subject: no end of line")
@example(b"")
def test_parse_head_reads_fields_as_the_email_package(head: bytes) -> None:
    assert _fields(headers.parse_head(head)) == _fields(ref._parse_head(head))


@MANY
@given(header_block(), st.one_of(st.none(), st.floats(-1e12, 1e12)), st.sampled_from([None, "RegForm@example.com"]))
def test_examine_takes_the_same_facts_from_any_header(head: bytes, arrival: float | None, desk: str | None) -> None:
    env = Envelope("k", len(head), head, arrival, lambda: head)
    facts, pdfs = inbox.examine(env, inbox.Limits(), want_body=False, desk_address=desk)
    old = ref.head_facts(head, arrival, desk)
    got = {k: getattr(facts, k) for k in old if k not in ("absurd", "single_text")}
    assert got == {k: v for k, v in old.items() if k not in ("absurd", "single_text")}
    if old["received"] is None and old["absurd"]:
        assert facts.kind == "skipped" and old["absurd"] in (facts.reason or "")
    else:
        assert facts.kind == ("no-pdf" if old["single_text"] else "unchecked")
    assert pdfs == []


@MANY
@given(st.lists(address_value() | st.sampled_from(["", "  ", "x@y, ", ", x@y", "a@b (c", '"a@b'])), st.booleans())
@example(["Anna <Anna@Example.ORG>", '"Doe, John" <j@x.org>', "j@x.org"], True)
@example(['"RegForm@example.com" <other@x.org>'], True)
def test_addresses_are_those_getaddresses_finds(values: list[str], desk_in_raw: bool) -> None:
    head = b"".join(b"To: " + v.encode() + b"\r\n" for v in values) + b"\r\n"
    if desk_in_raw:
        head = b"Cc: Desk <RegForm@Example.com>\r\n" + head
    new, old = headers.parse_head(head), ref._parse_head(head)
    assert headers.addresses(new, "To", "Cc") == ref._addresses(old, "To", "Cc")
    desk = "regform@example.com"
    assert headers.names(new, desk, ("To", "Cc")) == ref._names(old, desk, ("To", "Cc"))


@st.composite
def encoded_text(draw: Any) -> str:
    """Encoded words among plain words, as subjects and display names carry them, folded or not."""
    pieces = draw(
        st.lists(
            encoded_word() | WORD | BROKEN_WORD | st.sampled_from(["Re:", "(", ")", "\\", "<a@b>", "="]),
            min_size=1,
            max_size=5,
        )
    )
    seps = draw(
        st.lists(
            st.sampled_from([" ", "", "  ", "\t", "\r\n ", "\n\t", "\x0b", " \n"]),
            min_size=len(pieces),
            max_size=len(pieces),
        )
    )
    return "".join(sep + piece for sep, piece in zip(seps, pieces, strict=True))


@MANY
@given(st.one_of(PHRASE, encoded_text(), ANY_TEXT))
@example("a=?\r\n b")
@example("=?utf-8?q?a\x0bb?=")
@example("=?utf-8?q??= x")
@example("Re:=?utf-8?q?caf=C3=A9?=(x)")
@example("=?us-ascii?q?a?= b")
@example("=?utf-8?q?a?= =?utf-8?q?b?=")
@example("=?utf-8?q?a?=\r\n =?iso-8859-1?q?=E9?= c")
@example("x\u202eevil\u2028line\x85")
def test_header_text_decodes_as_the_email_package(text: str) -> None:
    assert headers.header_text(text) == ref._header_text(text)
    assert headers.clean(text) == ref.clean(text)


def test_header_text_of_none_and_of_header_objects() -> None:
    from email.header import Header

    assert headers.header_text(None) == ref._header_text(None) == ""
    h = Header("caf\udcc3\udca9", charset="unknown-8bit")
    assert headers.header_text(h) == ref._header_text(h) == "caf\ufffd\ufffd"


def _outcome(f: Any, value: str) -> Any:
    try:
        dt = f(value)
    except Exception as exc:
        return type(exc)
    return dt, dt.utcoffset(), dt.tzinfo is None


@MANY
@given(date_value())
@example("Wed, 25 Nov 2026 09:58:00 +0100")
@example("25 Nov 2026 09:58 -0000")
@example("Sun, 1 Jan 9999 23:59:59 -2359")
@example("Sun, 1 Jan 1000 00:00:00 +0000")
def test_dates_parse_as_parsedate_to_datetime(text: str) -> None:
    assert _outcome(headers.parse_date, text) == _outcome(parsedate_to_datetime, text)


# ---------------------------------------------------------------- the fast paths are the ones taken


def test_ordinary_headers_never_reach_the_email_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import email.utils

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the email package was called")

    monkeypatch.setattr(headers, "_email_parse", refuse)
    monkeypatch.setattr(headers, "_getaddresses", refuse)
    monkeypatch.setattr(email.utils, "parsedate_to_datetime", refuse)
    head = (
        b"Received: from client.example.org by mx.example.com with ESMTPS;\r\n"
        b" Wed, 25 Nov 2026 09:58:30 +0100 (CET)\r\n"
        b'From: "Dvorak, Anna" <Anna@Example.org>\r\nTo: RegForm@msdirectservices.com\r\n'
        b"Cc: Desk <desk@example.com>, other@example.com\r\nReply-To: anna@example.org\r\n"
        b"Subject: Registration\r\nDate: Wed, 25 Nov 2026 09:58:00 +0100\r\nMessage-ID: <1@example.org>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
    )
    msg = headers.parse_head(head)
    assert isinstance(msg, headers.Head)
    assert headers.addresses(msg, "From", "Reply-To") == ["anna@example.org", "anna@example.org"]
    assert headers.addresses(msg, "Cc") == ["desk@example.com", "other@example.com"]
    assert headers.header_text(msg.get("From")) == '"Dvorak, Anna" <Anna@Example.org>'
    when, origin, _why = headers.received_time(msg, None)
    assert (when, origin) == (datetime(2026, 11, 25, 9, 58, 30, tzinfo=timezone(timedelta(hours=1))), "received")
    assert msg.get_content_maintype() == "multipart"


def test_encoded_words_are_decoded_once_per_distinct_text() -> None:
    headers._decoded_words.cache_clear()
    for _ in range(3):
        assert headers.header_text("=?utf-8?q?Anna_Dvo=C5=99=C3=A1k?= <a@x>") == "Anna Dvořák <a@x>"
    info = headers._decoded_words.cache_info()
    assert (info.misses, info.hits) == (1, 2)


# ---------------------------------------------------------------- BODYSTRUCTURE


def _quoted(data: bytes) -> bytes:
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


SEXP_ATOM = st.one_of(
    st.sampled_from([b"NIL", b"nil", b"Nil", b"NILL", b"0", b"1043", b"BASE64", b"\\Seen", b"{5}", b"a{b", b"[x]"]),
    st.from_regex(rb"[A-Za-z0-9.\-]{1,10}", fullmatch=True),
)
SEXP_STRING = st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b).map(_quoted) | st.sampled_from(
    [b'""', b'"("', b'"NIL"', b'"a\\"b"', b'"a\\\\"', b'"x\\y"', b'"caf\xc3\xa9"', b'"a\\\nb"']
)
SEXP_LITERAL = st.binary(max_size=20).map(lambda b: b"{%d}\r\n%s" % (len(b), b))
SEXP = st.recursive(
    st.one_of(SEXP_ATOM, SEXP_STRING, SEXP_LITERAL),
    lambda inner: st.builds(
        lambda items, sep: b"(" + sep.join(items) + b")",
        st.lists(inner, max_size=8),
        st.sampled_from([b" ", b"  ", b"\r\n", b"\t", b" \x0b "]),
    ),
    max_leaves=60,
)


@st.composite
def bodystructure(draw: Any) -> bytes:
    """A leaf or a nested multipart as Dovecot writes it: types, params (RFC 2231 too), NIL, sizes."""

    def leaf() -> bytes:
        main = draw(st.sampled_from([b"TEXT", b"APPLICATION", b"IMAGE", b"message"]))
        params = draw(
            st.sampled_from(
                [
                    b"NIL",
                    b'("CHARSET" "utf-8")',
                    b'("NAME" "a.pdf")',
                    b'("NAME*" "utf-8\'\'%C3%A4.pdf")',
                    b'("NAME" {5}\r\nb.pdf)',
                    b'("NAME" "=?utf-8?B?w6QucGRm?=")',
                ]
            )
        )
        disp = draw(st.sampled_from([b"NIL", b'("ATTACHMENT" ("FILENAME" "a \\"b\\".pdf"))', b'("INLINE" NIL)']))
        lines = b" 27" if main == b"TEXT" else b""
        return b'(%s %s %s NIL NIL "BASE64" %d%s NIL %s NIL NIL)' % (
            _quoted(main),
            _quoted(draw(st.sampled_from([b"PDF", b"plain", b"X-PDF"]))),
            params,
            draw(st.integers(0, 10**7)),
            lines,
            disp,
        )

    def node(depth: int) -> bytes:
        if depth > 3 or draw(st.booleans()):
            return leaf()
        children = b"".join(node(depth + 1) for _ in range(draw(st.integers(1, 3))))
        return children + b' "MIXED" ("BOUNDARY" "b%d") NIL NIL NIL' % depth

    return b"(" + node(0) + b")"


def _parsed(f: Any, data: bytes) -> Any:
    try:
        return f(data)
    except (imapparts.Unparsable, ref.Unparsable) as exc:
        return ("Unparsable", exc.args)


@MANY
@given(
    st.one_of(SEXP, bodystructure()),
    st.one_of(
        st.none(),
        st.tuples(st.integers(0, 400), st.integers(0, 400)),
        st.tuples(st.integers(0, 400), st.sampled_from([b"(", b")", b'"', b"\\", b"{3}\r\n", b"{99}", b" "])),
    ),
)
def test_parse_sexp_gives_the_old_result_or_the_old_error(data: bytes, damage: Any) -> None:
    if isinstance(damage, tuple) and isinstance(damage[1], int):
        data = data[: damage[0]] + data[damage[1] :]  # a piece cut out
    elif isinstance(damage, tuple):
        data = data[: damage[0]] + damage[1] + data[damage[0] :]  # a byte put in
    assert _parsed(imapparts.parse_sexp, data) == _parsed(ref.parse_sexp, data)


@pytest.mark.parametrize("depth", [62, 63, 64, 65, 100])
def test_parse_sexp_keeps_its_nesting_limit(depth: int) -> None:
    data = b"(" * depth + b"x" + b")" * depth
    assert _parsed(imapparts.parse_sexp, data) == _parsed(ref.parse_sexp, data)
    assert isinstance(_parsed(imapparts.parse_sexp, data), list) == (depth < 64)


@pytest.mark.parametrize("count", [1997, 1998, 1999, 2000, 2001])
def test_parse_sexp_keeps_its_size_limit(count: int) -> None:
    data = b"(" + b" ".join([b"NIL"] * count) + b")"
    assert _parsed(imapparts.parse_sexp, data) == _parsed(ref.parse_sexp, data)
    assert isinstance(_parsed(imapparts.parse_sexp, data), list) == (count <= imapparts.MAX_NODES - 2)
    big = b"(" + b" ".join([b'"%s"' % (b"x" * 40)] * count) + b")"  # over findall's size: token by token
    assert _parsed(imapparts.parse_sexp, big) == _parsed(ref.parse_sexp, big)


@MANY
@given(encoded_text())
def test_fast_rfc2047_decoding_is_email_headers(text: str) -> None:
    from email.header import decode_header, make_header

    fast = headers._fast_words(text)
    try:
        slow: str | None = str(make_header(decode_header(text)))
    except Exception:
        slow = None
    assert fast is None or fast == slow
    if text.isascii() and slow is not None and "=?" in text and "x-unknown" not in text and "=??" not in text:
        assert fast == slow  # the shapes mail programs write take the fast path


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=?utf-8?q?Anna_Dvo=C5=99=C3=A1k?= <anna@example.org>", "Anna Dvořák <anna@example.org>"),
        ("=?UTF-8?B?0JTQvNC40YLRgNC40Lk=?=\r\n =?UTF-8?B?IA==?= 3", "Дмитрий  3"),
        ("Re: =?iso-8859-1?q?M=FCller?= GmbH", "Re: Müller GmbH"),
        ("Re:=?iso-8859-1?q?M=FCller?=(GmbH)", "Re: Müller(GmbH)"),
        ("=?utf-8?b?!!!?=", ""),  # not base64: nothing decodes
        ("=?utf-8?q?caf=E9?=", "=?utf-8?q?caf=E9?="),
    ],
)
def test_encoded_words_as_mail_programs_write_them(text: str, shown: str) -> None:
    assert headers.header_text(text) == ref._header_text(text) == shown


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    st.integers(-12 * 4, 14 * 4),
)
def test_imap_internaldate_is_read_as_rfc3501_writes_it(when: datetime, quarters: int) -> None:
    from datetime import timedelta, timezone

    from supportctl.desk.sources import _internaldate

    offset = quarters * 15
    when = when.replace(tzinfo=timezone(timedelta(minutes=offset)), microsecond=0)
    sign = "+" if offset >= 0 else "-"
    # date-day-fixed: a day below 10 is padded with a space (" 5-Nov-2026"), as Dovecot sends it
    raw = f"{when.day:2d}-{when:%b}-{when.year} {when:%H:%M:%S} {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    assert _internaldate(raw.encode()) == when.timestamp()
    assert _internaldate(b"32-Nov-2026 10:00:00 +0100") is None and _internaldate(b"junk") is None
