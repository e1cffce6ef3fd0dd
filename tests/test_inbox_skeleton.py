"""The skeleton parse (`desk/skeleton.py`) gives exactly the parse of the whole message.

Messages are built by hypothesis with every line ending (CRLF, LF, CR, mixed), base64 at any line length with
empty lines, short or broken lines inside, runs in a header block, nested and unterminated multiparts,
`message/rfc822` and `message/delivery-status` parts; each is parsed with and without elision and every part
(type, name, headers, decoded payload) and the scan result must be the same.
"""

from __future__ import annotations

import base64
import email
from email.message import Message
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportctl.desk import skeleton
from supportctl.desk import triage as inbox
from tests import realmail
from tests.inbox_corpus import corpus

LIMITS = inbox.Limits(max_message_bytes=1 << 24, max_parts=100, max_depth=10)
EOLS = ["\r\n", "\n", "\r"]


def _tree(msg: Message, runs: list[skeleton.Run], fast: list[bytes] | None = None) -> list[Any]:
    out: list[Any] = []
    for part in msg.walk():
        payload = part.get_payload()
        quick = None
        if isinstance(payload, str) and runs and skeleton.marked(payload):
            quick = skeleton.decoded(part, runs)
            part.set_payload(skeleton.restore(payload, runs))
        defects = len(part.defects)
        body = None if part.is_multipart() else part.get_payload(decode=True)
        if quick is not None:  # decoded from the run directly: what `email` decodes, and it found no fault in it
            cte = part.get("content-transfer-encoding", "").lower()
            assert (quick, cte, len(part.defects)) == (body, "base64", defects)
            if fast is not None:
                fast.append(quick)
        raw = None if part.is_multipart() else part.get_payload()  # line endings too, not only what decodes
        out.append((part.items(), part.get_content_type(), part.get_filename(), raw, body, len(part.defects)))
    return out


def _plain_scan(data: bytes, monkeypatch: pytest.MonkeyPatch) -> inbox.Scan:
    with monkeypatch.context() as m:
        m.setattr(skeleton, "elide", lambda d: (d, []))
        return inbox.scan_message(data, LIMITS)


def assert_same_parse(
    data: bytes, monkeypatch: pytest.MonkeyPatch, fast: list[bytes] | None = None
) -> list[skeleton.Run]:
    elided, runs = skeleton.elide(data)
    assert _tree(email.message_from_bytes(elided), runs, fast) == _tree(email.message_from_bytes(data), [])
    assert inbox.scan_message(data, LIMITS) == _plain_scan(data, monkeypatch)
    return runs


