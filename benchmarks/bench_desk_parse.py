"""Benchmark the desk's per-message parsing: header block and BODYSTRUCTURE, old code against new, same run.

The old code is tests/desk_reference.py (the implementation before supportctl/desk/headers.py, verbatim).
The corpus is built like real mail: N header blocks written by the email package's generator (distinct
senders, half of them with non-ASCII names as RFC 2047 words, subjects ASCII, encoded and "Re:", a
Received and a Date line, multipart and text/plain) and BODYSTRUCTUREs in the shapes Dovecot sends
(text only, a PDF form, alternative + inline picture, zip + docx, a forwarded message, a literal). Each
figure is the best of several passes, old and new interleaved, in µs per message; the RFC 2047 cache is
emptied before every pass, so a sender only hits it when the corpus repeats them.
Run: .venv/bin/python benchmarks/bench_desk_parse.py [N]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIRST = ["Anna", "Łukasz", "José", "Дмитрий", "Jürgen", "Claire", "Mei", "Søren", "Tom", "Zoë"]
LAST = ["Dvořák", "Müller", "Smith", "Nguyễn", "O'Neil", "Kowalski", "Brown", "Åberg", "Lee", "García"]
DESK = "RegForm@msdirectservices.com"


def heads(n: int) -> list[bytes]:
    from supportctl.desk.sources import split_head

    start = datetime(2026, 11, 2, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    out = []
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[(i // 3) % len(LAST)]
        addr = f"{'aljcjmstzz'[i % 10]}.{i}@example{i % 50}.org"
        m = EmailMessage()
        when = start + timedelta(minutes=7 * i)
        m["Received"] = f"from mail{i % 9}.example.net by mx.msdirectservices.com with ESMTPS id {i:08x}; " + (
            format_datetime(when + timedelta(seconds=20))
        )
        if i % 5 == 0:
            m["From"] = addr
        elif i % 5 == 1:
            m["From"] = f'"{last}, {first} {i}" <{addr}>'
        else:
            m["From"] = f"{first} {last} {i} <{addr}>"
        m["To"] = DESK if i % 4 else f"Registration desk <{DESK}>, support@msdirectservices.com"
        if i % 7 == 0:
            m["Cc"] = f"{LAST[i % 10]} <cc{i}@example.org>"
        m["Subject"] = [f"Registration {i}", f"Anmeldung {last} GmbH {i}", f"Re: Question about invoice {i}"][i % 3]
        m["Date"] = format_datetime(when)
        m["Message-ID"] = f"<{i}.{i * 7919 % 100003}@example{i % 50}.org>"
        m.set_content("Please find my registration attached.\n")
        if i % 5 == 0:
            m.add_attachment(b"%PDF-1.7\n", maintype="application", subtype="pdf", filename="registration-form.pdf")
        out.append(split_head(bytes(m)))
    return out


def structures(n: int) -> list[bytes]:
    shapes = [
        b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" {size} 3 NIL NIL NIL NIL)',
        b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 40 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "PDF" ("NAME" "registration-form-{i}.pdf") NIL NIL "BASE64" {size} NIL'
        b' ("ATTACHMENT" ("FILENAME" "registration-form-{i}.pdf")) NIL NIL)'
        b' "MIXED" ("BOUNDARY" "==={i}==") NIL NIL NIL)',
        b'((("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 1043 27 NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 2043 57 NIL NIL NIL NIL) "ALTERNATIVE"'
        b' ("BOUNDARY" "alt{i}") NIL NIL NIL)("IMAGE" "PNG" ("NAME" "logo.png") "<logo{i}@x>" NIL "BASE64" {size} NIL'
        b' ("INLINE" ("FILENAME" "logo.png")) NIL NIL)'
        b' "RELATED" ("BOUNDARY" "rel{i}" "TYPE" "text/html") NIL NIL NIL)',
        b'(("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "8BIT" 300 9 NIL NIL NIL NIL)'
        b'("APPLICATION" "ZIP" ("NAME" "docs{i}.zip") NIL NIL "BASE64" {size} NIL'
        b' ("ATTACHMENT" ("FILENAME" "docs{i}.zip"'
        b' "SIZE" "{size}")) NIL NIL)("APPLICATION" "VND.OPENXMLFORMATS-OFFICEDOCUMENT.WORDPROCESSINGML.DOCUMENT"'
        b' ("NAME" "=?UTF-8?B?QW5tZWxkdW5nIE3DvGxsZXIuZG9jeA==?=") NIL NIL "BASE64" 22000 NIL ("ATTACHMENT"'
        b' ("FILENAME*" "utf-8\'\'Anmeldung%20M%C3%BCller.docx")) NIL NIL)'
        b' "MIXED" ("BOUNDARY" "b{i}") NIL NIL NIL)',
        b'(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 50 2 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL'
        b' "7BIT" {size} ("Wed, 25 Nov 2026 09:58:00 +0100" "Fwd: form {i}" (("Anna" NIL "anna" "example.org")) NIL'
        b' NIL NIL NIL NIL NIL "<{i}@x>") (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)("APPLICATION"'
        b' "OCTET-STREAM" ("NAME" {{9}}\r\nform .pdf) NIL NIL "BASE64" 300 NIL NIL NIL NIL) "MIXED")'
        b" 20 NIL NIL NIL NIL)"
        b' "MIXED" ("BOUNDARY" "zz{i}") NIL NIL NIL)',
    ]
    out = []
    for i in range(n):
        shape = shapes[[0, 0, 1, 2, 2, 3, 1, 0, 2, 4][i % 10]]
        out.append(shape.replace(b"{i}", b"%d" % i).replace(b"{size}", b"%d" % (1000 + i * 37)).replace(b"{{", b"{"))
    return out


def best(passes: int, runs: list[tuple[str, Callable[[], Any]]], n: int) -> dict[str, float]:
    from supportctl.desk import headers

    times: dict[str, float] = {}
    for _ in range(passes):
        for name, run in runs:
            headers._decoded_words.cache_clear()
            t = time.process_time()  # CPU time: the machine may be busy with other work
            run()
            dt = (time.process_time() - t) / n * 1e6
            times[name] = min(times.get(name, dt), dt)
    return times


def main() -> None:
    from supportctl.desk import headers, imapparts
    from supportctl.desk import triage as inbox
    from supportctl.desk.sources import Envelope
    from tests import desk_reference as ref

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    passes = 7
    hs = heads(n)
    envs = [Envelope(f"k{i}", 5000, h, 1764061200.0, lambda: b"") for i, h in enumerate(hs)]
    old_msgs = [ref._parse_head(h) for h in hs]
    new_msgs = [headers.parse_head(h) for h in hs]
    fast = sum(isinstance(m, headers.Head) for m in new_msgs)
    limits = inbox.Limits()
    for h, e in zip(hs, envs, strict=True):  # the same answers, before any timing
        facts, _pdfs = inbox.examine(e, limits, want_body=False, desk_address=DESK)
        old = ref.head_facts(h, e.arrival, DESK)
        assert all(getattr(facts, k) == v for k, v in old.items() if k not in ("absurd", "single_text")), h
    sexps = structures(n)
    assert all(imapparts.parse_sexp(s) == ref.parse_sexp(s) for s in sexps)

    def each(f: Callable[[Any], Any], items: list[Any]) -> Callable[[], None]:
        def run() -> None:
            for x in items:
                f(x)  # the result is dropped, as triage drops each message's header objects

        return run

    groups: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any], str]] = [
        ("parse the header block", ref._parse_head, headers.parse_head, "heads"),
        (
            "From + Reply-To addresses",
            lambda m: (ref._addresses(m, "From"), ref._addresses(m, "Reply-To")),
            lambda m: (headers.addresses(m, "From"), headers.addresses(m, "Reply-To")),
            "msgs",
        ),
        (
            "From + Subject text (RFC 2047)",
            lambda m: (ref._header_text(m.get("From")), ref._header_text(m.get("Subject"))),
            lambda m: (headers.header_text(m.get("From")), headers.header_text(m.get("Subject"))),
            "msgs",
        ),
        (
            "to the desk? (To/Cc/Delivered-To)",
            lambda m: ref._names(m, DESK, ("To", "Cc", "Delivered-To")),
            lambda m: headers.names(m, DESK, ("To", "Cc", "Delivered-To")),
            "msgs",
        ),
        (
            "received time",
            lambda m: ref._received_time(m, 1764061200.0),
            lambda m: headers.received_time(m, 1764061200.0),
            "msgs",
        ),
    ]
    print(f"{n} header blocks ({fast} read by headers.Head, the rest by the email package), {n} BODYSTRUCTUREs")
    print(f"{'µs per message':<40}{'old':>9}{'new':>9}{'ratio':>8}")
    for label, old_f, new_f, on in groups:
        old_items, new_items = (hs, hs) if on == "heads" else (old_msgs, new_msgs)
        t = best(passes, [("old", each(old_f, old_items)), ("new", each(new_f, new_items))], n)
        print(f"{label:<40}{t['old']:>9.1f}{t['new']:>9.1f}{t['old'] / t['new']:>7.1f}x")
    t = best(
        passes,
        [
            ("old", each(lambda e: ref.head_facts(e.head, e.arrival, DESK), envs)),
            ("new", each(lambda e: inbox.examine(e, limits, want_body=False, desk_address=DESK), envs)),
        ],
        n,
    )
    print(f"{'all header work of examine()':<40}{t['old']:>9.1f}{t['new']:>9.1f}{t['old'] / t['new']:>7.1f}x")
    t = best(passes, [("old", each(ref.parse_sexp, sexps)), ("new", each(imapparts.parse_sexp, sexps))], n)
    print(f"{'BODYSTRUCTURE (parse_sexp)':<40}{t['old']:>9.1f}{t['new']:>9.1f}{t['old'] / t['new']:>7.1f}x")


if __name__ == "__main__":
    main()
