"""Staff triage: turn a mailbox into a due-ordered work list, and reply to applicants.

Per message: sender, received time (newest `Received:`, else `Date:`, else arrival), the registration PDF,
the form validated with the rules of `validate`, the activation class, the due time from the eta engine
and a status. Hostile mail never crashes it: limits on size, parts and nesting turn a bad message into a
`skipped` line with its reason. State (UID watermark, validation cache, facts for `reply`, the work list)
lives in `$XDG_STATE_HOME/supportctl/inbox/inbox.sqlite` (`store.py`); done markers in `inbox/done.json`,
keyed by the message's id (derived from its Message-ID, so the same for Maildir and IMAP). Mail files
are never written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from supportctl import paths
from supportctl.desk.headers import addresses as _addresses
from supportctl.desk.headers import clean as clean  # re-exported: replies.py and status.py use it
from supportctl.desk.headers import decoded_header as decoded_header  # re-exported: replies.py uses it
from supportctl.desk.headers import file_name, lazy_pattern
from supportctl.desk.headers import header_text as _header_text
from supportctl.desk.headers import message_key as message_key
from supportctl.desk.headers import names as _names
from supportctl.desk.headers import parse_head as _parse_head
from supportctl.desk.headers import received_time as _received_time
from supportctl.desk.sources import Envelope, FileBody, Source, TooLarge, uid_of
from supportctl.errors import InvalidInputError, SupportctlError
from supportctl.fsutil import atomic_write, flock
from supportctl.i18n import N_, _
from supportctl.package.manifest import Package

if TYPE_CHECKING:  # the email package costs ~15 ms to import: a rerun that reads no mail does without it
    from email.message import Message

    from supportctl.config import Config
    from supportctl.desk.store import ItemRow

# The codes are stored and in NDJSON; shown to people they are translated (the English label is the code).
STATUSES = (
    N_("overdue"),
    N_("due-soon"),
    N_("open"),
    N_("invalid"),
    N_("duplicate"),
    N_("skipped"),
    N_("not-a-registration"),
    N_("done"),
)
_RANK = {s: n for n, s in enumerate(STATUSES)}  # the order of the work list, by status
DUE_SOON_SECONDS = 3600.0


class Limits(NamedTuple):
    max_message_bytes: int = 25 << 20
    max_parts: int = 100
    max_depth: int = 10

    @staticmethod
    def from_config(cfg: Config) -> Limits:
        """The limits set in the config (`inbox.max_message_bytes`, `inbox.max_parts`, `inbox.max_depth`)."""
        return Limits(cfg.get("inbox.max_message_bytes"), cfg.get("inbox.max_parts"), cfg.get("inbox.max_depth"))


class CheckedForm(NamedTuple):
    """What the validator said about one PDF (cached by its sha256)."""

    ok: bool
    values: dict[str, Any]
    findings: tuple[dict[str, Any], ...]
    activation_class: str | None
    # The same findings in every language of the interface (for the reply's language parts), when known.
    localized: Mapping[str, tuple[dict[str, Any], ...]] = MappingProxyType({})

    def findings_in(self, lang: str) -> tuple[dict[str, Any], ...]:
        return self.localized.get(lang) or self.findings

    @staticmethod
    def from_report(report: Any) -> CheckedForm:
        d = report.to_dict() if hasattr(report, "to_dict") else dict(report)
        return CheckedForm(
            ok=bool(d.get("ok")),
            values=dict(d.get("values") or {}),
            findings=tuple(dict(f) for f in d.get("findings") or ()),
            activation_class=d.get("activation_class"),
            localized={k: tuple(dict(f) for f in v) for k, v in (d.get("localized") or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ok": self.ok,
            "values": self.values,
            "findings": list(self.findings),
            "activation_class": self.activation_class,
        }
        if self.localized:
            d["localized"] = {k: list(v) for k, v in self.localized.items()}
        return d


# A validator takes the package and the PDF's bytes and returns a FormReport (or anything with to_dict()).
Validator = Callable[[Package, bytes], Any]


def _validate(pkg: Package, data: bytes) -> Any:
    """The validation of `supportctl validate` (form.py); imported here, on the first PDF, for pypdf's sake."""
    from supportctl.form import pdfform as form

    return form.validate_pdf(pkg, data)


@dataclass(frozen=True)
class Facts:
    """What a message says, independent of the current time (stored in the state)."""

    id: str
    key: str
    message_id: str | None
    references: str | None
    sender: str
    sender_address: str
    reply_to: str | None
    subject: str
    received: str | None
    received_from: str  # "received" | "date" | "arrival" | "unknown"
    kind: str  # "pdf" | "no-pdf" | "zip" | "bad-attachment" | "report" | "skipped" | "unchecked"
    reason: str | None = None
    attachment: str | None = None
    sha256: str | None = None
    # The file it was read from, as it was then: an unchanged file need not be read again.
    size: int | None = None
    mtime: float | None = None
    # Every file the message carries ({"name", "type", "sha256" for PDFs}) and whether it was sent to the desk.
    parts: tuple[dict[str, Any], ...] = ()
    to_desk: bool = False
    # For a registration (one form of a message): its position among the message's forms, from 1.
    index: int | None = None

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Facts:
        known: dict[str, Any] = {k: d.get(k) for k in Facts.__dataclass_fields__ if k in d}
        known["parts"] = tuple(dict(p) for p in known.get("parts") or () if isinstance(p, dict))
        return Facts(**known)

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """The message's files as shown in `--json`: name, type, and what each is for this registration."""
        shown = []
        for p in self.parts:
            role = "other"
            if p.get("sha256"):
                role = "this-form" if p.get("sha256") == self.sha256 else p.get("role", "pdf")
            shown.append({"name": p.get("name"), "type": p.get("type"), "role": role})
        return shown


