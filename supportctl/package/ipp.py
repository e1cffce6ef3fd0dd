"""A minimal IPP client: the few read-only questions `print` asks a CUPS server.

`lp` submits the jobs (it knows the user's lpoptions, instances and authentication); this module only
asks the same server what became of them and what state its printers are in, which `lp`/`lpstat` print
only as localised prose. The server is the one `lp` uses: `lpstat -H` names it (CUPS_SERVER,
client.conf, the local socket or localhost:631).

Replies come from a server, so they are parsed with limits: a bounded size, lengths checked, and any
malformed reply is an `IppError`, never an exception from `struct`.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Any

MAX_REPLY = 4 << 20
TIMEOUT = 10.0

# Operations (RFC 8011 and CUPS' extensions).
GET_JOB_ATTRIBUTES = 0x0009
GET_PRINTER_ATTRIBUTES = 0x000B
CUPS_GET_DEFAULT = 0x4001
CUPS_GET_PRINTERS = 0x4002

# Value tags.
_INTEGER, _BOOLEAN, _ENUM = 0x21, 0x22, 0x23
_TEXT, _NAME, _KEYWORD, _URI, _CHARSET, _LANGUAGE = 0x41, 0x42, 0x44, 0x45, 0x47, 0x48
_OPERATION, _END, _PRINTER_GROUP = 0x01, 0x03, 0x04

STATUS_NOT_FOUND = 0x0406

JOB_STATES = {
    3: "pending",
    4: "held",
    5: "processing",
    6: "stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}
PRINTER_STATES = {3: "idle", 4: "processing", 5: "stopped"}


class IppError(Exception):
    """The server could not be reached, or its reply was not IPP."""


class Unreachable(IppError):
    """Nothing answers at the server's address: the scheduler is not running."""


@dataclass
class Reply:
    status: int
    groups: list[tuple[int, dict[str, list[Any]]]] = field(default_factory=list)

    def group(self, tag: int) -> list[dict[str, list[Any]]]:
        return [attrs for t, attrs in self.groups if t == tag]


def _attr(tag: int, name: str, *values: bytes) -> bytes:
    encoded = name.encode()
    out = b""
    for i, value in enumerate(values):
        key = encoded if i == 0 else b""
        out += struct.pack(">BH", tag, len(key)) + key + struct.pack(">H", len(value)) + value
    return out


def encode(operation: int, request_id: int, attrs: list[tuple[int, str, list[bytes]]]) -> bytes:
    body = struct.pack(">BBHI", 2, 0, operation, request_id) + bytes([_OPERATION])
    body += _attr(_CHARSET, "attributes-charset", b"utf-8")
    body += _attr(_LANGUAGE, "attributes-natural-language", b"en")
    for tag, name, values in attrs:
        body += _attr(tag, name, *values)
    return body + bytes([_END])


def decode(data: bytes) -> Reply:
    """Parse an IPP response; anything malformed is an `IppError`."""
    try:
        _version, status, _rid = struct.unpack_from(">HHI", data, 0)
        reply = Reply(status)
        pos = 8
        current: dict[str, list[Any]] | None = None
        last: list[Any] | None = None
        while pos < len(data):
            tag = data[pos]
            pos += 1
            if tag == _END:
                break
            if tag < 0x10:
                current = {}
                reply.groups.append((tag, current))
                last = None
                continue
            (nlen,) = struct.unpack_from(">H", data, pos)
            name = data[pos + 2 : pos + 2 + nlen].decode("utf-8", "replace")
            pos += 2 + nlen
            (vlen,) = struct.unpack_from(">H", data, pos)
            raw = data[pos + 2 : pos + 2 + vlen]
            if len(raw) != vlen:
                raise IppError("truncated reply")
            pos += 2 + vlen
            value: Any
            if tag in (_INTEGER, _ENUM) and vlen == 4:
                (value,) = struct.unpack(">i", raw)
            elif tag == _BOOLEAN and vlen == 1:
                value = raw != b"\x00"
            elif 0x40 <= tag <= 0x4F:
                value = raw.decode("utf-8", "replace")
            else:
                value = raw
            if current is None:
                raise IppError("attribute outside a group")
            if nlen:
                last = current.setdefault(name, [])
            if last is None:
                raise IppError("additional value without an attribute")
            last.append(value)
        return reply
    except (struct.error, IndexError) as exc:
        raise IppError(f"malformed IPP reply ({exc})") from None


@dataclass(frozen=True)
class Server:
    """Where the CUPS scheduler listens: a Unix socket path, or host and port."""

    host: str
    port: int = 631
    socket_path: str | None = None

    @classmethod
    def parse(cls, text: str) -> Server:
        text = text.strip()
        if text.startswith("/"):
            return cls("localhost", 631, text)
        host, port = text, 631
        if text.startswith("["):  # [::1]:631
            end = text.find("]")
            host, rest = text[1:end], text[end + 1 :]
            if rest.startswith(":") and rest[1:].isdigit():
                port = int(rest[1:])
        elif text.count(":") == 1:
            h, _, p = text.partition(":")
            if p.isdigit():
                host, port = h, int(p)
        return cls(host or "localhost", port)

    def __str__(self) -> str:
        return self.socket_path or f"{self.host}:{self.port}"


def _connect(server: Server, timeout: float) -> Any:
    import http.client

    if server.socket_path is None:
        return http.client.HTTPConnection(server.host, server.port, timeout=timeout)

    path = server.socket_path

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            family = getattr(socket, "AF_UNIX", None)
            if family is None:  # pragma: no cover - a platform without Unix sockets has no CUPS socket either
                raise OSError(f"no Unix sockets here: {path}")
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            self.sock = sock

    return UnixConnection("localhost", timeout=timeout)