def _b64(raw: bytes, width: int, eol: str, blank_at: int | None, broken: bool, flaw: str | None = None) -> str:
    text = base64.b64encode(raw).decode("ascii")
    if flaw == "short":  # not whole quads: `email` pads it and notes a defect
        text = text[:-1]
    elif flaw == "inner-pad":  # `=` inside the data
        text = text[: len(text) // 2] + "=" + text[len(text) // 2 + 1 :]
    elif flaw == "extra-pad":
        text += "=="
    lines = [text[i : i + width] for i in range(0, len(text), width)] or [""]
    if flaw == "ragged" and len(lines) > 2:  # lines of two widths: not uniform
        lines[1] += lines.pop(2)
    elif flaw == "break-at-end" and len(lines) > 1:  # a line break where the last line would be
        lines[-1] = lines[-1][:1] + eol + lines[-1][1:]
    if blank_at is not None:
        lines.insert(blank_at % (len(lines) + 1), "")
    if broken:
        lines.insert(len(lines) // 2, "not base64: -- !")
    return eol.join(lines)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from(EOLS))

    def nl() -> str:
        return draw(st.sampled_from(EOLS)) if draw(st.booleans()) and draw(st.booleans()) else eol

    def b64_part() -> str:
        size = draw(st.sampled_from([9000, 3500, 40, 0]))  # most above skeleton.MIN_RUN, some below
        # A PDF's bytes (the scan keeps them, so they are compared too) or other bytes.
        raw = draw(st.sampled_from([b"", b"%PDF-1.7\n"])) + draw(st.randoms(use_true_random=False)).randbytes(size)
        width = draw(st.sampled_from([76, 76, 64, 1000, 3, 20000]))
        flaw = draw(st.sampled_from([None, None, None, "short", "inner-pad", "extra-pad", "ragged", "break-at-end"]))
        body = _b64(raw, width, nl(), draw(st.none() | st.integers(0, 500)), draw(st.booleans()), flaw)
        name = draw(st.sampled_from(['"form.pdf"', "form.pdf", '"=?UTF-8?B?w6Q=?=.pdf"']))
        cte = draw(st.sampled_from(["base64", "base64", "Base64", "base64 ", "7bit"]))
        return (
            f"Content-Type: {draw(st.sampled_from(['application/pdf', 'application/octet-stream', 'text/plain']))}"
            f"{nl()}Content-Transfer-Encoding: {cte}{nl()}Content-Disposition: attachment; filename={name}"
            f"{nl()}{nl() if draw(st.integers(0, 9)) else ''}{body}"
        )

    def multipart(depth: int) -> str:
        b = draw(st.sampled_from(["b1", "==b==", "AAAA"]))  # AAAA: a boundary made of base64 characters
        parts = []
        for _i in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["b64", "status", "nested", "rfc822", "text"]))
            if kind == "text":
                parts.append(f"Content-Type: text/plain{nl()}{nl()}hello{nl()}AAAA{nl()}")
            elif kind == "b64":
                parts.append(b64_part())
            elif kind == "nested" and depth < 3:
                parts.append(multipart(depth + 1))
            elif kind == "rfc822":
                parts.append(f"Content-Type: message/rfc822{nl()}{nl()}Subject: inner{nl()}{multipart(depth + 3)}")
            else:
                parts.append(f"Content-Type: message/delivery-status{nl()}{nl()}{b64_part()}{nl()}{nl()}X: y")
        out = f'Content-Type: multipart/mixed; boundary="{b}"{nl()}{nl()}preamble{nl()}'
        for p in parts:
            out += f"--{b}{nl()}{p}{nl()}"
        if draw(st.booleans()):
            out += f"--{b}--{nl()}epilogue{nl()}"
        return out

    head = f"From: a@example.org{eol}Subject: x{eol}"
    if draw(st.integers(0, 9)) == 0:  # base64 where headers are expected: the headers end there
        return (head + b64_part().split(eol, 1)[-1]).encode("ascii")
    body = multipart(0) if draw(st.integers(0, 4)) else b64_part()
    return (head + "MIME-Version: 1.0" + eol + body + draw(st.sampled_from(["", eol, eol + eol, "tail"]))).encode()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
)
@given(data=messages())
def test_skeleton_parse_is_the_parse(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same_parse(data, monkeypatch)


def test_skeleton_elides_the_real_attachments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mail as the mail programs build it, and the hostile corpus: the same parse, and the PDFs were elided."""
    good = realmail.form()
    for name, data in {**realmail.corpus(), **corpus()}.items():
        fast: list[bytes] = []
        runs = assert_same_parse(data, monkeypatch, fast)
        if name in ("thunderbird", "two-forms", "outlook", "apple", "forwarded", "x-pdf", "rfc2047"):
            assert runs, name  # base64 PDFs: parsed as a few lines
            assert sum(len(r.lines) for r in runs) > len(good), name
            assert good in fast, name  # and the form decoded straight from its run
        if name == "uuencode":
            assert runs == []  # uuencode lines are not base64-only: parsed as before


def test_a_message_carrying_the_mark_is_parsed_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    data = realmail.thunderbird([("f.pdf", realmail.form())], "<m@example.org>") + b"zzSupportctlElidedRun0z\r\n"
    assert skeleton.elide(data) == (data, [])
    assert_same_parse(data, monkeypatch)


FLAWS = [None, "short", "inner-pad", "extra-pad", "ragged", "break-at-end"]


@pytest.mark.parametrize("flaw", FLAWS)
@pytest.mark.parametrize("eol", EOLS)
@pytest.mark.parametrize("where", ["body", "head"])
@pytest.mark.parametrize("blank", [None, 40])
def test_each_flaw_in_base64_parses_the_same(
    flaw: str | None, eol: str, where: str, blank: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every flaw the fast decode must leave to `email`, at both places a run can be, with and without an empty line.

    Only clean base64 is decoded straight from its run; the PDF's bytes are compared too.
    """
    raw = b"%PDF-1.7\n" + bytes(range(256)) * 40
    body = _b64(raw, 76, eol, blank, False, flaw)
    head = f"From: a@example.org{eol}Subject: x{eol}MIME-Version: 1.0{eol}"
    part = f"Content-Type: application/pdf{eol}Content-Transfer-Encoding: base64{eol}"
    data = (head + part + ("" if where == "head" else eol) + body + eol).encode("ascii")
    fast: list[bytes] = []
    runs = assert_same_parse(data, monkeypatch, fast)
    assert bool(runs) == (blank is None)  # lines around an empty line are parsed one by one
    scan = inbox.scan_message(data, LIMITS)
    if flaw is None and blank is None:  # in a header block too: `email` takes the run as the body
        assert fast == [raw] and scan.files == ((None, "application/pdf", raw),)
    else:
        assert fast == []  # not clean, or not elided: `email` decodes it (and notes its defects)


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_BYTES = st.sampled_from(list(_B64_ALPHABET + b"\r\n \t-_*\x00\xff"))


@settings(max_examples=2000)
@given(
    body=st.lists(_B64_BYTES, max_size=60).map(bytes),
    tail=st.sampled_from([b"", b"=", b"==", b"=\r\n", b"== \t", b"=\n=", b"==="]),
)
def test_fast_base64_decodes_as_binascii_does(body: bytes, tail: bytes) -> None:
    """IMAP parts are decoded by pybase64 where the padding allows it: the bytes (or the error) are binascii's."""
    import binascii

    data = body + tail

    def outcome(decode: Any) -> tuple[str, bytes]:
        try:
            return "ok", decode(data)
        except binascii.Error:
            return "error", b""

    assert outcome(skeleton.lenient_b64) == outcome(binascii.a2b_base64)
