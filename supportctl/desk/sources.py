"""Where `inbox` reads mail from: a Maildir, an mbox file, a directory of .eml files, stdin, or IMAP.

Every source streams messages one at a time as `Envelope`s: the header block first, the whole message
only when the caller asks (`read()`), so memory stays flat and most mail costs one small read. Nothing
here writes to the user's mail: Maildir files are opened read-only, IMAP folders are EXAMINEd (not
SELECTed) and bodies fetched with BODY.PEEK, so no \\Seen flag changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from supportctl.desk.headers import lazy_pattern
from supportctl.errors import ConfigError, InvalidInputError, TransferError, os_reason
from supportctl.fsutil import open_regular, open_regular_fd, read_fd
from supportctl.i18n import N_, _

HEAD_CHUNK = 16384  # read first: most header blocks end within it (a file this small is read whole at once)
# A header block is read until it ends, up to this: Microsoft 365 or a few relays with ARC often make 20-40 KB;
# mail servers pass at most 100 KB (Postfix) to 256 KB (Exchange Online). Further is not read, from any source
# (nor past the message limit, if that is smaller).
HEAD_LIMIT = 1 << 20
IMAP_BATCH = 250
READ_ELSEWHERE_AFTER = 4  # batches: from 1,000 new messages on, a process reads them (a thread below that)
_FORK = sys.platform.startswith("linux")  # elsewhere fork is unsafe (macOS) or missing (Windows): a thread
TEXT_FETCH = 64 << 10  # text parts up to this size are fetched to look for uuencode; larger: the server searches


class TooLarge(Exception):
    """The message is larger than the limit; `read()` refuses to load it."""


class Envelope(NamedTuple):
    """One message as a source sees it: where it is, how large, its header block, and a way to load it."""

    key: str  # where it is in the source: a file name, `mbox@<offset>`, `uid:<n>`, `-`
    size: int
    head: bytes
    arrival: float | None  # file mtime or IMAP INTERNALDATE, epoch seconds
    read: Callable[[], bytes]
    error: str | None = None  # why it cannot be read at all (a special file, no permission): listed as skipped
    # IMAP: the decoded parts that can hold a form (name, type, bytes), fetched without the rest of the message
    files: Callable[[], list[tuple[str | None, str, bytes]]] | None = None


class ImapTarget(NamedTuple):
    user: str
    host: str
    port: int
    folder: str

    @property
    def url(self) -> str:
        return f"imaps://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(text: str) -> ImapTarget:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(text)
    if parts.scheme != "imaps":
        raise InvalidInputError(
            _("{url}: only imaps:// is supported").format(url=text),
            _("IMAP without TLS would send the password in clear text"),
        )
    if not parts.hostname or not parts.username:
        raise InvalidInputError(
            _("{url} needs a user and a host").format(url=text), _("write imaps://USER@HOST[:PORT]/FOLDER")
        )
    if parts.password:
        raise InvalidInputError(
            _("the IMAP address must not contain a password"),
            _("set SUPPORTCTL_IMAP_PASSWORD or imap.password_command instead"),
        )
    try:
        port = parts.port or 993
    except ValueError:
        raise InvalidInputError(_("{url}: invalid port").format(url=text)) from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapTarget(unquote(parts.username), parts.hostname, port, folder)


def _ends_head(data: bytes) -> bool:
    """Whether `data` holds the end of the header block (`split_head` finds it)."""
    return b"\r\n\r\n" in data or b"\n\n" in data


def split_head(data: bytes) -> bytes:
    """The header block of a raw message (everything before the first empty line)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = data.find(sep)
        if i >= 0:
            return data[: i + len(sep)]
    return data


def _read_limited(path: Path, limit: int) -> bytes:
    fd, st = _open_regular(path)
    try:
        # Asked for its size, not the limit: a buffer of limit + 1 bytes (25 MiB) for each mail costs.
        want = min(st.st_size, limit) + 1
        data = read_fd(fd, want)
        if len(data) == want and want <= limit:  # the file grew since: the rest, up to the limit
            data += read_fd(fd, limit + 1 - want)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise TooLarge
    return data


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A mail file, opened only if it is a regular file (never a FIFO, device or symlink): `fsutil`'s rule."""
    return open_regular_fd(path, follow_symlinks=False, error=_NotRegular)


class _NotRegular(InvalidInputError):
    """A mail file that is not a regular file: listed as skipped, never opened."""


def _unreadable(key: str, reason: str) -> Envelope:
    def read() -> bytes:
        raise TooLarge

    return Envelope(key, 0, b"", None, read, error=reason)


def _file_envelope(path: Path, key: str, limit: int) -> Envelope | None:
    import errno

    try:
        fd, st = _open_regular(path)
        try:
            chunk = read_fd(fd, HEAD_CHUNK)
            cap = min(st.st_size, HEAD_LIMIT, limit)
            while len(chunk) < cap and not _ends_head(chunk):
                more = read_fd(fd, min(len(chunk), cap - len(chunk)))  # twice as much each time
                if not more:
                    break
                chunk += more
        finally:
            os.close(fd)
    except (FileNotFoundError, IsADirectoryError):
        return None  # moved away by a mail client while we read: not ours to report
    except _NotRegular:
        if path.is_symlink():
            return _unreadable(key, _("a symbolic link; not followed"))
        return _unreadable(key, _("not a regular file (a pipe, device or socket); not read"))
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return _unreadable(key, _("the file cannot be read: permission denied"))
        return _unreadable(key, _("the file cannot be read: {reason}").format(reason=exc.strerror or exc))
    if len(chunk) == st.st_size:

        def read() -> bytes:
            if len(chunk) > limit:
                raise TooLarge
            return chunk

        return Envelope(key, st.st_size, split_head(chunk), st.st_mtime, read)
    return Envelope(key, st.st_size, split_head(chunk), st.st_mtime, FileBody(path, limit))


class FileBody:
    """A mail file's bytes, read when called (up to the limit): what a worker process is given instead of
    the bytes, so that the main process neither reads nor sends the bodies it leaves to the workers."""

    __slots__ = ("limit", "path")

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit

    def __call__(self) -> bytes:
        try:
            return _read_limited(self.path, self.limit)
        except FileNotFoundError:
            moved = _renamed_in_maildir(self.path)
            if moved is None:
                raise
            return _read_limited(moved, self.limit)


def _renamed_in_maildir(path: Path) -> Path | None:
    """Where a Maildir message went since its head was read: a mail client moves it from new/ to cur/ and
    renames it with every flag it sets, keeping the unique part of its name (before the `:`)."""
    if path.parent.name not in ("new", "cur"):
        return None
    unique = path.name.split(":", 1)[0]
    for sub in ("cur", "new"):
        try:
            with os.scandir(path.parent.parent / sub) as it:
                for e in it:
                    if e.name.split(":", 1)[0] == unique and e.name != path.name:
                        return Path(e.path)
        except OSError:
            continue
    return None


# ---------------------------------------------------------------- local sources


class Source(ABC):
    """A place to read mail from. `key` identifies it for the state directory."""

    kind = "source"
    key = ""
    incremental = False

    @abstractmethod
    def messages(self) -> Iterator[Envelope]:
        """Every message of the source, one at a time."""

    def close(self) -> None:  # an optional hook: only sources holding a connection close one
        return None

    def whole(self, env: Envelope) -> bytes:
        """All of a message `messages()` gave, its text too (`TooLarge` over the limit). An IMAP source gives
        only what can hold a form there; `status` reads the desk's reply, its text, with this."""
        return env.read()

    def marks(self) -> dict[str, frozenset[str]]:
        """The flags and keywords the mailbox keeps per message key (shared desk state); none by default."""
        return {}

    def sent(self) -> dict[str, dict[str, Any]]:
        """supportctl's replies in the mailbox's Sent folder, by the Message-ID they answer; none by default."""
        return {}