def call(server: Server, operation: int, attrs: list[tuple[int, str, list[bytes]]], timeout: float = TIMEOUT) -> Reply:
    """One IPP request over HTTP; `Unreachable` when nothing listens, `IppError` for anything else."""
    import http.client

    conn = _connect(server, timeout)
    try:
        try:
            conn.request("POST", "/", encode(operation, 1, attrs), {"Content-Type": "application/ipp"})
            resp = conn.getresponse()
        except (ConnectionRefusedError, FileNotFoundError, socket.gaierror) as exc:
            raise Unreachable(str(exc)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise IppError(str(exc) or type(exc).__name__) from None
        if resp.status != 200:
            raise IppError(f"HTTP {resp.status} {resp.reason}")
        try:
            data = resp.read(MAX_REPLY + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise IppError(str(exc) or type(exc).__name__) from None
        if len(data) > MAX_REPLY:
            raise IppError("reply too large")
        return decode(data)
    finally:
        conn.close()


def _user() -> bytes:
    import getpass

    try:
        return getpass.getuser().encode()
    except (OSError, KeyError):  # no name for this uid (containers)
        return b"anonymous"


def printer_uri(name: str) -> bytes:
    from urllib.parse import quote

    return f"ipp://localhost/printers/{quote(name, safe='')}".encode()


_PRINTER_ATTRS = [
    b"printer-name",
    b"printer-state",
    b"printer-is-accepting-jobs",
    b"printer-info",
    b"printer-state-message",
    b"printer-state-reasons",
]


@dataclass(frozen=True)
class PrinterStatus:
    name: str
    state: str  # idle | processing | stopped
    accepting: bool
    info: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "accepting": self.accepting,
            "info": self.info,
            "message": self.message,
        }


def _printer(attrs: dict[str, list[Any]], fallback: str = "") -> PrinterStatus:
    def first(key: str, default: Any) -> Any:
        values = attrs.get(key) or [default]
        return values[0]

    return PrinterStatus(
        name=str(first("printer-name", fallback)),
        state=PRINTER_STATES.get(first("printer-state", 3), "unknown"),
        accepting=bool(first("printer-is-accepting-jobs", True)),
        info=str(first("printer-info", "")),
        message=str(first("printer-state-message", "")),
    )


def get_printer(server: Server, name: str) -> PrinterStatus | None:
    """The printer's state, or None when the server has no printer (or class) of that name."""
    reply = call(
        server,
        GET_PRINTER_ATTRIBUTES,
        [
            (_URI, "printer-uri", [printer_uri(name)]),
            (_NAME, "requesting-user-name", [_user()]),
            (_KEYWORD, "requested-attributes", _PRINTER_ATTRS),
        ],
    )
    if reply.status == STATUS_NOT_FOUND:
        return None
    if reply.status >= 0x0400:
        raise IppError(f"status 0x{reply.status:04x}")
    groups = reply.group(_PRINTER_GROUP)
    return _printer(groups[0] if groups else {}, name)


def default_printer(server: Server) -> str | None:
    reply = call(
        server,
        CUPS_GET_DEFAULT,
        [(_NAME, "requesting-user-name", [_user()]), (_KEYWORD, "requested-attributes", [b"printer-name"])],
    )
    if reply.status >= 0x0400:
        return None
    for attrs in reply.group(_PRINTER_GROUP):
        names = attrs.get("printer-name")
        if names:
            return str(names[0])
    return None


def printers(server: Server) -> list[PrinterStatus]:
    reply = call(
        server,
        CUPS_GET_PRINTERS,
        [(_NAME, "requesting-user-name", [_user()]), (_KEYWORD, "requested-attributes", _PRINTER_ATTRS)],
    )
    if reply.status == STATUS_NOT_FOUND:  # CUPS answers "not found" when there are no printers at all
        return []
    if reply.status >= 0x0400:
        raise IppError(f"status 0x{reply.status:04x}")
    return sorted((_printer(a) for a in reply.group(_PRINTER_GROUP)), key=lambda p: p.name.lower())


@dataclass(frozen=True)
class JobStatus:
    state: str  # pending | held | processing | stopped | canceled | aborted | completed
    reasons: tuple[str, ...]
    message: str


def job_status(server: Server, job_id: int) -> JobStatus | None:
    """What became of job `job_id`; None when the server no longer knows it."""
    reply = call(
        server,
        GET_JOB_ATTRIBUTES,
        [
            (_URI, "job-uri", [f"ipp://localhost/jobs/{job_id}".encode()]),
            (_NAME, "requesting-user-name", [_user()]),
            (_KEYWORD, "requested-attributes", [b"job-state", b"job-state-reasons", b"job-printer-state-message"]),
        ],
    )
    if reply.status == STATUS_NOT_FOUND:
        return None
    if reply.status >= 0x0400:
        raise IppError(f"status 0x{reply.status:04x}")
    attrs: dict[str, list[Any]] = {}
    for _tag, group in reply.groups:
        if "job-state" in group:
            attrs = group
    state = attrs.get("job-state", [0])[0]
    return JobStatus(
        JOB_STATES.get(state, "unknown"),
        tuple(str(r) for r in attrs.get("job-state-reasons", [])),
        str((attrs.get("job-printer-state-message") or [""])[0]),
    )
