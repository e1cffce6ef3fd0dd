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


def _tree(msg: Message, runs: list[str]) -> list[Any]:
    out: list[Any] = []
    for part in msg.walk():
        payload = part.get_payload()
        if isinstance(payload, str) and runs and skeleton.marked(payload):
            part.set_payload(skeleton.restore(payload, runs))
        body = None if part.is_multipart() else part.get_payload(decode=True)
        raw = None if part.is_multipart() else part.get_payload()  # line endings too, not only what decodes
        out.append((part.items(), part.get_content_type(), part.get_filename(), raw, body, len(part.defects)))
    return out


def _plain_scan(data: bytes, monkeypatch: pytest.MonkeyPatch) -> inbox.Scan:
    with monkeypatch.context() as m:
        m.setattr(skeleton, "elide", lambda d: (d, []))
        return inbox.scan_message(data, LIMITS)


def assert_same_parse(data: bytes, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    elided, runs = skeleton.elide(data)
    assert _tree(email.message_from_bytes(elided), runs) == _tree(email.message_from_bytes(data), [])
    assert inbox.scan_message(data, LIMITS) == _plain_scan(data, monkeypatch)
    return runs


def _b64(raw: bytes, width: int, eol: str, blank_at: int | None, broken: bool) -> str:
    text = base64.b64encode(raw).decode("ascii")
    lines = [text[i : i + width] for i in range(0, len(text), width)] or [""]
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
        raw = draw(st.randoms(use_true_random=False)).randbytes(size)
        width = draw(st.sampled_from([76, 76, 64, 1000, 3, 20000]))
        body = _b64(raw, width, nl(), draw(st.none() | st.integers(0, 500)), draw(st.booleans()))
        name = draw(st.sampled_from(['"form.pdf"', "form.pdf", '"=?UTF-8?B?w6Q=?=.pdf"']))
        return (
            f"Content-Type: {draw(st.sampled_from(['application/pdf', 'application/octet-stream', 'text/plain']))}"
            f"{nl()}Content-Transfer-Encoding: base64{nl()}Content-Disposition: attachment; filename={name}"
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
        runs = assert_same_parse(data, monkeypatch)
        if name in ("thunderbird", "two-forms", "outlook", "apple", "forwarded", "x-pdf", "rfc2047"):
            assert runs, name  # base64 PDFs: parsed as a few lines
            assert sum(len(r) for r in runs) > len(good), name
        if name == "uuencode":
            assert runs == []  # uuencode lines are not base64-only: parsed as before


def test_a_message_carrying_the_mark_is_parsed_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    data = realmail.thunderbird([("f.pdf", realmail.form())], "<m@example.org>") + b"zzSupportctlElidedRun0z\r\n"
    assert skeleton.elide(data) == (data, [])
    assert_same_parse(data, monkeypatch)