class Item(NamedTuple):
    facts: Facts
    status: str
    reasons: tuple[str, ...] = ()
    activation_class: str | None = None
    due: datetime | None = None
    clock_starts: datetime | None = None
    form: CheckedForm | None = None
    done: dict[str, Any] | None = None
    claimed_by: tuple[str, ...] = ()

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """The `--json` record at `now` (the two time-dependent fields come last, as in `registration_line`)."""
        d = self.static_dict()
        d["status"] = self.status
        d["seconds_until_due"] = round(self.due.timestamp() - now.timestamp(), 3) if self.due else None
        return d

    def static_dict(self) -> dict[str, Any]:
        """Everything of the record that does not depend on the time it is looked at."""
        f = self.facts
        d: dict[str, Any] = {
            "id": f.id,
            "key": f.key,
            "sender": f.sender,
            "subject": f.subject,
            "received": f.received,
            "received_from": f.received_from,
            "attachment": f.attachment,
            "attachments": f.attachments,
            "form_index": f.index,
            "sha256": f.sha256,
            "class": self.activation_class,
            "clock_starts": self.clock_starts.isoformat() if self.clock_starts else None,
            "due": self.due.isoformat() if self.due else None,
            "reasons": list(self.reasons),
            "findings": list(self.form.findings_in(_language())) if self.form else [],
            "company": (self.form.values.get("company") if self.form else None),
        }
        d["contract"] = self.done.get("contract") if self.done else None
        d["claimed_by"] = list(self.claimed_by)
        if self.done:
            d["done"] = self.done
        return d

    def stored(self, own: bool = False) -> str:
        """Everything needed to rebuild the item (`from_stored`), as stored in the work list. `own`: its facts
        are its message's (the message itself, not one form of it): the message's row holds them, not this."""
        facts_json = "null" if own else _json(_facts_dict(self.facts))
        rest = _json(
            {
                "status": self.status,
                "reasons": list(self.reasons),
                "class": self.activation_class,
                "due": self.due.isoformat() if self.due else None,
                "clock_starts": self.clock_starts.isoformat() if self.clock_starts else None,
                "form": self.form.to_dict() if self.form else None,
                "done": self.done,
                "claimed_by": list(self.claimed_by),
            }
        )
        return f'{{"facts": {facts_json}, {rest[1:]}'

    @staticmethod
    def from_stored(text: str, status: str, message_facts: str | None) -> Item:
        """The item `stored` wrote; `message_facts`: its message's row, for an item that holds no facts."""
        d = json.loads(text)
        facts = d["facts"] if d["facts"] is not None else json.loads(message_facts or "null")
        if not isinstance(facts, dict):
            raise ValueError("a stored item without its message")
        form = CheckedForm.from_report(d["form"]) if d["form"] else None
        cls = d["class"]
        if cls is None and status == "done" and form is not None:
            cls = form.activation_class  # a list stored before answered registrations kept their class
        return Item(
            Facts.from_dict(facts),
            status,
            tuple(d["reasons"]),
            cls,
            datetime.fromisoformat(d["due"]) if d["due"] else None,
            datetime.fromisoformat(d["clock_starts"]) if d["clock_starts"] else None,
            form,
            d["done"],
            tuple(d["claimed_by"]),
        )


# One encoder for the many rows of a large mailbox (`json.dumps` with options builds one per call).
_json = json.JSONEncoder(ensure_ascii=False).encode


def _language() -> str:
    from supportctl.i18n import current_language

    return current_language()


def live_status(due_ts: float, now: datetime, engine: Any) -> str:
    """overdue, due-soon or open: the status of a dated registration at `now`."""
    now_ts = now.timestamp()
    if now_ts >= due_ts:
        return "overdue"
    if engine.calendar.business_seconds_between(now_ts, due_ts) < DUE_SOON_SECONDS:
        return "due-soon"
    return "open"


class Record(NamedTuple):
    """One registration as `inbox --json` prints it, with what the summary needs."""

    status: str
    key: str
    reasons: tuple[str, ...]
    line: str
    first: bool  # the entry that stands for its message (its first form, or the message itself)


def _line(record: str, status: str, due_ts: float | None, now: datetime) -> str:
    """The NDJSON line: the stored record with the time-dependent fields added (no re-encoding)."""
    left = "null" if due_ts is None else json.dumps(round(due_ts - now.timestamp(), 3))
    return f'{record[:-1]}, "status": "{status}", "seconds_until_due": {left}}}'


def _record(item: Item) -> str:
    from supportctl.output import ndjson

    return ndjson({"type": "registration", **item.static_dict()})


class Triage:
    """The work list of one run: in memory when it was computed now, else streamed from the store."""

    def __init__(
        self,
        source: str,
        items: tuple[Item, ...] | None = (),
        stats: dict[str, int] | None = None,
        *,
        store: Any = None,
        engine: Any = None,
        now: datetime | None = None,
    ) -> None:
        self.source = source
        self.stats = stats or {}
        self._items = items
        self._store, self._engine, self._now = store, engine, now

    @property
    def unsaved(self) -> str | None:
        """Why this run could not use the desk's state file (it listed the mailbox without it), else None."""
        return getattr(self._store, "unsaved", None)

    @property
    def recovered(self) -> Path | None:
        """Where a damaged state file was moved before this run started afresh (else None)."""
        return getattr(self._store, "recovered", None)

    def warnings(self) -> list[str]:
        """What the desk is told before the list: the state could not be written, or was damaged and set aside."""
        said = []
        if self.unsaved is not None:
            said.append(
                _("the desk's state cannot be written ({reason}); this run did not remember anything").format(
                    reason=self.unsaved
                )
            )
        if self.recovered is not None:
            said.append(
                _("the desk's state was damaged: moved to {path}; this run read the mailbox afresh").format(
                    path=self.recovered
                )
            )
        return said

    def close(self) -> None:
        """Let go of the store (its write-ahead log is folded into the file then)."""
        if self._store is not None:
            self._store.close()

    @property
    def items(self) -> tuple[Item, ...]:
        if self._items is None:
            with _reading(self._store):
                rows = self._store.item_rows("status, due, item")
                self._items = tuple(
                    Item.from_stored(item, self._status(st, due), facts) for st, due, item, facts in rows
                )
        return self._items

    def _status(self, status: str, due: float | None) -> str:
        return status if due is None else live_status(due, self._now or datetime.now(timezone.utc), self._engine)

    def records(self, now: datetime) -> Iterator[Record]:
        """Every registration's `--json` line in due order; streamed (flat memory) when nothing changed."""
        if self._items is not None:
            for i in self._items:
                due = i.due.timestamp() if i.due else None
                first = i.facts.index is None or i.facts.index == 1
                yield Record(i.status, i.facts.key, i.reasons, _line(_record(i), i.status, due, now), first)
            return
        with _reading(self._store):
            rows = self._store.item_rows("status, due, key, reasons, record, id = message")
            for status, due, key, reasons, record, first in rows:
                status = self._status(status, due)
                why = tuple(json.loads(reasons)) if status == "skipped" else ()  # only the summary's skip lines
                yield Record(status, key, why, _line(record, status, due, now), bool(first))


@contextmanager
def _reading(store: Any) -> Iterator[None]:
    """Reading the store: SQLite's errors (a damaged page, a lock) become one line, never a traceback; so does a
    row that cannot be read back (an item whose message row is gone), which only a damaged store holds."""
    import sqlite3

    from supportctl.desk.store import state_error

    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise state_error(getattr(store, "file", None), exc) from None
    except ValueError as exc:  # `Item.from_stored`, `json.loads`
        raise state_error(getattr(store, "file", None), sqlite3.DatabaseError(str(exc))) from None


# ---------------------------------------------------------------- state


def inbox_dir() -> Path:
    return paths.state_subdir("inbox")


def _facts_dict(f: Facts) -> dict[str, Any]:
    """A Facts record as stored (a shallow copy: dataclasses.asdict deep-copies, ten times slower)."""
    d = {name: getattr(f, name) for name in Facts.__dataclass_fields__}
    d["parts"] = [dict(p) for p in f.parts]
    return d


def _done_signature() -> list[int] | None:
    """Whether done.json changed since the work list was computed (size and time of the last write)."""
    try:
        st = (inbox_dir() / "done.json").stat()
    except (OSError, SupportctlError):  # no state directory we can use: nothing recorded
        return None
    return [st.st_mtime_ns, st.st_size]


