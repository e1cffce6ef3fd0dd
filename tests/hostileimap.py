"""A small IMAPS server on 127.0.0.1 that tells the truth by default and lies where a test asks it to.

It speaks just enough IMAP4rev1 for `inbox imaps://…` (CAPABILITY, LOGIN, ENABLE, EXAMINE/SELECT, UID SEARCH,
UID FETCH, LIST, NOOP, LOGOUT) over TLS with a throw-away CA (trustme, as tests/dovecotserver.py), and answers
FETCH from real MIME messages: BODYSTRUCTURE and sections are computed with the standard library's `email`
package. A test makes it misbehave by replacing one of the hooks (`fetch_reply`, `structure`, `on_command`);
each connection is its own `Session` (so a reader process's second login can be told apart).
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

USER, PASSWORD = "desk", "hostile-pw"


def _q(text: str | bytes) -> bytes:
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    if b"\r" in raw or b"\n" in raw or b'"' in raw or b"\\" in raw or any(c > 126 for c in raw):
        return b"{%d}\r\n" % len(raw) + raw
    return b'"' + raw + b'"'


def _params(msg: Message) -> bytes:
    pairs = [(k, v) for k, v in msg.get_params(header="content-type") or []][1:]
    if not pairs:
        return b"NIL"
    return b"(" + b" ".join(_q(k.upper()) + b" " + _q(str(v)) for k, v in pairs) + b")"


@dataclass
class Leaf:
    section: str
    body: bytes  # the part's body as it travels (still transfer-encoded)


def structure(msg: Message, section: str = "", out: list[Leaf] | None = None) -> tuple[bytes, list[Leaf]]:
    """RFC 3501 BODYSTRUCTURE of `msg` (multipart and single parts; message/rfc822 as a plain leaf) and its
    leaves' sections with their bodies."""
    leaves = out if out is not None else []
    if msg.is_multipart():
        kids = []
        for n, child in enumerate(msg.get_payload(), 1):  # type: ignore[union-attr]
            sub, _l = structure(child, f"{section}.{n}" if section else str(n), leaves)
            kids.append(sub)
        boundary = msg.get_boundary() or "x"
        sub_type = msg.get_content_subtype().upper().encode()
        return b"".join(kids) + b' "' + sub_type + b'" ("BOUNDARY" ' + _q(boundary) + b") NIL NIL NIL", leaves
    payload = msg.get_payload()
    body = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    leaves.append(Leaf(section or "1", body))
    main, sub = msg.get_content_maintype().upper().encode(), msg.get_content_subtype().upper().encode()
    if main == b"MESSAGE":
        main, sub = b"APPLICATION", b"OCTET-STREAM"
    enc = (msg.get("Content-Transfer-Encoding") or "7bit").strip().upper().encode()
    lines = b" %d" % body.count(b"\n") if main == b"TEXT" else b""
    disp = msg.get_content_disposition()
    fname = msg.get_param("filename", header="content-disposition")
    d = b"NIL"
    if disp:
        d = b"(" + _q(disp.upper()) + b" " + (b'("FILENAME" ' + _q(str(fname)) + b")" if fname else b"NIL") + b")"
    leaf = b'("%s" "%s" %s NIL NIL "%s" %d%s NIL %s NIL NIL)' % (main, sub, _params(msg), enc, len(body), lines, d)
    return leaf, leaves


@dataclass
class Mail:
    uid: int
    raw: bytes
    flags: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.raw = self.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        msg = email.message_from_bytes(self.raw, policy=email.policy.compat32)
        self.bodystructure, leaves = structure(msg)
        if not msg.is_multipart():
            self.bodystructure = self.bodystructure  # a single part: the leaf itself
        else:
            self.bodystructure = b"(" + self.bodystructure + b")"
        self.sections = {leaf.section: leaf.body for leaf in leaves}
        cut = self.raw.find(b"\r\n\r\n")
        self.header = self.raw[: cut + 4] if cut >= 0 else self.raw


