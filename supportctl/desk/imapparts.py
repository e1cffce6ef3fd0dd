"""Fetch only the parts of IMAP messages that can hold a form, many messages per command.

The decision comes from BODYSTRUCTURE (RFC 3501 7.4.2): a part can hold a form when it is `application/*`
(the PDF by any type or name) or a named file that is no picture (a named text part too: a form sent as
`text/plain; name=form.pdf`); any other text part only when a uuencoded `begin ` line was found in that
message (in its fetched texts, or by the server's own search). The fetched parts are put back together as a
small MIME message (the original header, then each part with its own headers), so triage reads IMAP mail with
the same code as a Maildir. Nothing is fetched for text-only mail, pictures or office files without an application
type: they cannot carry a form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_NODES = 2000  # a BODYSTRUCTURE larger than this is not worth parsing: the whole message is fetched instead


@dataclass(frozen=True)
class Part:
    section: str  # "1", "2.1", "TEXT" for a single-part message
    type: str  # "application/pdf"
    params: tuple[tuple[str, str], ...]
    encoding: str
    disposition: str | None
    disposition_params: tuple[tuple[str, str], ...]
    size: int

    def filename(self) -> str | None:
        """The file name as a mail program shows it: RFC 2231 (`filename*`) first, then RFC 2047 names."""
        from email.utils import decode_rfc2231
        from urllib.parse import unquote

        from supportctl.desk.headers import decoded_header, file_name

        params = dict(self.disposition_params)
        params.update({k: v for k, v in self.params if k not in params})
        for key in ("filename*", "name*"):
            if key in params:
                charset, _lang, text = decode_rfc2231(params[key])
                try:
                    return file_name(unquote(text, encoding=charset or "utf-8", errors="replace"))
                except LookupError:  # an unknown charset
                    return file_name(unquote(text, encoding="utf-8", errors="replace"))
        for key in ("filename", "name"):
            if params.get(key):
                return file_name(decoded_header(params[key]))
        return None


class Unparsable(Exception):
    pass


# ---------------------------------------------------------------- s-expressions

# The old per-token loop (one regex match and several group lookups per token) cost ~0.4 ms a message. Now
# one `findall` cuts the whole response into tokens: a quoted string, a parenthesis, an atom, or a lone `"`
# (an unterminated quote, an error). Only space is left between them, exactly as the token-by-token loop
# below reads it; that loop still does every response with a literal `{n}` (its bytes are not tokens), and
# every response the fast one finds wrong, so errors are raised the same way, at the same place.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[()]|[^\s()"]+|"', re.S)
_TOKEN = re.compile(rb'\s*(?:(\()|(\))|("[^"\\]*(?:\\.[^"\\]*)*")|\{(\d+)\}\r?\n|([^\s()"]+)|(\S))', re.S)
_ESCAPED = re.compile(rb"\\(.)")
_FINDALL_MAX = 1 << 16  # findall reads all before MAX_NODES can stop it: larger responses go token by token


def parse_sexp(data: bytes) -> list[Any]:
    """An IMAP parenthesised list into nested Python lists of bytes/None (NIL)."""
    if b"{" in data or len(data) > _FINDALL_MAX:
        return _parse_with_literals(data)
    tokens = _TOKENS.findall(data)
    if len(tokens) > MAX_NODES:
        return _parse_with_literals(data)
    stack: list[list[Any]] = []  # the open lists around `top`
    top: list[Any] = []
    for tok in tokens:
        if tok == b"(":
            stack.append(top)
            if len(stack) > 63:
                return _parse_with_literals(data)
            top = []
        elif tok == b")":
            if not stack:
                return _parse_with_literals(data)
            done = top
            top = stack.pop()
            top.append(done)
        elif tok[0] == 34:  # a quoted string, or a lone `"`
            if len(tok) == 1:
                return _parse_with_literals(data)
            text = tok[1:-1]
            top.append(_ESCAPED.sub(rb"\1", text) if b"\\" in text else text)
        elif len(tok) == 3 and tok.upper() == b"NIL":
            top.append(None)
        else:
            top.append(tok)
    if stack:
        return _parse_with_literals(data)
    return top


def _parse_with_literals(data: bytes) -> list[Any]:
    """The general loop: token by token from a position, so a literal's n bytes can be skipped."""
    stack: list[list[Any]] = [[]]
    pos, nodes = 0, 0
    end = len(data)
    while pos < end:
        m = _TOKEN.match(data, pos)
        if not m:
            break  # only space is left
        if m.lastindex == 6:
            raise Unparsable(data[pos : pos + 40])
        pos = m.end()
        nodes += 1
        if nodes > MAX_NODES or len(stack) > 64:
            raise Unparsable("too large")
        kind = m.lastindex
        if kind == 1:
            stack.append([])
        elif kind == 2:
            if len(stack) < 2:
                raise Unparsable("unbalanced")
            done = stack.pop()
            stack[-1].append(done)
        elif kind == 3:
            text = m.group(3)[1:-1]
            stack[-1].append(_ESCAPED.sub(rb"\1", text) if b"\\" in text else text)
        elif kind == 4:
            n = int(m.group(4))
            stack[-1].append(data[pos : pos + n])
            pos += n
        else:
            atom = m.group(5)
            stack[-1].append(None if atom.upper() == b"NIL" else atom)
    if len(stack) != 1:
        raise Unparsable("unbalanced")
    return stack[0]