def load_done() -> dict[str, Any]:
    try:
        data = json.loads((inbox_dir() / "done.json").read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, SupportctlError):
        return {}


def mark_done(message_id: str, record: dict[str, Any]) -> None:
    """Record that message `message_id` was answered.

    Read, change and write under the outbox's lock: two replies marked at once (or a reply queued while
    another is marked) must not lose a record.
    """
    from supportctl.mail import outbox

    with flock(outbox.lock_path()):
        done = load_done()
        done[message_id] = record
        data = json.dumps(done, ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write(inbox_dir() / "done.json", data, 0o600)


def status_label(status: str) -> str:
    return _(status) if status in STATUSES else status


# ---------------------------------------------------------------- reading one message


def examine(
    env: Envelope, limits: Limits, want_body: bool = True, desk_address: str | None = None
) -> tuple[Facts, list[tuple[str, bytes]]]:
    """The facts of one message and the bytes of every PDF it carries, by sha256."""
    f, data = examine_head(env, limits, want_body, desk_address)
    if data is None:
        return f, []
    assert not isinstance(data, FileBody)  # read here: only a worker is handed the file unread
    scan = classify(env.files()) if env.files is not None else scan_message(data, limits)
    kind, reason, files, pdfs = scan_body(scan)
    return complete(f, kind, reason, files), pdfs


def examine_head(
    env: Envelope, limits: Limits, want_body: bool = True, desk_address: str | None = None, defer: bool = False
) -> tuple[Facts, bytes | FileBody | None]:
    """What the head says, and the raw message when its body must be scanned (else the facts are final).

    The facts of a message still to be scanned are `unchecked` until `complete` adds what its body holds.
    `defer`: a multipart mail file is returned unread (`FileBody`), for the worker that scans it to read.
    """
    msg = _parse_head(env.head)
    received, received_from, absurd = _received_time(msg, env.arrival)
    senders = _addresses(msg, "From")
    address = senders[0] if senders else ""
    reply_tos = _addresses(msg, "Reply-To")
    reply_to = reply_tos[0] if reply_tos else None
    base: dict[str, Any] = {
        "id": message_key(msg, env.head),
        "key": env.key,
        "message_id": clean(str(msg.get("Message-ID") or "")) or None,
        "references": clean(str(msg.get("References") or "")) or None,
        "sender": _header_text(msg.get("From")) or address,
        "sender_address": address,
        "reply_to": reply_to,
        "subject": _header_text(msg.get("Subject")),
        "received": received.isoformat() if received else None,
        "received_from": received_from,
        "size": env.size,
        "mtime": env.arrival,
        "to_desk": bool(desk_address) and _names(msg, str(desk_address), ("To", "Cc", "Delivered-To")),
    }
    if env.error:
        return Facts(**base, kind="skipped", reason=env.error), None
    if received is None and absurd:
        return Facts(**base, kind="skipped", reason=_("the message cannot be dated: {why}").format(why=absurd)), None
    if env.size > limits.max_message_bytes:
        reason = _("message is {size} bytes, more than inbox.max_message_bytes ({limit})").format(
            size=env.size, limit=limits.max_message_bytes
        )
        return Facts(**base, kind="skipped", reason=reason), None
    if msg.get_content_type() == "multipart/report":
        # A bounce or delivery report (Postfix returns the whole message, its PDF too): never a registration.
        return Facts(**base, kind="report", reason=_("a delivery report from a mail server, not a registration")), None
    single_text = msg.get_content_maintype() == "text" if msg.get("Content-Type") else True
    if not want_body:
        return Facts(**base, kind="no-pdf" if single_text else "unchecked"), None
    if defer and not single_text and isinstance(env.read, FileBody):
        return Facts(**base, kind="unchecked"), env.read
    try:
        data = env.read()
    except (TooLarge, OSError) as exc:
        return Facts(**base, kind="skipped", reason=unreadable_reason(exc, limits)), None
    # IMAP hands over only the parts that can hold a form, already decoded (`env.files`). A text sent as base64
    # or quoted-printable shows its `begin ` line only decoded, and a named one is a file: both are scanned.
    encoded = str(msg.get("Content-Transfer-Encoding") or "").strip().lower() in ("base64", "quoted-printable")
    plain_text = single_text and not encoded and not _names_a_file(msg)
    if env.files is None and plain_text and b"begin " not in data:
        return Facts(**base, kind="no-pdf"), None  # one text part and no uuencoded file: nothing to parse
    return Facts(**base, kind="unchecked"), data


# What a message's body holds: its kind, why, and its files as (name, type, sha256 of a PDF or None).
BodyFiles = tuple[tuple[str | None, str, str | None], ...]


def scan_body(scan: Scan) -> tuple[str, str | None, BodyFiles, list[tuple[str, bytes]]]:
    """A scan's kind, reason and files by sha256, and the bytes of every PDF by sha256."""
    files = []
    pdfs = []
    for name, ctype, body in scan.files:
        sha = hashlib.sha256(body).hexdigest() if body is not None else None
        files.append((name, ctype, sha))
        if body is not None and sha is not None:
            pdfs.append((sha, body))
    return scan.kind, scan.reason, tuple(files), pdfs


def complete(f: Facts, kind: str, reason: str | None, files: BodyFiles) -> Facts:
    """The facts of `examine_head` with what the body holds (its scan may have run in a worker process)."""
    parts = []
    for name, ctype, sha in files:
        part: dict[str, Any] = {"name": name, "type": ctype}
        if sha is not None:
            part["sha256"] = sha
        parts.append(part)
    first = next((p for p in parts if p.get("sha256")), None)
    return _but(
        f,
        kind=kind,
        reason=reason,
        attachment=first["name"] if first else None,
        sha256=first["sha256"] if first else None,
        parts=tuple(parts),
    )


def _but(f: Facts, **changes: Any) -> Facts:
    """`dataclasses.replace` for Facts, at half its cost (it runs for every message of a large mailbox)."""
    return Facts(**{**f.__dict__, **changes})


def unreadable_reason(exc: TooLarge | OSError, limits: Limits) -> str:
    """Why a message's body could not be read: over the size limit, or what the file system said."""
    if isinstance(exc, TooLarge):
        return _("message is larger than inbox.max_message_bytes ({limit})").format(limit=limits.max_message_bytes)
    return _os_reason(exc)


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.EACCES, errno.EPERM):
        return _("the file cannot be read: permission denied")
    return _("the file cannot be read: {reason}").format(reason=clean(exc.strerror or type(exc).__name__))


class Scan(NamedTuple):
    kind: str  # "pdf" | "no-pdf" | "zip" | "bad-attachment" | "skipped"
    reason: str | None
    files: tuple[tuple[str | None, str, bytes | None], ...]  # (name, type, PDF bytes or None) per file