_ITEM = re.compile(r"BODY\.PEEK\[([^\]]*)\](?:<(\d+)\.(\d+)>)?|[A-Z0-9.]+")


class Session:
    """One client connection: reads a command, answers it through the server's hooks."""

    def __init__(self, server: HostileImap, rfile: Any, wfile: Any, number: int) -> None:
        self.server, self.rfile, self.wfile, self.number = server, rfile, wfile, number
        self.selected = False

    def send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def readline(self) -> bytes:
        line: bytes = self.rfile.readline(1 << 20)
        while True:  # a client's literal (LOGIN with odd characters): take it whole
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not m:
                return line
            if not line.rstrip().endswith(b"+}"):
                self.send(b"+ go on\r\n")
            line = line[: m.start()] + _q(self.rfile.read(int(m.group(1)))) + self.rfile.readline(1 << 20)

    def run(self) -> None:
        srv = self.server
        self.send(b"* OK [CAPABILITY " + srv.capabilities + b"] hostile ready\r\n")
        while not srv.stopping.is_set():
            line = self.readline()
            if not line:
                return
            srv.log.append((self.number, line))
            tag, _sp, rest = line.rstrip(b"\r\n").partition(b" ")
            cmd, _sp, args = rest.partition(b" ")
            word = cmd.upper()
            if word == b"UID":
                sub, _sp, args = args.partition(b" ")
                word = b"UID " + sub.upper()
            if srv.on_command is not None and srv.on_command(self, tag, word, args):
                continue
            if word == b"LOGOUT":
                self.send(b"* BYE bye\r\n" + tag + b" OK LOGOUT done\r\n")
                return
            handler = getattr(self, "do_" + word.decode("ascii", "replace").replace(" ", "_").lower(), None)
            if handler is None:
                self.send(tag + b" BAD unknown command\r\n")
            else:
                handler(tag, args)

    def do_capability(self, tag: bytes, args: bytes) -> None:
        self.send(b"* CAPABILITY " + self.server.capabilities + b"\r\n" + tag + b" OK done\r\n")

    def do_noop(self, tag: bytes, args: bytes) -> None:
        self.send(tag + b" OK done\r\n")

    def do_enable(self, tag: bytes, args: bytes) -> None:
        self.send(b"* ENABLED\r\n" + tag + b" OK done\r\n")

    def do_login(self, tag: bytes, args: bytes) -> None:
        if PASSWORD.encode() in args:
            self.send(tag + b" OK logged in\r\n")
        else:
            self.send(tag + b" NO [AUTHENTICATIONFAILED] wrong\r\n")

    def do_list(self, tag: bytes, args: bytes) -> None:
        self.send(b'* LIST (\\HasNoChildren) "/" ' + _q(self.server.folder) + b"\r\n" + tag + b" OK done\r\n")

    def do_examine(self, tag: bytes, args: bytes) -> None:
        srv = self.server
        self.selected = True
        validity = srv.uidvalidity(self)
        self.send(
            b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
            b"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY %d] ok\r\n* OK [UIDNEXT %d] ok\r\n"
            % (len(srv.mails), validity, max([m.uid for m in srv.mails] or [0]) + 1)
            + tag
            + b" OK [READ-ONLY] examined\r\n"
        )

    do_select = do_examine

    def do_uid_search(self, tag: bytes, args: bytes) -> None:
        uids = [m.uid for m in self.server.mails] if b"ALL" in args.upper() else []
        self.send(b"* SEARCH" + b"".join(b" %d" % u for u in uids) + b"\r\n" + tag + b" OK done\r\n")

    def do_uid_fetch(self, tag: bytes, args: bytes) -> None:
        uidset, _sp, items = args.partition(b" ")
        wanted = _uids(uidset.decode(), [m.uid for m in self.server.mails])
        by_uid = {m.uid: m for m in self.server.mails}
        out = []
        for n, mail in enumerate(self.server.mails, 1):
            if mail.uid in wanted:
                out.append(self.server.fetch_reply(self, n, by_uid[mail.uid], items.decode()))
        self.send(b"".join(out) + self.server.fetch_done(self, tag))