def _s(x: Any) -> str:
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else ""


def _pairs(x: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(x, list):
        return ()
    return tuple((_s(x[i]).lower(), _s(x[i + 1])) for i in range(0, len(x) - 1, 2))


def leaves(body: list[Any], section: str = "", depth: int = 0) -> list[Part]:
    """The leaf parts of a BODYSTRUCTURE with their section numbers (message/rfc822 bodies are descended).

    Sections as RFC 3501 numbers them: a single-part message's body is 1; a multipart's children 1, 2, …;
    inside a message/rfc822 part 2, a multipart's children are 2.1, 2.2 and a single part is 2.1.
    """
    if depth > 20:
        raise Unparsable("nested too deeply")
    if body and isinstance(body[0], list):  # multipart: (child)(child)… "subtype" (params) …
        out: list[Part] = []
        for n, child in enumerate(body, 1):
            if not isinstance(child, list):
                break  # the subtype: extension data follows, no more children
            out += leaves(child, f"{section}.{n}" if section else str(n), depth + 1)
        return out
    if len(body) < 7:
        raise Unparsable("short body")
    main, sub = _s(body[0]).lower(), _s(body[1]).lower()
    sec = section or "1"
    if main == "message" and sub == "rfc822" and len(body) > 8 and isinstance(body[8], list):
        inner = body[8]
        return leaves(inner, sec if inner and isinstance(inner[0], list) else f"{sec}.1", depth + 1)
    size = int(body[6]) if isinstance(body[6], bytes) and body[6].isdigit() else 0
    ext_at = 8 if main == "text" else 7
    disposition = None
    dparams: tuple[tuple[str, str], ...] = ()
    # single-part extension data: md5, disposition, language, location
    if len(body) > ext_at + 1 and isinstance(body[ext_at + 1], list) and body[ext_at + 1]:
        d = body[ext_at + 1]
        disposition = _s(d[0]).lower() or None
        dparams = _pairs(d[1]) if len(d) > 1 else ()
    return [Part(sec, f"{main}/{sub}", _pairs(body[2]), _s(body[5]), disposition, dparams, size)]


def may_hold_form(part: Part, uuencode: bool) -> bool:
    """Whether triage must see this part (the intake rules of `scan_message`)."""
    main = part.type.split("/", 1)[0]
    named = any(k in ("name", "filename", "name*", "filename*") for k, _v in part.params + part.disposition_params)
    if main == "application":
        return True
    if main == "text":
        return uuencode or named  # a named text part is a file (a form sent as `text/plain; name=form.pdf`)
    return named and main not in ("image", "audio", "video")


def decode(part: Part, data: bytes, whole: bool = True) -> bytes:
    """A part's bytes after its transfer encoding (a partial base64 prefix, `whole=False`, is cut to whole
    quanta)."""
    import binascii

    from supportctl.desk.skeleton import lenient_b64

    enc = part.encoding.lower()
    try:
        if enc == "base64":
            if whole:  # line breaks are skipped
                return lenient_b64(data)
            compact = data.replace(b"\r", b"").replace(b"\n", b"").replace(b" ", b"")
            return lenient_b64(compact[: len(compact) // 4 * 4])  # a prefix: whole quanta only
        if enc == "quoted-printable":
            return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return b""
    return data