def _names_a_file(head: Any) -> bool:
    """Whether a header block's Content-Type or Content-Disposition names a file (as `_part_name` reads it)."""
    fields = [(k, head.get(k)) for k in ("Content-Type", "Content-Disposition")]
    if not any(v is not None and "name" in str(v).lower() for _k, v in fields):
        return False  # the usual text mail: no parameters to parse
    from email.message import Message

    part = Message()
    for key, value in fields:
        if value is not None:
            part[key] = str(value)
    return _part_name(part) is not None


def _part_name(part: Message) -> str | None:
    """The file name, decoded from RFC 2231 (`filename*=`) or RFC 2047 (`=?UTF-8?B?…?=`), made safe to show."""
    try:
        raw = part.get_filename()
    except Exception:
        return None
    if not isinstance(raw, str):
        return None
    if "\ufffd" in raw:  # raw 8-bit bytes (RFC 6532 mail): read as UTF-8, as the IMAP server reports them too
        raw = _utf8_name(part) or raw
    if "=?" in raw:
        raw = _header_text(raw)
    return file_name(raw)


def _utf8_name(part: Message) -> str | None:
    """The file name of a part whose header holds raw 8-bit bytes, read as UTF-8 (the email package shows
    each such byte as U+FFFD)."""
    from email.message import Message as Plain

    fixed = Plain()
    for name, value in part.raw_items():
        if name.lower() in ("content-type", "content-disposition"):
            fixed[name] = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    found = fixed.get_filename()
    return found if isinstance(found, str) else None


_UU_BEGIN = lazy_pattern(rb"^begin [0-7]{3,4} ([^\r\n]+)\r?$", re.M)