def _uids(spec: str, known: list[int]) -> set[int]:
    out: set[int] = set()
    top = max(known or [0])
    for piece in spec.split(","):
        lo, _c, hi = piece.partition(":")
        a = top if lo == "*" else int(lo)
        b = a if not hi else (top if hi == "*" else int(hi))
        out.update(range(min(a, b), max(a, b) + 1))
    return out


def honest_fetch(session: Session, seq: int, mail: Mail, items: str) -> bytes:
    """The FETCH answer a correct server gives for `items` of `mail`."""
    srv = session.server
    parts: list[bytes] = []
    for m in _ITEM.finditer(items.strip("()")):
        word = m.group(0)
        if word == "UID":
            parts.append(b"UID %d" % mail.uid)
        elif word == "RFC822.SIZE":
            parts.append(b"RFC822.SIZE %d" % srv.size_of(mail))
        elif word == "INTERNALDATE":
            parts.append(b'INTERNALDATE "25-Nov-2026 10:00:00 +0100"')
        elif word == "FLAGS":
            parts.append(b"FLAGS (" + b" ".join(mail.flags) + b")")
        elif word == "BODYSTRUCTURE":
            parts.append(b"BODYSTRUCTURE " + srv.structure(mail))
        elif word.startswith("BODY.PEEK["):
            section, start, length = m.group(1), m.group(2), m.group(3)
            if section == "HEADER":
                data = mail.header
            elif section == "":
                data = mail.raw
            else:
                data = mail.sections.get(section, b"")
            origin = b""
            if start is not None:
                data = data[int(start) : int(start) + int(length)]
                origin = b"<%s>" % start.encode()
            parts.append(b"BODY[%s]%s {%d}\r\n" % (section.encode(), origin, len(data)) + data)
    return b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n"


class HostileImap:
    """The server: `mails` by UID; hooks a test may replace (each gets the session first)."""

    def __init__(self, mails: list[bytes], capabilities: bytes = b"IMAP4rev1 LITERAL+ IDLE ENABLE") -> None:
        import trustme

        self.mails = [Mail(n, raw) for n, raw in enumerate(mails, 1)]
        self.capabilities = capabilities
        self.folder = "INBOX"
        self.log: list[tuple[int, bytes]] = []
        self.stopping = threading.Event()
        self.sessions = 0
        self.fetch_reply: Callable[[Session, int, Mail, str], bytes] = honest_fetch
        self.fetch_done: Callable[[Session, bytes], bytes] = lambda s, tag: tag + b" OK FETCH done\r\n"
        self.structure: Callable[[Mail], bytes] = lambda mail: mail.bodystructure
        self.size_of: Callable[[Mail], int] = lambda mail: len(mail.raw)
        self.uidvalidity: Callable[[Session], int] = lambda s: 7
        self.on_command: Callable[[Session, bytes, bytes, bytes], bool] | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="supportctl-hostile-"))
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        self.ca = str(self.dir / "ca.pem")
        ca.cert_pem.write_to_path(self.ca)
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.dir / "server.pem"))
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(str(self.dir / "server.pem"))
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                try:
                    conn = outer.tls.wrap_socket(self.request, server_side=True)
                except (OSError, ssl.SSLError):
                    return
                outer.sessions += 1
                rfile, wfile = conn.makefile("rb"), conn.makefile("wb")
                try:
                    Session(outer, rfile, wfile, outer.sessions).run()
                except (OSError, ValueError):
                    pass  # the client went away
                finally:
                    for f in (rfile, wfile):
                        try:
                            f.close()
                        except OSError:
                            pass
                    try:
                        conn.close()
                    except OSError:
                        pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="hostile-imap", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"imaps://{USER}@127.0.0.1:{self.port}/INBOX"

    def stop(self) -> None:
        import shutil

        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