class _PathSource(Source):
    """A source at a path of the local file system: its key is the kind's prefix and the resolved path."""

    prefix = ""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = self.root = path
        self.key = f"{self.prefix}:{path.resolve()}"
        self.limit = limit


class MaildirSource(_PathSource):
    kind = prefix = "maildir"

    def messages(self) -> Iterator[Envelope]:
        for sub in ("new", "cur"):
            d = self.root / sub
            try:
                with os.scandir(d) as it:
                    names = sorted(e.name for e in it if not e.name.startswith("."))
            except FileNotFoundError:
                continue
            for name in names:
                env = _file_envelope(d / name, f"{sub}/{name}", self.limit)
                if env is not None:
                    yield env

    def marks(self) -> dict[str, frozenset[str]]:
        from supportctl.desk.shared import keywords_of, maildir_flags

        out: dict[str, frozenset[str]] = {}
        try:
            names = [e.name for e in os.scandir(self.root / "cur")]
        except FileNotFoundError:
            return out
        for name in names:
            letters = maildir_flags(name)
            if not letters:
                continue
            flags = {"\\Answered"} if "R" in letters else set()
            out[f"cur/{name}"] = frozenset(flags | keywords_of(self.root, name))
        return out


class EmlDirSource(_PathSource):
    kind, prefix = "eml-dir", "emldir"

    def messages(self) -> Iterator[Envelope]:
        with os.scandir(self.root) as it:
            names = sorted(e.name for e in it if e.name.lower().endswith(".eml") and not e.is_dir())
        for name in names:
            env = _file_envelope(self.root / name, name, self.limit)
            if env is not None:
                yield env


class FileSource(_PathSource):
    """One message in a file (`.eml`, or any RFC 5322 message saved by a mail program)."""

    kind = prefix = "file"

    def messages(self) -> Iterator[Envelope]:
        env = _file_envelope(self.path, self.path.name, self.limit)
        if env is not None:
            yield env


_FROM_RE = lazy_pattern(rb"^>+From ")
_MBOX_PIECE = 64 << 10


class MboxSource(_PathSource):
    """An mbox file read line by line: one message in memory at a time, oversized ones never loaded."""

    kind = prefix = "mbox"

    def messages(self) -> Iterator[Envelope]:
        mtime = self.path.stat().st_mtime
        with open_regular(self.path, follow_symlinks=True) as fh:
            buf: list[bytes] = []
            size = 0
            start = 0
            offset = 0
            previous_blank = True
            started = False
            line_start = True  # the piece read begins a line (a line longer than a piece comes in several)
            # Pieces of at most 64 KiB: a line of gigabytes (a sparse file, a hostile mbox) never sits in memory.
            for line in iter(lambda: fh.readline(_MBOX_PIECE), b""):
                if line_start and line.startswith(b"From ") and previous_blank:
                    if started:
                        yield self._envelope(start, size, buf, mtime)
                    buf, size, start, started = [], 0, offset, True
                elif started:
                    if line_start and _FROM_RE.match(line):
                        line = line[1:]
                    size += len(line)
                    if size <= self.limit:
                        buf.append(line)
                offset += len(line)
                previous_blank = line_start and line in (b"\n", b"\r\n")
                line_start = line.endswith(b"\n")
            if started:
                yield self._envelope(start, size, buf, mtime)

    def _envelope(self, start: int, size: int, buf: list[bytes], mtime: float) -> Envelope:
        data = b"".join(buf)
        limit = self.limit

        def read() -> bytes:
            if size > limit:
                raise TooLarge
            return data

        return Envelope(f"mbox@{start}", size, split_head(data[:HEAD_LIMIT]), mtime, read)


_DRAIN_LIMITS = 4  # an oversized message on stdin is drained up to this many times the limit, then left


class StdinSource(Source):
    kind = "stdin"
    key = "stdin"

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream = stream
        self.limit = limit

    def messages(self) -> Iterator[Envelope]:
        data = self.stream.read(self.limit + 1)
        size = len(data)
        error = None
        if size > self.limit:
            # Drain, so the sending filter does not see EPIPE; but only so far: `yes | inbox -` never ends.
            drain = _DRAIN_LIMITS * self.limit
            while size <= drain and (chunk := self.stream.read(1 << 20)):
                size += len(chunk)
            if size > drain:
                error = _(
                    "standard input did not end after {size} bytes, more than inbox.max_message_bytes ({limit})"
                ).format(size=size, limit=self.limit)
            head = split_head(data[:HEAD_LIMIT])

            def read() -> bytes:
                raise TooLarge

        else:
            head = split_head(data[:HEAD_LIMIT])

            def read() -> bytes:
                return data

        yield Envelope("-", size, head, None, read, error=error)


# ---------------------------------------------------------------- IMAP


_FETCH_RE = lazy_pattern(rb"UID ([1-9]\d{0,9})(?!\d)")  # a UID is 32 bits (RFC 3501 nz-number)
_SECTION_RE = lazy_pattern(rb"BODY\[([0-9.]+|TEXT)\](<\d+>)? \{\d+\}$")
_HEADER_RE = lazy_pattern(rb"BODY\[HEADER\](<0>)? \{\d+\}$")
_FIRST_RE = lazy_pattern(rb"BODY\[1\](<0>)? \{\d+\}$")
_UID_FIRST_RE = lazy_pattern(rb"\d+ \(UID [1-9]\d{0,9} ")
_ATOM_RE = lazy_pattern(rb'[^\s()"{}\\]+|\\[^\s()"{}\\]+')


def _with_header(resp: list[Any]) -> Iterator[tuple[bytes, bytes, bytes | None]]:
    """(attributes, header block, start of section 1) per message of a FETCH that asked for BODY.PEEK[HEADER]
    and BODY.PEEK[1]<0.n>: the attributes as the server sent them, other literals in place (`{n}` CRLF bytes),
    the two literals taken out (the section None when the server did not send it).

    The attributes are later found by searching the line, which holds text a mail's sender wrote (file names
    in the structure; section 1 where a server sends it as a quoted string): a line that does not start with
    the UID, or still holds section 1, is read item by item and rebuilt (see `_rebuilt`)."""
    line, head, first = b"", b"", None
    for item in resp:
        if isinstance(item, tuple):
            meta, data = item
            h = _HEADER_RE.search(meta)
            f = None if h else _FIRST_RE.search(meta)
            if h:
                line, head = line + meta[: h.start()], bytes(data)
            elif f:
                line, first = line + meta[: f.start()], bytes(data)
            else:
                line += meta + b"\r\n" + data
        elif isinstance(item, bytes):
            line += item
            if line.rstrip().endswith(b")"):
                yield _settled(line, head, first)
                line, head, first = b"", b"", None
    if line:
        yield _settled(line, head, first)


def _settled(line: bytes, head: bytes, first: bytes | None) -> tuple[bytes, bytes, bytes | None]:
    """The line as `_with_header` hands it on: as sent when the UID comes first and section 1 is out of it (as
    Dovecot sends it: a search finds the server's items before any text of the mail)."""
    if _UID_FIRST_RE.match(line) and b"BODY[1]" not in line:
        return line, head, first
    rebuilt, first = _rebuilt(line, first)
    return rebuilt, head, first