def _uudecoded(text: bytes) -> list[tuple[str, bytes]]:
    """Files uuencoded inside a text body (`begin 644 name` … `end`), as older mail programs send them."""
    import binascii

    found = []
    for m in _UU_BEGIN.finditer(text):
        out_lines = []
        for line in text[m.end() :].splitlines()[1:]:
            line = line.rstrip(b"\r")
            if line in (b"end", b"`", b""):
                if line == b"end":
                    break
                continue
            try:
                out_lines.append(binascii.a2b_uu(line))
            except binascii.Error:
                try:  # some encoders pad short lines badly; the length byte says how much is real
                    n = (line[0] - 32) & 63
                    out_lines.append(binascii.a2b_uu(line[: ((n + 2) // 3) * 4 + 1]))
                except (binascii.Error, IndexError):
                    break
        found.append((file_name(m.group(1).decode("utf-8", "replace")) or "", b"".join(out_lines)))
    return found


def scan_message(data: bytes, limits: Limits) -> Scan:
    """Every file in a message, within the limits: MIME leaves, nested messages and uuencoded blocks.

    A PDF is recognised by its content (`%PDF-` within the first KiB), whatever its type or name says.
    """
    from email.message import Message
    from email.parser import BytesParser

    from supportctl.desk import skeleton

    try:
        elided, runs = skeleton.elide(data)  # the same parse, without walking each line of base64 attachments
        msg = BytesParser().parsebytes(elided)
    except (RecursionError, MemoryError):
        return Scan("skipped", _("malformed MIME: nested too deeply to read"), ())
    except Exception:
        return Scan("skipped", _("malformed MIME: the message structure cannot be read"), ())
    parts = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    leaves: list[tuple[str | None, str, bytes]] = []
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            return Scan(
                "skipped", _("more than inbox.max_parts ({limit}) MIME parts").format(limit=limits.max_parts), ()
            )
        if depth > limits.max_depth:
            return Scan(
                "skipped",
                _("MIME parts nested deeper than inbox.max_depth ({limit})").format(limit=limits.max_depth),
                (),
            )
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
            continue
        body: Any = None
        if runs and isinstance(payload, str) and skeleton.marked(payload):
            body = skeleton.decoded(part, runs)  # clean base64 straight from its run
            if body is None:
                part.set_payload(skeleton.restore(payload, runs))
        if body is None:
            try:
                body = part.get_payload(decode=True)
            except Exception:
                body = None
        if isinstance(body, bytes):
            leaves.append((_part_name(part), part.get_content_type(), body))
    return classify(leaves)


def classify(leaves: Iterable[tuple[str | None, str, bytes]]) -> Scan:
    """The intake rules over a message's decoded leaves (name, type, bytes), in order.

    Shared by the MIME walk above and by IMAP, which hands over only the parts that can hold a form.
    """
    files: list[tuple[str | None, str, bytes | None]] = []
    bad: str | None = None
    bad_kind = "bad-attachment"
    for name, ctype, body in leaves:
        if ctype.startswith("text/") and name is None:
            for uu_name, uu_body in _uudecoded(body) if b"begin " in body else ():
                files.append((uu_name, "application/octet-stream", uu_body if b"%PDF-" in uu_body[:1024] else None))
            continue
        if b"%PDF-" in body[:1024]:
            files.append((name, ctype, body))
            continue
        lower = (name or "").lower()
        if name is None and ctype.startswith(("text/", "multipart/")):
            continue
        files.append((name, ctype, None))
        if body.startswith(b"PK\x03\x04") and (ctype == "application/zip" or lower.endswith(".zip")):
            bad = bad or _("attachment {name} is a zip archive, not the PDF form").format(name=name or "?")
            bad_kind = "zip"
        elif ctype in ("application/pdf", "application/x-pdf") or lower.endswith(".pdf"):
            bad = _("attachment {name} claims to be a PDF but is not one").format(name=name or "?")
            bad_kind = "bad-attachment"
    if any(body is not None for _n, _t, body in files):
        return Scan("pdf", None, tuple(files))
    if bad:
        return Scan(bad_kind, bad, tuple(files))
    return Scan("no-pdf", None, tuple(files))


# ---------------------------------------------------------------- triage


def _looks_like_registration(pkg: Package, subject: str) -> bool:
    prefix = pkg.process.subject.split("{", 1)[0].strip().lower()
    return bool(prefix) and subject.lower().startswith(prefix)


def form_key(pkg: Package, sha: str) -> str:
    return f"{pkg.name}@{pkg.version}/{sha}"


def registrations(f: Facts, pkg: Package, forms: Forms) -> list[Facts]:
    """One message's registrations: one per form it carries (other PDFs are only listed), or the message itself.

    The first form keeps the message's id; further forms get `<id>.2`, `<id>.3`, … in the order they appear.
    """
    if f.kind != "pdf":
        return [f]
    parts = []
    form_shas: list[tuple[str, str | None]] = []
    for p in f.parts:
        sha = p.get("sha256")
        if sha:
            judged = forms.get(form_key(pkg, sha))
            is_form = judged is None or judged.get("form") is not False
            parts.append({**p, "role": "form" if is_form else "pdf"})
            if is_form and all(s != sha for s, _n in form_shas):
                form_shas.append((sha, p.get("name")))
        else:
            parts.append(p)
    if not form_shas:
        names = ", ".join(str(p.get("name") or "?") for p in parts if p.get("sha256"))
        why = _(
            "no registration form attached (the PDF attached is another document, or a printout or flattened copy "
            "of the form, which has no fields: {names})"
        ).format(names=names)
        return [_but(f, kind="no-form", reason=why, attachment=None, sha256=None, parts=tuple(parts))]
    return [
        _but(
            f,
            id=f.id if n == 1 else f"{f.id}.{n}",
            attachment=name,
            sha256=sha,
            index=n,
            parts=tuple(parts),
        )
        for n, (sha, name) in enumerate(form_shas, 1)
    ]


def _unreadable(message: str) -> CheckedForm:
    return CheckedForm(
        False, {}, ({"field": None, "code": "unreadable", "message": message, "suggestion": None},), None
    )


def judge_loaded(pkg: Package, data: bytes) -> dict[str, Any]:
    """`{"form": False}` for a PDF that is not the package's form, else the validation report plus `"form"`."""
    from supportctl.desk.recognise import is_form

    try:
        checked = _check(_validate, pkg, data)
    except Exception:  # the validator must never take the run down; the form is then unreadable
        checked = _unreadable(_("the PDF could not be read"))
    if checked.ok:
        return {**checked.to_dict(), "form": True}  # a valid form is the form: no second look needed
    verdict = is_form(pkg, data)  # findings: the form with mistakes, or another document altogether?
    if verdict is False:
        return {"form": False, "ok": False, "values": {}, "findings": [], "activation_class": None}
    if checked.findings and checked.findings[0].get("code") != "unreadable":
        try:
            checked = checked._replace(localized=_localized(pkg, data))
        except Exception:
            pass
    return {**checked.to_dict(), "form": verdict}


def _localized(pkg: Package, data: bytes) -> dict[str, tuple[dict[str, Any], ...]]:
    """An invalid form's findings in each interface language, so a reject mail speaks one language per part."""
    from supportctl.i18n import SUPPORTED, speaking

    out = {}
    for lang in SUPPORTED:
        with speaking(lang):
            out[lang] = _check(_validate, pkg, data).findings
    return out


class FormCache:
    """Validated forms by form key: the store's, plus those judged in this run (written back at the end)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.loaded: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        self.misses = 0
        self.stored: set[str] | None = None  # the store's keys, read once lookups miss often (a new mailbox)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self.loaded:
            if self.stored is not None and key not in self.stored and key not in self.new:
                return default  # not judged before: no query (1,000 new forms asked 1,000 times, 0.1 s)
            found = self.new.get(key) or self.store.forms([key]).get(key)
            if found is None:
                self.misses += 1
                if self.misses == 32:
                    self.stored = self.store.form_keys()
                return default
            self.loaded[key] = found
        return self.loaded[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __getitem__(self, key: str) -> Any:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: str, report: Any) -> None:
        self.new[key] = self.loaded[key] = report


Forms: TypeAlias = "dict[str, Any] | FormCache"  # validated forms by form key


def _context(pkg: Package, engine: Any, limits: Limits) -> str:
    """What the stored work list was computed with besides the mail: package, schedule, classes, language."""
    from supportctl.i18n import current_language

    seen = repr((str(pkg.root), pkg.name, pkg.version, engine.schedule, engine.classes, engine.mode))
    return hashlib.sha256(f"{seen}|{current_language()}|{limits}".encode()).hexdigest()


def triage(
    source: Source,
    pkg: Package,
    engine: Any,
    now: datetime,
    *,
    limits: Limits | None = None,
    validator: Validator | None = None,
    validate: bool = True,
    persist: bool = True,
    workers: int | None = None,
) -> Triage:
    """Read every (new) message of `source`, validate the forms they carry (cached), and give each a status.

    When nothing changed since the last run (no new or vanished message, no flag, no reply, the same
    package and limits) the stored work list is streamed, not recomputed.
    """
    import gc

    before = gc.get_threshold()
    # A run allocates a few containers per message and frees them together: a collection every 700 of them
    # (the default) walks the growing lists over and over; every 50,000 collects the rare cycle all the same.
    gc.set_threshold(50_000, *before[1:])
    try:
        try:
            return _triage(source, pkg, engine, now, limits, validator, validate, persist, workers)
        except _Damaged as exc:
            # Damaged in a place opening it did not touch: moved aside as at opening, and the run starts afresh
            # (over IMAP from the first message: the watermark was the damaged store's).
            from supportctl.desk.store import move_aside

            aside = move_aside(exc.file)
            if getattr(source, "watermark", None) is not None:
                source.watermark = None  # type: ignore[attr-defined]
            try:
                result = _triage(source, pkg, engine, now, limits, validator, validate, persist, workers)
            except _Damaged as again:  # the fresh file too: the directory's disk, not a bad copy
                from supportctl.desk.store import state_error

                raise state_error(again.file, again.error) from None
            result._store.recovered = aside
            return result
    finally:
        gc.set_threshold(*before)


def _triage(
    source: Source,
    pkg: Package,
    engine: Any,
    now: datetime,
    limits: Limits | None,
    validator: Validator | None,
    validate: bool,
    persist: bool,
    workers: int | None,
) -> Triage:
    import sqlite3

    from supportctl.desk.store import StateError, Store, damaged, state_error

    limits = limits or Limits()
    try:
        store = Store.open(source.key, persist)
    except (OSError, SupportctlError) as exc:  # a read-only or full state directory: list without the cache
        if not persist:
            raise
        store = Store.open(source.key, False)
        store.unsaved = exc.message if isinstance(exc, SupportctlError) else (exc.strerror or str(exc))
    try:
        return _run(store, source, pkg, engine, now, limits, validator, validate, workers)
    except sqlite3.DatabaseError as exc:  # SQLite found a page it cannot read (or locked, full: not damage)
        store.close()
        if damaged(exc) and store.file is not None:
            raise _Damaged(store.file, exc) from None
        error = state_error(store.file, exc)
    except StateError as exc:  # the write at the end failed (the disk filled up, the file became read-only)
        store.close()
        error = exc
    if store.file is None or not isinstance(error, StateError):
        raise error from None
    # As when opening fails: this run lists the mail without the cache, and says so (over IMAP from the first
    # message: the watermark was the store's).
    if getattr(source, "watermark", None) is not None:
        source.watermark = None  # type: ignore[attr-defined]
    store = Store.open(source.key, False)
    store.unsaved = error.message
    return _run(store, source, pkg, engine, now, limits, validator, validate, workers)


class _Damaged(Exception):
    """The store turned out damaged while a run used it (its connection closed)."""

    def __init__(self, file: Path, error: Exception) -> None:
        self.file, self.error = file, error


def _run(
    store: Any,
    source: Source,
    pkg: Package,
    engine: Any,
    now: datetime,
    limits: Limits,
    validator: Validator | None,
    validate: bool,
    workers: int | None,
) -> Triage:
    """Read what is new in `source` and bring the store's messages and work list up to date."""
    import os

    from supportctl.desk.sources import Watermark

    meta = store.meta()
    limit_list = [limits.max_message_bytes, limits.max_parts, limits.max_depth]
    wm = meta.get("imap")
    if source.incremental and wm and getattr(source, "watermark", 0) is None:
        uidnext, count = wm.get("uidnext"), wm.get("messages")
        source.watermark = Watermark(  # type: ignore[attr-defined]
            int(wm["uidvalidity"]),
            int(wm["last_uid"]),
            uidnext if isinstance(uidnext, int) else None,
            count if isinstance(count, int) else None,
        )
    forms = FormCache(store)
    stats: dict[str, int] = {"messages": 0, "validated": 0, "cached": 0, "skipped": 0}
    facts: dict[str, Facts] = {}
    new_ids: set[str] = set()
    examined: set[str] = set()  # read this run (the others come unchanged from the store)
    # Their stored JSON, made as each message's facts are complete (this process mostly waits for the readers
    # and workers then; after the last message it is the one process working): what is completed only after
    # the reading is encoded at the end.
    encoded: dict[str, str] = {}
    suffix: dict[str, int] = {}  # the last `-N` given to a Message-ID's copies
    # The work-list rows of messages whose item depends on nothing else in the mailbox (no form: its status
    # is its own), made while the messages arrive, with the facts they were made from; used at the end
    # unless a desk flag or a done record says otherwise (`_update`).
    rows: dict[str, tuple[Facts, ItemRow]] = {}
    waiting: dict[str, str] = {}  # message key -> id, for messages whose body a worker is reading

    def arrived(fid: str, f: Facts) -> None:
        """A message's facts are complete: encode them now, and its work-list row if it is a message alone."""
        encoded[fid] = _json(_facts_dict(f))
        if f.kind in _ALONE:
            rows[fid] = (f, _item_row(_assess_one(f, pkg, engine, now, forms, {}, {}), own=True))

    known = _unchanged_files(store, source) if validate and meta.get("limits") == limit_list else {}
    from supportctl.desk.workers import Judge

    judge = Judge(pkg, forms, validator, workers if workers is not None else (os.cpu_count() or 1), limits, stats)
    desk = pkg.process.registration_address
    if hasattr(source, "plan") and validate:
        source.plan = judge.prepare  # IMAP: workers started before the messages are read, when many
    for env in source.messages():
        stats["messages"] += 1
        before = known.get((env.key, env.size, env.arrival)) if env.arrival is not None else None
        if before is not None and before.id not in new_ids and _all_judged(before, pkg, forms):
            # The same file as last run, its forms already judged: skip reading and parsing its body.
            if before.sha256 is not None:
                stats["cached"] += 1
            new_ids.add(before.id)
            facts[before.id] = before
            continue
        f = judge.examine(env, want_body=validate, desk_address=desk)  # counts `skipped` and `cached`
        fid, n = f.id, suffix.get(f.id, 1)
        while fid in new_ids:  # the same Message-ID twice in one mailbox: keep both
            n += 1
            fid = f"{f.id}-{n}"
        suffix[f.id] = n  # the next copy starts there: 100,000 mails with one Message-ID stay linear
        if fid != f.id:
            f = _but(f, id=fid)
        new_ids.add(fid)
        examined.add(fid)
        facts[fid] = f
        if f.kind != "unchecked":
            arrived(fid, f)
        else:
            waiting[f.key] = fid
        for key in judge.ready():  # bodies the workers have read meanwhile
            wid = waiting.pop(key, None)
            if wid is not None:
                facts[wid] = judge.completed(facts[wid])
                arrived(wid, facts[wid])
    judge.finish()
    for fid in examined:  # bodies a worker read
        done = judge.completed(facts[fid])
        if done is not facts[fid]:
            facts[fid] = done
            encoded.pop(fid, None)
    stats["validated"] += judge.count
    wm_now = getattr(source, "watermark", None)
    imap = None
    if wm_now is not None:
        imap = {
            "uidvalidity": wm_now.uidvalidity,
            "last_uid": wm_now.last_uid,
            "uidnext": wm_now.uidnext,
            "messages": wm_now.messages,
        }
    present = getattr(source, "present", None)
    reset = bool(getattr(source, "reset", False))
    if source.incremental:  # nothing vanished when the folder holds as many messages as we know
        vanished = reset or (present is not None and len(present) - len(examined) != store.message_count())
    else:  # every stored message was seen again, unchanged
        vanished = len(new_ids - examined) != store.message_count()
    changes, modseq, complete = _mark_changes(source, meta.get("modseq") if not reset else None)
    context = _context(pkg, engine, limits)
    with store, store.roomy(len(examined)):
        moved = store.update_marks(changes, complete)
        done_sig = _done_signature()
        full = meta.get("context") != context or not store.has_items()
        settled = not (examined or vanished or moved or judge.count or full) and meta.get("done") == done_sig
        settings: dict[str, Any] = {"limits": limit_list, "modseq": modseq, "context": context, "done": done_sig}
        if imap is not None:
            settings["imap"] = imap
        store.set_meta(**{k: v for k, v in settings.items() if meta.get(k) != v})  # a look changes nothing
        if not settled:
            store.put_forms(forms.new)
            _update(
                store,
                source,
                pkg,
                engine,
                now,
                forms,
                facts,
                examined,
                vanished,
                moved,
                full,
                meta,
                done_sig,
                encoded,
                rows,
            )
    return Triage(source.key, None, stats, store=store, engine=engine, now=now)


def _update(
    store: Any,
    source: Source,
    pkg: Package,
    engine: Any,
    now: datetime,
    forms: Forms,
    facts: dict[str, Facts],
    examined: set[str],
    vanished: bool,
    moved: set[str],
    full: bool,
    meta: dict[str, Any],
    done_sig: Any,
    encoded: dict[str, str] | None = None,
    rows: dict[str, tuple[Facts, ItemRow]] | None = None,
) -> None:
    """Bring the stored messages and work list up to date: only what changed is assessed again.

    What changed: the messages read this run, those gone, those whose desk flags moved, those answered
    since (done.json), and with them every message that carries one of their forms (which of two copies
    of a form is the duplicate depends on all of them). Everything, when the package or limits changed.
    """
    present = getattr(source, "present", None)
    wm = getattr(source, "watermark", None)
    if source.incremental:
        if getattr(source, "reset", False):
            gone = [i for i, _u in store.message_ids()]
        elif vanished and present is not None:
            gone = [i for i, u in store.message_ids() if u not in present]
        else:
            gone = []
    else:
        gone = [i for i, _u in store.message_ids() if i not in facts]
    shas = store.shas_of([*gone, *examined])
    store.drop_messages(gone)
    store.drop_items_of(gone)
    known = encoded or {}  # `examined` facts already encoded (`_run`)
    texts = ((facts[i], known.get(i) or _json(_facts_dict(facts[i]))) for i in examined)
    store.put_messages(texts, wm.uidvalidity if wm is not None else None)
    if full:
        todo = {i for i, _u in store.message_ids()}
    else:
        todo = set(examined) | store.messages_by_key(moved)
        if meta.get("done") != done_sig:  # answered since (or forgotten): those registrations and any shown done
            todo |= store.messages_with("id", load_done()) | store.messages_with("status", ["done"])
    batch = _messages_facts(store, facts, todo)
    regs = [r for f in batch.values() for r in registrations(f, pkg, forms)]
    shas |= {r.sha256 for r in regs if r.sha256}
    if not full:
        others = store.messages_with("sha", shas) - set(batch)
        batch.update(_messages_facts(store, facts, others))
        regs += [r for i in others if i in batch for r in registrations(batch[i], pkg, forms)]
    store.drop_items_of(batch)
    marks = store.marks({r.key for r in regs})
    done, claims = shared_state(source, regs, marks)
    made = rows or {}
    ready: list[ItemRow] = []
    rest: list[Facts] = []
    for r in regs:  # a row made while reading holds unless the message was answered or carries a desk flag
        pre = made.get(r.id)
        if pre is not None and pre[0] is r and r.id not in done and not marks.get(r.key):
            ready.append(pre[1])
        else:
            rest.append(r)
    assessed = assess(rest, pkg, engine, now, forms, done, claims)
    store.put_items([*ready, *(_item_row(i, own=batch.get(i.facts.id) is i.facts) for i in assessed)])


# Kinds whose work-list item depends on the message alone (not on forms judged, copies or other messages).
_ALONE = frozenset({"skipped", "bad-attachment", "report", "no-pdf", "zip"})


def _item_row(i: Item, own: bool) -> ItemRow:
    """An item as the work list stores it; `own`: its facts are its message's (see `Item.stored`)."""
    return (
        i.facts.id,
        _message_id(i.facts),
        i.facts.sha256,
        i.due.timestamp() if i.due is not None else 1e300,
        _RANK.get("open" if i.due is not None else i.status, 99),
        i.facts.received or "",
        i.facts.key,
        "open" if i.due is not None else i.status,
        i.due.timestamp() if i.due is not None else None,
        _json(list(i.reasons)),
        i.stored(own=own),
        _record(i),
    )


def _messages_facts(store: Any, facts: dict[str, Facts], ids: Iterable[str]) -> dict[str, Facts]:
    """The facts of these messages: read this run, else from the store."""
    out = {i: facts[i] for i in ids if i in facts}
    for d in store.facts_of([i for i in ids if i not in out]):
        try:
            out[d["id"]] = Facts.from_dict(d)
        except TypeError:
            continue
    return out


def _message_id(reg: Facts) -> str:
    """The id of the message a registration comes from (its second form is `<id>.2`)."""
    return reg.id.rsplit(".", 1)[0] if reg.index is not None and reg.index > 1 else reg.id


def _mark_changes(source: Source, since: int | None) -> tuple[dict[str, frozenset[str]], int | None, bool]:
    """The desk flags that changed in the mailbox since HIGHESTMODSEQ `since` (all flags when unknown)."""
    changes: Callable[[int | None], tuple[dict[str, frozenset[str]], int | None, bool]] | None = getattr(
        source, "mark_changes", None
    )
    if changes is not None:
        found, modseq, complete = changes(since)
    else:
        found, modseq, complete = source.marks(), None, True
    kept = {k: desk_flags(v) for k, v in found.items()}
    return ({k: v for k, v in kept.items() if v} if complete else kept), modseq, complete


def shared_state(
    source: Source, regs: list[Facts], marks: dict[str, frozenset[str]]
) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """Done records (local, then what the mailbox says) and claims by registration id.

    A registration answered by any desk member is done with its contract number (from the reply's copy in
    the Sent folder), whoever replied.
    """
    from supportctl.desk.shared import Mark, server_done

    done = load_done()
    claims: dict[str, tuple[str, ...]] = {}
    sent: dict[str, dict[str, Any]] | None = None
    for r in regs:
        flags = marks.get(r.key)
        if not flags:
            continue
        claims[r.id] = Mark.from_flags(flags).claimed_by
        outcome = server_done(flags, r.index)
        if outcome is None or (r.id in done and done[r.id].get("contract")):
            continue
        if sent is None:
            sent = source.sent()
        copy = sent.get("registration:" + r.id) or (sent.get(r.message_id or "") if (r.index or 1) == 1 else None)
        record: dict[str, Any] = {"action": outcome, "by": "mailbox"}
        if copy:
            record.update({"contract": copy.get("contract"), "at": copy.get("at")})
        done[r.id] = {**record, **done.get(r.id, {})} if r.id in done else record
    return done, claims


def desk_flags(flags: Iterable[str]) -> frozenset[str]:
    """The flags the desk keeps (keywords and \\Answered); \\Seen, \\Recent, … change nothing."""
    return frozenset(f for f in flags if f[:1] == "$" or f.lower() == "\\answered")


def _all_judged(f: Facts, pkg: Package, forms: Forms) -> bool:
    """A message read before whose every PDF is already judged (or that carries none)."""
    if f.kind == "unchecked":
        return False
    return all(form_key(pkg, p["sha256"]) in forms for p in f.parts if p.get("sha256"))


def _unchanged_files(store: Any, source: Source) -> dict[tuple[str, int, float], Facts]:
    """What the last run read from each file, by (key, size, mtime); only for files (Maildir, .eml, mbox).

    A message whose file has the same name, size and modification time is the same message. Nothing is
    reused for stdin or IMAP (IMAP reads only what is new anyway).
    """
    if source.incremental:
        return {}
    known: dict[tuple[str, int, float], Facts] = {}
    for d in store.messages():
        if isinstance(d, dict) and d.get("size") is not None and d.get("mtime") is not None:
            try:
                f = Facts.from_dict(d)
            except TypeError:
                continue
            known[(f.key, int(d["size"]), float(d["mtime"]))] = f
    return known


def _check(check: Validator, pkg: Package, pdf: bytes) -> CheckedForm:
    try:
        return CheckedForm.from_report(check(pkg, pdf))
    except InvalidInputError as exc:
        return CheckedForm(
            False, {}, ({"field": None, "code": "unreadable", "message": exc.message, "suggestion": None},), None
        )


def _arrival_order(f: Facts) -> tuple[float, float, tuple[int, int, str]]:
    """Which of two copies of a form came first: received time, then arrival, then the place in the mailbox
    (an IMAP UID by number), so that a Maildir and the same folder over IMAP pick the same original."""
    try:
        received = datetime.fromisoformat(f.received).timestamp() if f.received else float("inf")
    except ValueError:
        received = float("inf")
    uid = uid_of(f.key)
    place = (0, uid, "") if uid is not None else (1, 0, f.key)
    return received, f.mtime if f.mtime is not None else float("inf"), place


def assess(
    facts: Iterable[Facts],
    pkg: Package,
    engine: Any,
    now: datetime,
    forms: Forms,
    done: dict[str, Any],
    claims: dict[str, tuple[str, ...]] | None = None,
) -> list[Item]:
    """Statuses at `now`, sorted by due time (undated last)."""
    ordered = sorted(facts, key=_arrival_order)
    # A form answered once is the one its copies copy, whichever copy was answered (the earliest, if several):
    # every other copy is a duplicate, never work to do (answering it would send a second contract).
    first = {f.sha256: f.id for f in reversed(ordered) if f.sha256 and done.get(f.id)}
    items = []
    for f in ordered:
        item = _assess_one(f, pkg, engine, now, forms, done, first)
        if claims and claims.get(f.id):
            item = item._replace(claimed_by=claims[f.id])
        items.append(item)
    big = datetime.max.replace(tzinfo=timezone.utc)
    items.sort(key=lambda i: (i.due or big, _RANK.get(i.status, 99), i.facts.received or "", i.facts.key))
    return items


def _assess_one(
    f: Facts,
    pkg: Package,
    engine: Any,
    now: datetime,
    forms: Forms,
    done: dict[str, Any],
    first: dict[str, str],
) -> Item:
    mark = done.get(f.id)
    form = None
    if f.sha256 and form_key(pkg, f.sha256) in forms:
        form = CheckedForm.from_report(forms[form_key(pkg, f.sha256)])
    if mark:  # answered: no due time any more, but still the class the form asked for
        return Item(f, "done", activation_class=form.activation_class if form else None, form=form, done=mark)
    if f.kind == "skipped":
        return Item(f, "skipped", (f.reason or "",))
    if f.kind == "unchecked":
        return Item(f, "unchecked")
    if f.kind == "bad-attachment":  # claims to be a PDF and is not one
        return Item(f, "invalid", (f.reason or "",))
    if f.kind == "report":
        return Item(f, "not-a-registration", (f.reason or "",))
    if f.kind in ("no-pdf", "zip", "no-form"):
        if f.to_desk or _looks_like_registration(pkg, f.subject):
            return Item(f, "invalid", (f.reason or _("no registration form attached"),))
        return Item(f, "not-a-registration", (f.reason,) if f.reason else ())
    assert f.sha256 is not None
    original = first.setdefault(f.sha256, f.id)
    if original != f.id:
        return Item(f, "duplicate", (_("the same form as message {id}").format(id=original),), form=form)
    if form is None:
        return Item(f, "unchecked", form=form)
    if not form.ok:
        from supportctl.form.validation import finding_line  # only when a list is computed, never on a plain look

        return Item(f, "invalid", tuple(finding_line(x) for x in form.findings_in(_language())), form=form)
    cls = form.activation_class
    if cls not in engine.classes:
        return Item(f, "invalid", (_("the form names no known activation class"),), form=form)
    if f.received is None:
        return Item(f, "invalid", (_("the message has no readable received time"),), activation_class=cls, form=form)
    try:
        r = engine.compute(datetime.fromisoformat(f.received), cls)
    except (SupportctlError, ValueError, OverflowError):
        return Item(f, "skipped", (_("its received time {when} cannot be used").format(when=f.received),), cls)
    due_ts, now_ts = r.due.timestamp(), now.timestamp()
    if now_ts >= due_ts:
        status = "overdue"
    elif engine.calendar.business_seconds_between(now_ts, due_ts) < DUE_SOON_SECONDS:
        status = "due-soon"
    else:
        status = "open"
    return Item(f, status, (), cls, r.due, r.clock_starts, form)


# ---------------------------------------------------------------- finding one registration again

MIN_PREFIX = 6


class Found(NamedTuple):
    facts: Facts
    form: CheckedForm | None
    source: str | None = None  # the mailbox it was triaged from (`imap:…`, `maildir:…`), for the shared state


def stored_item(found: Found, engine: Any, now: datetime) -> Item | None:
    """The registration as the last `inbox` run listed it (statuses that depend on the other messages, such
    as `duplicate`, are only known there), with its status for `now`; None for a message file."""
    from supportctl.desk.store import Store

    if found.source is None:
        return None
    store = Store.existing()
    if store is None:
        return None
    original = None
    try:
        with _reading(store):
            row = store.item(found.source, found.facts.id)
            if row is not None and row[0] == "duplicate" and found.facts.sha256:
                original = store.original_of(found.source, found.facts.sha256)
    finally:
        store.close()
    if row is None:
        return None
    status, due, stored, message_facts = row
    try:
        item = Item.from_stored(stored, status if due is None else live_status(due, now, engine), message_facts)
    except ValueError:
        return None
    if original is not None:  # the stored reason speaks the language of the run that stored it: say it in ours
        item = item._replace(reasons=(_("the same form as message {id}").format(id=original),))
    return item


def find(ref: str, pkg: Package, limits: Limits, validator: Validator | None = None) -> Found:
    """A registration by a message file (its first form), or by an id `inbox` showed, or a unique prefix of one.

    An ambiguous prefix is a usage error that lists the candidates.
    """
    from supportctl.desk.sources import FileSource
    from supportctl.errors import UsageError

    path = Path(ref).expanduser()
    if path.is_file():
        f, pdfs = examine(next(iter(FileSource(path, limits.max_message_bytes).messages())), limits)
        if f.kind == "skipped":
            raise InvalidInputError(_("cannot read {path}: {reason}").format(path=ref, reason=f.reason))
        judged: dict[str, Any] = {}
        for sha, pdf in pdfs:
            judged[form_key(pkg, sha)] = (
                judge_loaded(pkg, pdf) if validator is None else _check(validator, pkg, pdf).to_dict()
            )
        first = registrations(f, pkg, judged)[0]
        cached = judged.get(form_key(pkg, first.sha256)) if first.sha256 else None
        return Found(first, CheckedForm.from_report(cached) if cached else None)
    if len(ref) >= MIN_PREFIX and re.fullmatch(r"[0-9a-f]+(-\d+)?(\.\d+)?", ref):
        from supportctl.desk.store import Store

        matches: dict[str, tuple[Facts, Forms, str]] = {}
        store = Store.existing()
        try:
            with _reading(store):
                cache = FormCache(store)
                rows = list(store.matching(re.sub(r"\.\d+$", "", ref))) if store else []
                for source, rec in rows:
                    try:
                        msg_facts = Facts.from_dict(rec)
                    except TypeError:
                        continue
                    for reg in registrations(msg_facts, pkg, cache):
                        if reg.id == ref or reg.id.startswith(ref):
                            matches.setdefault(reg.id, (reg, cache, source))
                if ref in matches:
                    matches = {ref: matches[ref]}
                if len(matches) > 1:
                    raise UsageError(
                        _("the id {ref} is ambiguous: it starts {ids}").format(ref=ref, ids=", ".join(sorted(matches))),
                        _("give more characters of the id"),
                    )
                if matches:
                    reg, forms, source = next(iter(matches.values()))
                    cached = forms.get(form_key(pkg, reg.sha256)) if reg.sha256 else None
                    return Found(reg, CheckedForm.from_report(cached) if cached else None, source)
        finally:
            if store:
                store.close()
    # An unknown id is a wrong command line (exit 2), as for `outbox show ID`.
    raise UsageError(
        _("no message {ref}: not a file, and no triaged message has this id").format(ref=ref),
        _(
            "run `supportctl inbox SOURCE` first and use an id from its output (at least {n} characters), "
            "or give the message file"
        ).format(n=MIN_PREFIX),
    )