def _rebuilt(line: bytes, first: bytes | None) -> tuple[bytes, bytes | None]:
    """A FETCH line read item by item (an exact parse, the strings kept apart from the item names), rebuilt in
    Dovecot's order: UID, RFC822.SIZE, INTERNALDATE, FLAGS, then BODYSTRUCTURE (every string a literal), and
    section 1 taken out where the server sent it in the line (a quoted string, NIL, a literal without origin).
    A line that cannot be parsed is handed on as it is (its UID is then searched for, as before)."""
    from supportctl.desk import imapparts

    try:
        parsed = imapparts.parse_sexp(line)
    except imapparts.Unparsable:
        return line, first
    seq = parsed[0] if parsed and isinstance(parsed[0], bytes) and parsed[0].isdigit() else b"0"
    items = next((x for x in parsed if isinstance(x, list)), [])
    found: dict[bytes, Any] = {}
    for name, value in zip(items[::2], items[1::2], strict=False):
        if not isinstance(name, bytes):
            break  # not an item name: the rest cannot be paired
        key = name.upper()
        if key in (b"BODY[1]", b"BODY[1]<0>"):
            first = value if isinstance(value, bytes) else first
        else:
            found.setdefault(key, value)
    out = []
    for key in (b"UID", b"RFC822.SIZE"):
        value = found.get(key)
        if isinstance(value, bytes) and value.isdigit():
            out.append(key + b" " + value)
    date = found.get(b"INTERNALDATE")
    if isinstance(date, bytes) and _ATOM_RE.fullmatch(date.replace(b" ", b"x")):
        out.append(b'INTERNALDATE "' + date + b'"')
    flags = found.get(b"FLAGS")
    if isinstance(flags, list):
        out.append(b"FLAGS (" + b" ".join(f for f in flags if isinstance(f, bytes) and _ATOM_RE.fullmatch(f)) + b")")
    structure = found.get(b"BODYSTRUCTURE")
    if isinstance(structure, list):
        out.append(b"BODYSTRUCTURE " + _literals(structure))
    return seq + b" (" + b" ".join(out) + b")", first


def _literals(x: Any) -> bytes:
    """A parsed s-expression written back, every string as a literal (nothing in it can end or fake an item)."""
    if x is None:
        return b"NIL"
    if isinstance(x, list):
        return b"(" + b" ".join(map(_literals, x)) + b")"
    return b"{%d}\r\n" % len(x) + bytes(x)


def _sections(resp: list[Any]) -> dict[tuple[int, str, str], bytes]:
    """(uid, section, origin) -> bytes from FETCH answers of BODY.PEEK[section]<span> items (origin `<0>` for
    a partial fetch from the start, empty for a whole part)."""
    out: dict[tuple[int, str, str], bytes] = {}
    uid: int | None = None
    for item in resp:
        if not isinstance(item, tuple):
            continue
        meta, data = item
        m = _FETCH_RE.search(meta)
        if m:
            uid = int(m.group(1))
        s = _SECTION_RE.search(meta)
        if uid is not None and s:
            out[(uid, s.group(1).decode(), (s.group(2) or b"").decode())] = bytes(data)
    return out


def _pipelined(conn: Any, commands: list[tuple[str, str]]) -> list[Any]:
    """`UID FETCH uids items` for each command, all sent before the first answer is read: one round trip.

    imaplib runs one command at a time; its two halves (send; read up to the tagged answer) are used as
    `IMAP4.uid` uses them. A command the server refuses (NO) adds nothing, as a refused FETCH always did.
    """
    tags = [conn._command("UID", "FETCH", uids, items) for uids, items in commands]
    for tag in tags:
        conn._command_complete("UID", tag)
    return conn.untagged_responses.pop("FETCH", []) if tags else []


class _Decoded:
    """An IMAP envelope's candidate parts, decoded when asked (a plain object: it can go to a worker process).

    A copy (parts equal to those of a message read before, by `digest`) may travel without its bytes: only
    its digest is needed then, which names the message whose answer is its answer.
    """

    def __init__(self, parts: list[tuple[Any, bytes, bool]], digest: str | None = None) -> None:
        self.parts = parts
        self._digest = digest
        self.copy = False

    def __call__(self) -> list[tuple[str | None, str, bytes]]:
        from supportctl.desk import imapparts

        if self.copy:
            raise RuntimeError("the parts of a copy were not sent; use the first message with these parts")
        return [(p.filename(), p.type, imapparts.decode(p, data, whole)) for p, data, whole in self.parts]

    def digest(self) -> str:
        """Equal for parts that decode to the same files (a form sent twice): what triage decides from."""
        if self._digest is None:
            h = hashlib.sha256()
            for p, data, whole in self.parts:
                h.update(repr((p.type, p.params, p.disposition_params, p.encoding, whole, len(data))).encode())
                h.update(data)
            self._digest = h.hexdigest()
        return self._digest

    def without_bytes(self) -> _Decoded:
        """This copy's parts without their bytes (its digest kept)."""
        light = _Decoded([(p, b"", whole) for p, _d, whole in self.parts], self.digest())
        light.copy = True
        return light


class _Bytes:
    """A message's bytes already fetched (or none: over the limit, `read()` refuses), as a plain object."""

    def __init__(self, data: bytes, size: int, limit: int) -> None:
        self.data, self.size, self.limit = data, size, limit

    def __call__(self) -> bytes:
        if self.size > self.limit:
            raise TooLarge
        return self.data


_UID_TOKEN = lazy_pattern(rb"[1-9]\d{0,9}")


def uid_set(data: list[Any]) -> set[int]:
    """The UIDs of a SEARCH answer; anything else there is the server's fault (`IMAP4.error`, said in words)."""
    import imaplib

    from supportctl.desk.headers import clean

    words = (data[0] if data and isinstance(data[0], bytes) else b"").split()
    for word in words:
        if not _UID_TOKEN.fullmatch(word) or int(word) > 0xFFFFFFFF:
            text = clean(word[:20].decode("utf-8", "replace"))
            raise imaplib.IMAP4.error(_("it sent {text!r} where a UID belongs").format(text=text))
    return {int(w) for w in words}


def _news(line: bytes) -> bool:
    """An untagged response that may change what triage shows: new mail, or flags another session set (a desk
    member's claim, a reply recorded)."""
    if line.startswith(b"* FLAGS "):
        return True  # a keyword new to the folder (the first claim of a member): Dovecot may send its FETCH later
    return line.startswith(b"*") and any(word in line for word in (b" EXISTS", b" RECENT", b" FETCH "))


_SIZE_RE = lazy_pattern(rb"RFC822\.SIZE (\d{1,15})(?!\d)")
_DATE_RE = lazy_pattern(rb'INTERNALDATE "([^"]+)"')
_MODSEQ_RE = lazy_pattern(rb"MODSEQ \((\d{1,20})\)")


def _read_elsewhere(source: ImapSource, batches: list[list[int]], readers: int = 2) -> Iterator[list[Envelope]]:
    """The batches read by forked processes, each on its own session, a batch ahead of the caller.

    Reading (TLS, imaplib's parsing, structures, probes, hashing) then runs beside triage on the other
    cores instead of taking turns with it for one interpreter; `readers` processes take the batches in
    turn (the first the 1st, 3rd, …), and the caller gets them in order. Each process hashes every
    message's parts and sends a copy's (parts equal to those of a message it sent before) without its
    bytes: triage needs only the digest of a copy. A process sends a batch when the caller takes its
    previous one (a pipe holds little), so memory stays bounded; errors are raised here, in order; the
    caller stopping early stops them.
    """
    import multiprocessing

    from supportctl.desk import imapparts, shared  # noqa: F401  (imported before the fork, not in a child)
    from supportctl.desk.heap import keep_freed_memory

    keep_freed_memory()  # readers and this process handle part after part (the readers take it along)

    ctx: Any = multiprocessing.get_context("fork")  # Linux only (the caller checks `_FORK`)
    validity = source._uidvalidity()
    readers = max(1, min(readers, len(batches)))
    pipes, procs = [], []
    for n in range(readers):
        mine, theirs = ctx.Pipe(duplex=False)
        share = batches[n::readers]
        proc = ctx.Process(target=_reader, args=(source, share, validity, theirs), name="imap-reader", daemon=True)
        proc.start()
        theirs.close()
        pipes.append(mine)
        procs.append(proc)
    finished = False
    alone: set[int] = set()  # readers that could not log in: the main session reads their batches
    try:
        for n in range(len(batches)):
            if n % readers not in alone:
                try:
                    kind, value = pipes[n % readers].recv()
                except (EOFError, OSError):
                    raise TransferError(_("the IMAP reader process stopped unexpectedly")) from None
                if kind == "error":
                    raise value
                if kind == "alone":
                    alone.add(n % readers)
            if n % readers in alone:
                yield source._batch(batches[n])
                continue
            envelopes, flags, fetched = value
            source._flags.update(flags)
            source.fetched_bodies += fetched
            yield envelopes
        finished = True
    finally:
        for pipe in pipes:
            pipe.close()
        for proc in procs:
            if not finished:  # stopped early, or one failed: nothing more is wanted from them
                proc.terminate()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _reader(source: ImapSource, batches: list[list[int]], validity: int, out: Any) -> None:
    """The reading process: its own IMAP session (EXAMINE, the same UIDVALIDITY), every batch to `out`; when
    the server refuses another session (a limit on sessions per user), the main process reads them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's; it stops this one
    # Stopped by terminate(): die. The CLI's handler (inherited) would raise instead, and the error sent back
    # through a full pipe would block this process until its kill, 5 s later.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        try:
            source._conn = source._login()
        except Exception:  # the server allows no more sessions of this user, say: the main process reads these
            out.send(("alone", None))
            return
        _typ, data = source._conn.response("UIDVALIDITY")
        if not data or data[0] is None or int(data[0]) != validity:
            raise TransferError(
                _("the IMAP folder {folder} changed while it was read; run again").format(folder=source.target.folder)
            )
        sent: set[str] = set()
        for batch in batches:
            source._flags, before = {}, source.fetched_bodies
            envelopes = source._batch(batch)
            for n, env in enumerate(envelopes):
                if isinstance(env.files, _Decoded):
                    digest = env.files.digest()
                    if digest in sent:
                        envelopes[n] = env._replace(files=env.files.without_bytes())
                    sent.add(digest)
            out.send(("batch", (envelopes, source._flags, source.fetched_bodies - before)))
        with contextlib.suppress(Exception):
            source._conn.logout()
    except BaseException as exc:  # handed to the main process, raised there
        with contextlib.suppress(Exception):
            try:
                out.send(("error", exc))
            except Exception:  # not picklable: its words
                out.send(("error", TransferError(str(exc))))
    finally:
        out.close()
        os._exit(0)  # nothing of the main process's (its connection, files, atexit) is touched on the way out


def _ahead(work: Callable[[list[int]], list[Envelope]], jobs: list[list[int]]) -> Iterator[list[Envelope]]:
    """`work(job)` for every job in a second thread, one result ahead of the caller.

    The IMAP server prepares the next batch (and the socket wait frees the interpreter) while the caller
    examines the last one. The thread owns the connection until the iteration ends; an error in it is
    raised here, in order; a caller that stops early stops it (after the command in progress).
    """
    import queue
    import threading

    if len(jobs) < 2:
        yield from map(work, jobs)
        return
    results: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: tuple[int, Any]) -> None:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for job in jobs:
                if stop.is_set():
                    return
                hand_over((1, work(job)))
        except BaseException as exc:  # handed to the caller, raised there
            hand_over((2, exc))
            return
        hand_over((0, None))

    thread = threading.Thread(target=produce, name="imap-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = results.get()
            if kind == 0:
                return
            if kind == 2:
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


class Watermark(NamedTuple):
    """Where the last look into an IMAP folder ended: the next reads only newer mail.

    `uidnext` (the folder's UIDNEXT when it was examined) and `messages` (how many UIDs it listed then), when
    both are known, let a look that finds them unchanged skip listing the folder.
    """

    uidvalidity: int
    last_uid: int
    uidnext: int | None = None
    messages: int | None = None


MIN_LINE = 1 << 20  # imaplib's own line limit: a longer line is allowed up to the message limit
BIG_LITERAL = 64 << 10  # a literal this large is read from TLS into one buffer (see `read`)


def _guarded_imap(max_bytes: int) -> type:
    """imaplib's IMAPS client that believes no size a server announces beyond `max_bytes`.

    imaplib allocates a literal's announced size before reading it (`{100000000000}` is a MemoryError)
    and keeps whatever a server sends. No literal and no line of a message within the limit can be larger
    than the limit; a larger one is the server's fault: the connection is given up (`IMAP4.abort`) before
    anything is allocated. Lines may be as long as the limit (a mail with thousands of parts has a
    BODYSTRUCTURE longer than imaplib's 1 MB line limit).
    """
    import imaplib
    import ssl

    plain: Any = imaplib.IMAP4  # its private halves (not in the stubs) are IMAP4's, IMAP4_SSL's too

    class Guarded(imaplib.IMAP4_SSL):
        # Untagged answers to one round of commands (those sent before the first is answered): a server that
        # streams them without end is cut off (data keeps flowing, so the timeout never fires). Raised by
        # ImapSource to what the folder can need: one per message and literal of each (see `expect`).
        max_answers = 100_000
        _answers = 0

        def _command(self, name: str, *args: Any) -> Any:
            if not self.tagged_commands:  # nothing outstanding: a new round
                self._answers = 0
            return plain._command(self, name, *args)

        def _append_untagged(self, typ: str, dat: Any) -> None:
            self._answers += 1
            if self._answers > self.max_answers:
                raise self.abort(_("it sent more than {n} answers to one command").format(n=self.max_answers))
            plain._append_untagged(self, typ, dat)

        def _get_response(self) -> Any:
            try:
                return plain._get_response(self)
            except ValueError:  # `{<5000 digits>}`: Python refuses to make a number of it
                raise self.abort(_("it announced a size that is not a number")) from None

        def read(self, size: int) -> bytes:
            if size > max_bytes:
                raise self.abort(
                    _("it announced {size} bytes in one piece, more than the limit of {limit}").format(
                        size=size, limit=max_bytes
                    )
                )
            if size < BIG_LITERAL or not hasattr(self.sock, "_sslobj"):
                data: bytes = self.file.read(size)
                return data
            # A large literal (a PDF part) straight from TLS into one buffer: what the file object holds
            # first, then record by record. The file and socket wrappers cost three Python calls per TLS
            # record (a few KiB): a third of reading a folder's PDFs, all of it in the calls.
            buf = bytearray(size)
            head = self.file.read1(size)  # type: ignore[attr-defined]  # a BufferedReader
            buf[: len(head)] = head
            pos, view, tls = len(head), memoryview(buf), self.sock._sslobj
            while pos < size:
                try:
                    n = tls.read(size - pos, view[pos:])  # waits as the socket's timeout says (in C, as recv does)
                except ssl.SSLEOFError:
                    n = 0  # a hang-up without TLS's goodbye: the same for the literal
                if not n:
                    raise self.abort(_("the connection closed in the middle of a message"))
                pos += n
            return bytes(buf)

        def readline(self) -> bytes:
            cap = max(max_bytes, MIN_LINE)
            line: bytes = self.file.readline(cap + 1)
            if len(line) > cap:
                raise self.abort(_("it sent a line longer than {limit} bytes").format(limit=cap))
            return line

    return Guarded


def imap_login(
    t: ImapTarget, password: str, ca_bundle: str | None, timeout: float = 30.0, max_bytes: int = 25 << 20
) -> Any:
    """A logged-in IMAPS connection (certificate verified), with the capabilities the server has after login.

    `max_bytes`: the largest literal or line the server may send (the message limit): see `_guarded_imap`.
    """
    import imaplib
    import ssl

    try:
        ctx = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(_("cannot read the CA bundle {path}: {reason}").format(path=ca_bundle, reason=exc)) from None
    try:
        conn = _guarded_imap(max_bytes)(t.host, t.port, ssl_context=ctx, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        raise TransferError(
            _("the certificate of {host} could not be verified: {reason}").format(
                host=t.host, reason=exc.verify_message or exc
            ),
            _(
                "pass the IMAP server's CA with --ca-bundle FILE (inbox reply: --imap-ca-bundle FILE), "
                "or set imap.ca_bundle"
            ),
        ) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise TransferError(
            _("cannot connect to {host}:{port}: {reason}").format(host=t.host, port=t.port, reason=exc)
        ) from None
    try:
        conn.login(t.user, password)
    except imaplib.IMAP4.error:
        conn.shutdown()
        raise ConfigError(
            _("the IMAP server refused the login for {user}").format(user=t.user),
            _("check SUPPORTCTL_IMAP_PASSWORD or imap.password_command"),
        ) from None
    try:  # the capabilities after login (CONDSTORE, IDLE, …) are not those of the greeting
        typ, data = conn.capability()
        if typ == "OK" and data and isinstance(data[-1], bytes):
            conn.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
    except (OSError, imaplib.IMAP4.error):
        pass
    return conn


@contextlib.contextmanager
def talking(host: str, timeout: float) -> Iterator[None]:
    """What goes wrong while talking to an IMAP server (a timeout, a broken connection, a protocol error)
    becomes one line that names the server."""
    import imaplib

    try:
        yield
    except TimeoutError:
        raise TransferError(
            _("the IMAP server {host} did not answer within {seconds} s").format(host=host, seconds=f"{timeout:g}"),
            _("try again later, or allow it longer with imap.timeout"),
        ) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise TransferError(
            _("the IMAP server {host} failed: {reason}").format(host=host, reason=_imap_reason(exc))
        ) from None


def _imap_reason(exc: BaseException) -> str:
    """Why a session failed, in words: imaplib says a broken connection as `socket error: …`."""
    cause: BaseException | None = exc
    for _depth in range(4):  # imaplib re-raises as `command: UID => socket error: …`
        if isinstance(cause, OSError):
            return os_reason(cause)
        if cause is None:
            break
        cause = cause.__context__
    if str(exc).endswith("socket error: EOF"):
        return _("it closed the connection")
    return str(exc)


class ImapSource(Source):
    """A folder on an IMAP server, read-only and incremental by UID.

    `messages()` yields only messages with a UID above the stored watermark (all of them when the
    server's UIDVALIDITY changed); `present` afterwards holds every UID in the folder, so the caller
    can forget expunged ones. Headers come in batches; a body only when `read()` is called.
    """

    kind = "imap"
    incremental = True

    def __init__(
        self,
        target: ImapTarget,
        password: str,
        limit: int,
        watermark: Watermark | None,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        sent_folder: str | None = None,
        max_parts: int = 100,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.sent_folder = sent_folder
        self.max_parts = max_parts
        self.key = "imap:" + target.url
        self.limit = limit
        self.watermark = watermark
        # Every UID in the folder after `messages()`; None when the folder was found as the last look left it.
        self.present: set[int] | None = set()
        self.reset = False
        self.fetched_bodies = 0
        self.fetched_headers = 0
        self._idles = 0
        # Told the number of new messages before they are read; True allows reading ahead in a thread.
        self.plan: Callable[[int], bool] | None = None
        self._conn = self._connect(password, ca_bundle, timeout)
        # A second session for a reading process (see `_read_elsewhere`); kept in memory only.
        self._login: Callable[[], Any] = lambda: self._connect(password, ca_bundle, timeout)

    def _connect(self, password: str, ca_bundle: str | None, timeout: float) -> Any:
        t = self.target
        conn = imap_login(t, password, ca_bundle, timeout, self.limit)
        import imaplib

        if "CONDSTORE" in conn.capabilities and "ENABLE" in conn.capabilities:
            try:  # EXAMINE then announces HIGHESTMODSEQ: a rerun sees at once whether any flag moved
                conn.enable("CONDSTORE")
            except (OSError, imaplib.IMAP4.error):
                pass
        try:
            typ, _data = conn.select(_quote(t.folder), readonly=True)  # readonly=True sends EXAMINE
        except (OSError, imaplib.IMAP4.error) as exc:
            raise TransferError(_("the IMAP server {host} failed: {reason}").format(host=t.host, reason=exc)) from None
        if typ != "OK":
            conn.logout()
            raise InvalidInputError(_("the IMAP folder {folder} does not exist").format(folder=t.folder))
        return conn

    def _examined(self, name: str) -> int | None:
        """A number EXAMINE announced (EXISTS, UIDNEXT), the last one sent; None when not sent since the last
        look (imaplib hands each out once: a later look on this connection, `--watch`, lists the folder)."""
        _typ, data = self._conn.response(name)
        try:
            return int(data[-1])
        except (TypeError, ValueError, IndexError):
            return None

    def _uidvalidity(self) -> int:
        """The folder's UIDVALIDITY: from the EXAMINE answer, kept (imaplib hands it out only once)."""
        _typ, data = self._conn.response("UIDVALIDITY")
        try:
            self._validity = int(data[0])
        except (TypeError, ValueError, IndexError):
            pass  # not announced again since the last look: unchanged
        return getattr(self, "_validity", 0)

    def messages(self) -> Iterator[Envelope]:
        with self._talking():
            yield from self._messages()

    def _talking(self) -> contextlib.AbstractContextManager[None]:
        return talking(self.target.host, self.timeout)

    def _messages(self) -> Iterator[Envelope]:
        conn = self._conn
        validity = self._uidvalidity()
        exists, uidnext = self._examined("EXISTS"), self._examined("UIDNEXT")
        wm = self.watermark
        if wm is None or wm.uidvalidity != validity:
            self.reset = wm is not None
            wm = Watermark(validity, 0)
        elif exists is not None and uidnext is not None and (uidnext, exists) == (wm.uidnext, wm.messages):
            # Nothing arrived since the last look (UIDNEXT has not moved; UIDs only grow) and nothing left (as
            # many messages as then): the folder holds the same UIDs, known without listing them.
            self.present = None
            conn.max_answers = (exists + IMAP_BATCH) * (self.max_parts + 4) + 10_000
            self.watermark = wm
            return
        typ, data = conn.uid("SEARCH", None, "ALL")
        if typ != "OK":
            raise TransferError(_("the IMAP server refused to list the folder"))
        self.present = uid_set(data)
        # The most untagged answers one round may need: every message's FETCH with a literal per part.
        conn.max_answers = (len(self.present) + IMAP_BATCH) * (self.max_parts + 4) + 10_000
        new = sorted(u for u in self.present if u > wm.last_uid)
        self._flags: dict[str, frozenset[str]] = {}
        self._all_read = len(new) == len(self.present)  # a first look: the flags come with the headers
        batches = [new[i : i + IMAP_BATCH] for i in range(0, len(new), IMAP_BATCH)]
        # Reading one batch ahead in a thread lets the server work while triage examines; only when the caller
        # says no process will be forked meanwhile (a fork while the thread holds a lock can hang the child).
        ahead = self.plan is not None and self.plan(len(new)) and len(batches) > 1
        if ahead and len(batches) >= READ_ELSEWHERE_AFTER and _FORK:
            reading: Iterator[list[Envelope]] = _read_elsewhere(self, batches)
        else:
            reading = _ahead(self._batch, batches) if ahead else map(self._batch, batches)
        last = wm.last_uid
        for envelopes in reading:
            for env in envelopes:
                self.fetched_headers += 1
                yield env
                last = max(last, int(env.key[4:]))
        self.watermark = Watermark(validity, last, uidnext, len(self.present))

    def _batch(self, batch: list[int]) -> list[Envelope]:
        """One batch of messages, ready to examine without the connection: headers, the parts that can hold a
        form, and the whole message where its structure could not be used (unless it is over the limit).

        Two round trips for most batches: the headers with each message's structure in one command, then
        every part wanted, as pipelined commands (a third only for the rare: a PDF behind another type, a
        large text part holding uuencode, a message whose structure could not be used).
        """
        uids = ",".join(map(str, batch))
        from supportctl.desk.shared import _FLAGS_RE

        # The header block up to HEAD_LIMIT (or the message limit), as a file's is read: a longer one neither
        # differs nor fails the run (a literal over the message limit is the server's fault: see `_guarded_imap`).
        # With them the start of section 1: the text of most mail, which is looked at for uuencode. The server
        # reads each message once for all of it; a command of its own for the texts later costs it as much again.
        head_span, first_span = min(HEAD_LIMIT, self.limit), min(TEXT_FETCH, self.limit)
        items = (
            "(UID RFC822.SIZE INTERNALDATE FLAGS BODYSTRUCTURE"
            f" BODY.PEEK[HEADER]<0.{head_span}> BODY.PEEK[1]<0.{first_span}>)"
        )
        typ, resp = self._conn.uid("FETCH", uids, items)
        if typ != "OK":
            raise TransferError(_("the IMAP server refused to send message headers"))
        heads: list[tuple[int, int, bytes, float | None]] = []
        structures: dict[int, bytes] = {}
        firsts: dict[int, bytes] = {}  # section 1, where the server sent all of it (shorter than asked)
        asked = set(batch)  # a UID not asked for (or sent twice) is not believed: it would move the watermark
        for line, head, first in _with_header(resp):
            m = _FETCH_RE.search(line)
            if not m or int(m.group(1)) not in asked:
                continue
            uid = int(m.group(1))
            asked.discard(uid)
            at = line.find(b"BODYSTRUCTURE (")
            attrs = line[:at] if at >= 0 else line  # the fixed items, never looked for inside a part's strings
            if at >= 0:
                structures[uid] = line[at + len(b"BODYSTRUCTURE ") :]
            f = _FLAGS_RE.search(attrs) or _FLAGS_RE.search(line)  # a server may send them in another order
            if f and f.group(1):
                self._flags[f"uid:{uid}"] = frozenset(x.decode("utf-8", "replace") for x in f.group(1).split())
            s = _SIZE_RE.search(attrs) or _SIZE_RE.search(line)
            d = _DATE_RE.search(attrs) or _DATE_RE.search(line)
            heads.append((uid, int(s.group(1)) if s else len(head), head, _internaldate(d.group(1)) if d else None))
            if first is not None and len(first) < first_span:
                firsts[uid] = first
        parts = self._candidate_parts(structures, [(u, size) for u, size, _h, _a in heads], firsts)
        whole = self._whole([u for u, size, _h, _a in heads if u not in parts and size <= self.limit])
        out = []
        for uid, size, head, arrival in heads:
            key = f"uid:{uid}"
            if uid in parts:
                files = _Decoded(parts.pop(uid))
                out.append(Envelope(key, size, head, arrival, _Bytes(head, size, self.limit), files=files))
            elif uid in whole or size > self.limit:  # over the limit: nothing fetched, read() says so
                out.append(Envelope(key, size, head, arrival, _Bytes(whole.pop(uid, b""), size, self.limit)))
            else:
                why = _("the IMAP server did not send the message")
                out.append(Envelope(key, size, head, arrival, _Bytes(b"", size, self.limit), error=why))
        return out

    def _whole(self, uids: list[int]) -> dict[int, bytes]:
        """Whole messages in one command (those whose structure could not be used: rare)."""
        if not uids:
            return {}
        typ, resp = self._conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise TransferError(_("the IMAP server refused to send message {uid}").format(uid=uids[0]))
        out: dict[int, bytes] = {}
        for item in resp:
            if isinstance(item, tuple):
                m = _FETCH_RE.search(item[0])
                if m and int(m.group(1)) in uids and int(m.group(1)) not in out:
                    out[int(m.group(1))] = bytes(item[1])
                    self.fetched_bodies += 1
        return out

    def _candidate_parts(
        self, structures: dict[int, bytes], heads: list[tuple[int, int]], firsts: dict[int, bytes] | None = None
    ) -> dict[int, list[tuple[Any, bytes, bool]]]:
        """For a batch: per message, the parts that can hold a form with their (still encoded) bytes.

        A part typed as PDF is fetched whole; any other candidate first by its first 2 KiB, and whole only
        when that shows `%PDF-` (a zip or an office file then costs 2 KiB, not its size). Messages whose
        structure cannot be parsed, or that break the part limit, are left out: their reader fetches them
        whole (and triage lists them as skipped where the limits say so). `firsts`: section 1 of messages
        where it came whole with the headers (a text part 1 is not fetched again).
        """
        from supportctl.desk import imapparts

        firsts = firsts or {}
        leaves_of: dict[int, list[Any]] = {}
        texts: dict[int, list[Any]] = {}
        search: list[int] = []
        prefetched: dict[tuple[int, str, str], bytes] = {}
        unfetched: dict[int, list[Any]] = {}  # the text parts still to fetch
        for uid, size in heads:
            raw = structures.get(uid)
            if raw is None or size > self.limit:
                continue
            try:
                parsed = imapparts.parse_sexp(raw.rstrip().removesuffix(b")"))
                body = parsed[0] if parsed and isinstance(parsed[0], list) else []
                leaves = imapparts.leaves(body) if body else []
            except imapparts.Unparsable:
                continue
            if not leaves or len(leaves) > self.max_parts:
                continue
            leaves_of[uid] = leaves
            text = [p for p in leaves if p.type.startswith("text/")]
            if any(p.size > TEXT_FETCH for p in text):
                search.append(uid)
            elif text:
                texts[uid] = text
                if uid in firsts and text[0].section == "1":
                    prefetched[(uid, "1", "")] = firsts[uid]
                    text = text[1:]
                if text:
                    unfetched[uid] = text
        # Whether a part is fetched whole or probed does not depend on what the text parts hold (only whether
        # a text part counts does): the small text parts, the probes and the PDF parts go out together.
        whole: dict[int, list[Any]] = {}
        probe: dict[int, list[Any]] = {}
        for uid, leaves in leaves_of.items():
            for part in leaves:
                # A text part comes whole with the texts (a named one is a file: probed where the server searches)
                if not imapparts.may_hold_form(part, False) or (part.type.startswith("text/") and uid in texts):
                    continue
                pdf = part.type in ("application/pdf", "application/x-pdf")
                (whole if pdf else probe).setdefault(uid, []).append(part)
        # Probes: 2 KiB of base64 decode to 1.5 KiB, enough to see %PDF- in the first KiB.
        got = self._fetch_sections([(unfetched, ""), (probe, "<0.2048>"), (whole, "")])
        got.update(prefetched)
        self.fetched_bodies += sum(map(len, whole.values()))
        # Uuencoded files hide in text parts: small ones are looked at here; for a message with a large one
        # the server searches (SEARCH BODY reads whole bodies, attachments included: costly).
        uu = {
            uid
            for uid, parts in texts.items()
            if any(b"begin " in imapparts.decode(p, got.get((uid, p.section, ""), b"")).lower() for p in parts)
        }
        if search:
            typ, data = self._conn.uid("SEARCH", None, "UID", ",".join(map(str, search)), "BODY", '"begin "')
            uu |= uid_set(data) if typ == "OK" and data else set()
        later: dict[int, list[Any]] = {}  # wanted whole, not fetched yet: large uuencoded text, a PDF in disguise
        starts: dict[tuple[int, str], bytes] = {}
        for uid, leaves in leaves_of.items():
            for part in leaves:
                if part.type.startswith("text/") and part not in probe.get(uid, ()):
                    if uid in uu and imapparts.may_hold_form(part, True) and (uid, part.section, "") not in got:
                        later.setdefault(uid, []).append(part)
                elif part in probe.get(uid, ()):
                    data = got.get((uid, part.section, "<0>"), b"")
                    if b"%PDF-" in imapparts.decode(part, data, whole=False)[:1024]:
                        later.setdefault(uid, []).append(part)
                    else:
                        starts[(uid, part.section)] = data
        if later:
            got.update(self._fetch_sections([(later, "")]))
            self.fetched_bodies += sum(map(len, later.values()))
        # A part asked for and not sent (a NO, a message expunged meanwhile) is not judged as empty: such a
        # message is left to its reader's whole fetch, which lists it as skipped when that fails too.
        asked = [(texts, ""), (probe, "<0>"), (whole, ""), (later, "")]
        short = {
            u for parts_of, o in asked for u, parts in parts_of.items() for p in parts if (u, p.section, o) not in got
        }
        out: dict[int, list[tuple[Any, bytes, bool]]] = {}  # (part, its bytes, whole or only its start)
        for uid, leaves in leaves_of.items():
            if uid in short:
                continue
            mine = out[uid] = []
            for part in leaves:
                start = starts.get((uid, part.section))
                if start is not None:
                    mine.append((part, start, False))  # its start tells triage what it is (a zip, a docx)
                elif imapparts.may_hold_form(part, uid in uu):
                    mine.append((part, got.get((uid, part.section, ""), b""), True))
        return out

    def _fetch_sections(self, wanted: list[tuple[dict[int, list[Any]], str]]) -> dict[tuple[int, str, str], bytes]:
        """BODY.PEEK[section]<span> for each (uid, part): one command per set of messages wanting the same
        sections, all sent before the first answer is read (pipelined, RFC 3501 5.5): one round trip."""
        commands: list[tuple[str, str]] = []
        for parts_of, span in wanted:
            plan: dict[tuple[str, ...], list[int]] = {}
            for uid, parts in parts_of.items():
                plan.setdefault(tuple(p.section for p in parts), []).append(uid)
            for sections, members in plan.items():
                items = "(UID " + " ".join(f"BODY.PEEK[{s}]{span}" for s in sections) + ")"
                for j in range(0, len(members), IMAP_BATCH):
                    commands.append((",".join(map(str, members[j : j + IMAP_BATCH])), items))
        return _sections(_pipelined(self._conn, commands))

    def whole(self, env: Envelope) -> bytes:
        if env.size > self.limit:
            raise TooLarge
        uid = uid_of(env.key)
        with self._talking():
            got = self._whole([uid]) if uid is not None else {}
        return got.get(uid or 0) or env.read()  # gone meanwhile: what was fetched

    def marks(self) -> dict[str, frozenset[str]]:
        """Flags of every message in the folder, in one command (read-only: FETCH FLAGS changes nothing)."""
        return self.mark_changes(None)[0]

    def mark_changes(self, since: int | None) -> tuple[dict[str, frozenset[str]], int | None, bool]:
        """(flags by key, HIGHESTMODSEQ, complete): with CONDSTORE and a known `since`, only what changed.

        The folder's HIGHESTMODSEQ (from EXAMINE) equal to `since` means no flag moved: no command at all.
        Otherwise `UID FETCH 1:* (FLAGS) (CHANGEDSINCE since)`; without CONDSTORE every message's flags.
        """
        import imaplib

        from supportctl.desk.shared import _FLAGS_RE

        condstore = "CONDSTORE" in getattr(self._conn, "capabilities", ())
        announced = self._announced_modseq() if condstore else None
        if self.present is not None and not self.present:  # an empty folder (None: the same as last time)
            return {}, announced, True
        partial = condstore and since is not None
        if partial and announced == since:
            return {}, since, False
        if getattr(self, "_all_read", False) and since is None:
            self._all_read = False  # once: a later look (--watch) asks the server
            return dict(self._flags), announced, True
        out: dict[str, frozenset[str]] = {}
        what = "(UID FLAGS MODSEQ)" if condstore else "(UID FLAGS)"
        try:
            if partial:
                typ, resp = self._conn.uid("FETCH", "1:*", f"{what} (CHANGEDSINCE {since})")
            else:
                typ, resp = self._conn.uid("FETCH", "1:*", what)
        except (OSError, imaplib.IMAP4.error):
            return out, since, False  # unknown: keep what is stored, look again next time
        if typ != "OK":
            return out, since, False
        top = max(since or 0, announced or 0)
        for item in resp:
            raw = item[0] if isinstance(item, tuple) else item
            if not isinstance(raw, bytes):
                continue
            u, f = _FETCH_RE.search(raw), _FLAGS_RE.search(raw)
            if u and f:
                out[f"uid:{int(u.group(1))}"] = frozenset(x.decode("utf-8", "replace") for x in f.group(1).split())
            m = _MODSEQ_RE.search(raw)
            if m:
                top = max(top, int(m.group(1)))
        return out, (top or None) if condstore else None, not partial

    def _announced_modseq(self) -> int | None:
        """HIGHESTMODSEQ as EXAMINE announced it: once per connection (later looks ask the server)."""
        _typ, data = self._conn.response("HIGHESTMODSEQ")
        try:
            return int(data[0])
        except (TypeError, ValueError, IndexError):
            return None

    def sent(self) -> dict[str, dict[str, Any]]:
        from supportctl.desk.shared import ImapDesk, read_sent

        try:
            folder = self.sent_folder or ImapDesk.sent_folder_of(self._conn)
            return read_sent(self._conn, folder, reselect=None).by_reply_to
        except Exception:  # the Sent folder is extra information: triage goes on without it
            return {}

    def close(self) -> None:
        try:
            self._conn.logout()
        except Exception:
            pass

    def wait(self, timeout: float) -> bool:
        """Block until the folder may have changed or `timeout` seconds passed (True: a change was announced).

        IMAP IDLE (RFC 2177) when the server offers it, else a NOOP after the wait. Read-only like the rest.
        """
        import select
        import time

        conn = self._conn
        with self._talking():
            if "IDLE" not in conn.capabilities:
                time.sleep(max(0.0, timeout))
                _typ, data = conn.noop()
                return any(b"EXISTS" in (x or b"") for x in data if isinstance(x, bytes))
            self._idles += 1
            tag = f"SCIDLE{self._idles}".encode("ascii")
            conn.send(tag + b" IDLE\r\n")
            changed = False
            while not (line := conn.readline()).startswith(b"+"):  # news since the last command may come first
                if not line or line.startswith(tag):
                    raise TransferError(_("the IMAP server refused IDLE"))
                changed = changed or _news(line)
            deadline = time.monotonic() + max(0.0, timeout)
            while not changed and (left := deadline - time.monotonic()) > 0:
                if not conn.sock.pending():
                    ready, _w, _x = select.select([conn.sock], [], [], left)
                    if not ready:
                        break
                line = conn.readline()
                if not line:
                    raise TransferError(_("the IMAP server {host} closed the connection").format(host=self.target.host))
                changed = _news(line)
            conn.send(b"DONE\r\n")
            while not (line := conn.readline()).startswith(tag):
                if not line:
                    raise TransferError(_("the IMAP server {host} closed the connection").format(host=self.target.host))
                changed = changed or _news(line)
            return changed


def quote_folder(folder: str) -> str:
    """A folder name as an IMAP command carries it: modified UTF-7 (RFC 3501 5.1.3), quoted.

    imaplib sends commands as ASCII: `Anmeldungen/Prüfung` as it is was a UnicodeEncodeError (a traceback).
    """
    import base64
    import re as _re

    def shifted(m: _re.Match[str]) -> str:
        if m.group(0) == "&":
            return "&-"
        packed = base64.b64encode(m.group(0).encode("utf-16-be")).decode("ascii")
        return "&" + packed.rstrip("=").replace("/", ",") + "-"

    name = _re.sub(r"&|[^ -~]+", shifted, folder)
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_quote = quote_folder


_MONTHS = {
    m: n for n, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}


def uid_of(key: str) -> int | None:
    """The UID in an IMAP message key (`uid:<n>`, as `ImapSource` makes them); None for other sources' keys."""
    digits = key[4:] if key.startswith("uid:") else ""
    return int(digits) if digits.isdigit() else None


def _internaldate(raw: bytes) -> float | None:
    """IMAP's INTERNALDATE ("25-Nov-2026 10:00:00 +0100", RFC 3501 date-time) as epoch seconds."""
    from datetime import datetime, timedelta, timezone

    try:
        day, clock, zone = raw.decode("ascii").split()  # the day is space-padded: " 5-Nov-2026"
        d, mon, y = day.split("-")
        hh, mm, ss = clock.split(":")
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(timedelta(seconds=sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)))
        return datetime(int(y), _MONTHS[mon.title()], int(d), int(hh), int(mm), int(ss), tzinfo=tz).timestamp()
    except (ValueError, TypeError, UnicodeDecodeError, KeyError, IndexError):
        return None


# ---------------------------------------------------------------- choosing a source


def source_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


_HEADER_LINE = lazy_pattern(rb"^[!-9;-~]+:[ \t]?[^\r\n]*\r?\n")
_EXPECTED = N_(
    "give a Maildir, an mbox file, a message file (.eml), a directory of .eml files, - or imaps://USER@HOST/FOLDER"
)


def open_local(spec: str, limit: int, stdin: IO[bytes] | None = None) -> Source:
    """A Maildir, an mbox file, one message file, a directory of .eml files, or `-` (stdin)."""
    if spec == "-":
        if stdin is None:
            raise InvalidInputError(_("no standard input to read a message from"))
        return StdinSource(stdin, limit)
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return MaildirSource(path, limit)
        with os.scandir(path) as it:
            entries = [e.name for e in it if not e.name.startswith(".")]
        if entries and not any(n.lower().endswith(".eml") for n in entries):
            raise InvalidInputError(
                _("{path} is a directory without messages: no Maildir (cur/, new/) and no .eml files").format(
                    path=spec
                ),
                _(_EXPECTED),
            )
        return EmlDirSource(path, limit)
    if path.exists() and not path.is_file():
        raise InvalidInputError(_("{path} is not a regular file").format(path=spec), _(_EXPECTED))
    if path.is_file():
        from supportctl.fsutil import open_regular

        try:  # a file you name yourself may be a link to a mailbox: followed, but it must be a regular file
            with open_regular(path, follow_symlinks=True) as fh:
                start = fh.read(1024)
        except OSError as exc:
            raise InvalidInputError(
                _("cannot read {path}: {reason}").format(path=spec, reason=os_reason(exc))
            ) from None
        if start.startswith(b"From "):
            return MboxSource(path, limit)
        if b"%PDF-" in start:
            from supportctl.output import shell_arg

            raise InvalidInputError(
                _("{path} is a PDF, not mail").format(path=spec),
                _("to check a filled form use `supportctl validate {path}`; inbox reads mailboxes").format(
                    path=shell_arg(spec)
                ),
            )
        if _HEADER_LINE.match(start.lstrip(b"\r\n")):
            return FileSource(path, limit)
        if not start.strip():
            return MboxSource(path, limit)  # an empty mbox: nothing to list, and inbox says so
        raise InvalidInputError(_("{path} is neither a mailbox nor a mail message").format(path=spec), _(_EXPECTED))
    raise InvalidInputError(_("{path}: no such mailbox").format(path=spec), _(_EXPECTED))


def open_source(
    spec: str,
    cfg: Any,
    watermark: Callable[[str], Watermark | None] | None = None,
    prompt: Callable[[str], str] | None = None,
    stdin: IO[bytes] | None = None,
) -> Source:
    """The mailbox `spec` names, as `inbox` and `status` read it: imap[s]:// (logged in with
    SUPPORTCTL_IMAP_PASSWORD, the keyring, imap.password_command or `prompt`; only mail after
    `watermark("imap:" + url)` when given), else a local one."""
    limit = cfg.get("inbox.max_message_bytes")
    if not spec.startswith(("imap://", "imaps://")):
        return open_local(spec, limit, stdin)
    from supportctl.mail import credentials

    target = parse_imap_url(spec)
    wm = watermark("imap:" + target.url) if watermark is not None else None
    secret = credentials.imap_password(target.user, target.host, cfg.get("imap.password_command"), prompt=prompt)
    return ImapSource(target, secret.value, limit, wm, cfg.get("imap.ca_bundle"), float(cfg.get("imap.timeout")))


def configured(spec: str, cfg: Any) -> str:
    """The mailbox of `inbox` and `inbox report`: SPEC as given, else the configured `inbox.mailbox`."""
    from supportctl.errors import UsageError
    from supportctl.i18n import _

    chosen = spec or cfg.get("inbox.mailbox")
    if not chosen:
        raise UsageError(
            _("give a SOURCE"),
            _("a Maildir, an mbox file, a directory of .eml files, - or imaps://… (or set inbox.mailbox)"),
        )
    return str(chosen)
