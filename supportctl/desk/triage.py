"""Staff triage: turn a mailbox into a due-ordered work list, and reply to applicants.

Per message: sender, received time (newest `Received:`, else `Date:`, else arrival), the registration PDF,
the form validated with the rules of `validate`, the activation class, the due time from the eta engine
and a status. Hostile mail never crashes it: limits on size, parts and nesting turn a bad message into a
`skipped` line with its reason. State (UID watermark, validation cache, facts for `reply`) lives in
`$XDG_STATE_HOME/supportctl/inbox/<hash of the source>/state.json`; done markers in `inbox/done.json`,
keyed by the message's id (derived from its Message-ID, so the same for Maildir and IMAP). Mail files
are never written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.message import Message
from pathlib import Path
from typing import Any

from supportctl import paths
from supportctl.desk.sources import Envelope, Source, TooLarge, source_hash
from supportctl.errors import InvalidInputError
from supportctl.fsutil import atomic_write
from supportctl.i18n import _
from supportctl.package.manifest import Package

STATE_VERSION = 1
STATUSES = ("overdue", "due-soon", "open", "invalid", "duplicate", "skipped", "not-a-registration", "done")
DUE_SOON_SECONDS = 3600.0
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 25 << 20
    max_parts: int = 100
    max_depth: int = 10


@dataclass(frozen=True)
class CheckedForm:
    """What the validator said about one PDF (cached by its sha256)."""

    ok: bool
    values: dict[str, Any]
    findings: tuple[dict[str, Any], ...]
    activation_class: str | None

    @staticmethod
    def from_report(report: Any) -> CheckedForm:
        d = report.to_dict() if hasattr(report, "to_dict") else dict(report)
        return CheckedForm(
            ok=bool(d.get("ok")),
            values=dict(d.get("values") or {}),
            findings=tuple(dict(f) for f in d.get("findings") or ()),
            activation_class=d.get("activation_class"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "values": self.values,
            "findings": list(self.findings),
            "activation_class": self.activation_class,
        }


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
    kind: str  # "pdf" | "no-pdf" | "zip" | "bad-attachment" | "skipped" | "unchecked"
    reason: str | None = None
    attachment: str | None = None
    sha256: str | None = None
    # The file it was read from, as it was then: an unchanged file need not be read again.
    size: int | None = None
    mtime: float | None = None

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Facts:
        known: dict[str, Any] = {k: d.get(k) for k in Facts.__dataclass_fields__}
        return Facts(**known)


@dataclass(frozen=True)
class Item:
    facts: Facts
    status: str
    reasons: tuple[str, ...] = ()
    activation_class: str | None = None
    due: datetime | None = None
    clock_starts: datetime | None = None
    form: CheckedForm | None = None
    done: dict[str, Any] | None = None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        f = self.facts
        d: dict[str, Any] = {
            "id": f.id,
            "key": f.key,
            "status": self.status,
            "sender": f.sender,
            "subject": f.subject,
            "received": f.received,
            "received_from": f.received_from,
            "attachment": f.attachment,
            "sha256": f.sha256,
            "class": self.activation_class,
            "clock_starts": self.clock_starts.isoformat() if self.clock_starts else None,
            "due": self.due.isoformat() if self.due else None,
            "seconds_until_due": round(self.due.timestamp() - now.timestamp(), 3) if self.due else None,
            "reasons": list(self.reasons),
            "findings": list(self.form.findings) if self.form else [],
            "company": (self.form.values.get("company") if self.form else None),
        }
        if self.done:
            d["done"] = self.done
        return d


@dataclass(frozen=True)
class Triage:
    source: str
    items: tuple[Item, ...]
    stats: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- state


def inbox_dir() -> Path:
    return paths.state_subdir("inbox")


def state_path(source_key: str) -> Path:
    return inbox_dir() / source_hash(source_key) / "state.json"


def load_state(source_key: str) -> dict[str, Any]:
    p = state_path(source_key)
    try:
        data = json.loads(p.read_text("utf-8"))
        if isinstance(data, dict) and data.get("version") == STATE_VERSION:
            return data
    except (OSError, ValueError):
        pass  # missing or damaged: start afresh (it is a cache plus a watermark)
    return {"version": STATE_VERSION, "source": source_key, "messages": {}, "forms": {}}


def save_state(source_key: str, state: dict[str, Any]) -> None:
    atomic_write(state_path(source_key), json.dumps(state, ensure_ascii=False).encode("utf-8"), 0o600)


def load_done() -> dict[str, Any]:
    try:
        data = json.loads((inbox_dir() / "done.json").read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def mark_done(message_id: str, record: dict[str, Any]) -> None:
    done = load_done()
    done[message_id] = record
    atomic_write(inbox_dir() / "done.json", json.dumps(done, ensure_ascii=False, indent=1).encode("utf-8"), 0o600)


# ---------------------------------------------------------------- reading one message


def clean(text: str) -> str:
    """Header text safe for a terminal: no control characters, no bidi overrides, one line."""
    return _CONTROL_RE.sub("?", text.replace("\r", " ").replace("\n", " ").replace("\t", " ")).strip()


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    try:
        from email.header import decode_header, make_header

        return clean(str(make_header(decode_header(str(value)))))
    except Exception:
        return clean(str(value))


def _received_time(msg: Message, arrival: float | None) -> tuple[datetime | None, str]:
    from email.utils import parsedate_to_datetime

    for raw in msg.get_all("Received") or []:
        text = str(raw)
        if ";" not in text:
            continue
        try:
            dt = parsedate_to_datetime(text.rsplit(";", 1)[1].strip())
        except (TypeError, ValueError, IndexError):
            continue
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)), "received"
    date = msg.get("Date")
    if date:
        try:
            dt = parsedate_to_datetime(str(date))
            return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)), "date"
        except (TypeError, ValueError, IndexError):
            pass
    if arrival is not None:
        return datetime.fromtimestamp(arrival, timezone.utc), "arrival"
    return None, "unknown"


def message_key(msg: Message, head: bytes) -> str:
    mid = str(msg.get("Message-ID") or "").strip()
    basis = mid.encode("utf-8", "replace") if mid else head
    return hashlib.sha256(basis).hexdigest()[:12]


def _parse_head(head: bytes) -> Message:
    from email.parser import BytesHeaderParser

    return BytesHeaderParser().parsebytes(head)


def examine(env: Envelope, limits: Limits, want_body: bool = True) -> tuple[Facts, bytes | None]:
    """The facts of one message and, when it carries one, the registration PDF's bytes."""
    from email.utils import getaddresses

    msg = _parse_head(env.head)
    received, received_from = _received_time(msg, env.arrival)
    try:
        addrs = getaddresses([str(msg.get("From") or "")])
    except Exception:
        addrs = []
    address = clean(addrs[0][1]) if addrs else ""
    reply_to = None
    if msg.get("Reply-To"):
        try:
            rt = getaddresses([str(msg.get("Reply-To"))])
            reply_to = clean(rt[0][1]) if rt and rt[0][1] else None
        except Exception:
            reply_to = None
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
    }
    if env.size > limits.max_message_bytes:
        reason = _("message is {size} bytes, more than inbox.max_message_bytes ({limit})").format(
            size=env.size, limit=limits.max_message_bytes
        )
        return Facts(**base, kind="skipped", reason=reason), None
    ctype = msg.get_content_maintype() if msg.get("Content-Type") else "text"
    if ctype == "text":
        return Facts(**base, kind="no-pdf"), None
    if not want_body:
        return Facts(**base, kind="unchecked"), None
    try:
        data = env.read()
    except TooLarge:
        too_big = _("message is larger than inbox.max_message_bytes ({limit})").format(limit=limits.max_message_bytes)
        return Facts(**base, kind="skipped", reason=too_big), None
    kind, why, name, pdf = _find_pdf(data, limits)
    sha = hashlib.sha256(pdf).hexdigest() if pdf is not None else None
    return Facts(**base, kind=kind, reason=why, attachment=name, sha256=sha), pdf


def _find_pdf(data: bytes, limits: Limits) -> tuple[str, str | None, str | None, bytes | None]:
    """(kind, reason, attachment name, PDF bytes) from a whole message, within the limits."""
    from email.parser import BytesParser

    try:
        msg = BytesParser().parsebytes(data)
    except (RecursionError, MemoryError):
        return "skipped", _("malformed MIME: nested too deeply to read"), None, None
    except Exception as exc:
        return "skipped", _("malformed MIME: {reason}").format(reason=clean(str(exc))[:200]), None, None
    parts = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    bad: str | None = None
    bad_name: str | None = None
    bad_kind = "bad-attachment"
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_parts:
            return (
                "skipped",
                _("more than inbox.max_parts ({limit}) MIME parts").format(limit=limits.max_parts),
                None,
                None,
            )
        if depth > limits.max_depth:
            return (
                "skipped",
                _("MIME parts nested deeper than inbox.max_depth ({limit})").format(limit=limits.max_depth),
                None,
                None,
            )
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload) if isinstance(p, Message))
            continue
        try:
            raw_name = part.get_filename()
        except Exception:
            raw_name = None
        name = clean(raw_name) if isinstance(raw_name, str) else None
        ctype = part.get_content_type()
        lower = (name or "").lower()
        if not (
            ctype in ("application/pdf", "application/zip", "application/octet-stream")
            or lower.endswith((".pdf", ".zip"))
        ):
            continue
        try:
            body = part.get_payload(decode=True)
        except Exception:
            body = None
        if not isinstance(body, bytes):
            continue
        if b"%PDF-" in body[:1024]:
            return "pdf", None, name, body
        if body.startswith(b"PK\x03\x04"):
            bad, bad_name = _("attachment {name} is a zip archive, not the PDF form").format(name=name or "?"), name
            bad_kind = "zip"
        elif ctype == "application/pdf" or lower.endswith(".pdf"):
            bad, bad_name = _("attachment {name} claims to be a PDF but is not one").format(name=name or "?"), name
            bad_kind = "bad-attachment"
    if bad:
        return bad_kind, bad, bad_name, None
    return "no-pdf", None, None, None


# ---------------------------------------------------------------- triage


def _looks_like_registration(pkg: Package, subject: str) -> bool:
    prefix = pkg.process.subject.split("{", 1)[0].strip().lower()
    return bool(prefix) and subject.lower().startswith(prefix)


def _form_key(pkg: Package, sha: str) -> str:
    return f"{pkg.name}@{pkg.version}/{sha}"


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
) -> Triage:
    """Read every (new) message of `source`, validate registration PDFs (cached), and give each a status."""
    limits = limits or Limits()
    check = validator or _validate
    state: dict[str, Any] = (
        load_state(source.key) if persist else {"version": STATE_VERSION, "messages": {}, "forms": {}}
    )
    forms: dict[str, Any] = state.setdefault("forms", {})
    stats: dict[str, int] = {"messages": 0, "validated": 0, "cached": 0, "skipped": 0}
    facts: dict[str, Facts] = {}
    if source.incremental:
        for d in state.get("messages", {}).values():
            try:
                f = Facts.from_dict(d)
            except TypeError:
                continue
            facts[f.id] = f
    new_ids: set[str] = set()
    known = _unchanged_files(state, source, limits) if validate else {}
    state["limits"] = [limits.max_message_bytes, limits.max_parts, limits.max_depth]
    for env in source.messages():
        stats["messages"] += 1
        before = known.get((env.key, env.size, env.arrival)) if env.arrival is not None else None
        if before is not None and before.id not in new_ids and _form_key(pkg, before.sha256 or "") in forms:
            # The same file as last run, its form already judged: skip reading and parsing its body.
            stats["cached"] += 1
            new_ids.add(before.id)
            facts[before.id] = before
            continue
        if before is not None and before.id not in new_ids and before.sha256 is None and before.kind != "unchecked":
            new_ids.add(before.id)
            facts[before.id] = before
            continue
        f, pdf = examine(env, limits, want_body=validate)
        if f.kind == "skipped":
            stats["skipped"] += 1
        fid, n = f.id, 1
        while fid in new_ids:  # the same Message-ID twice in one mailbox: keep both
            n += 1
            fid = f"{f.id}-{n}"
        if fid != f.id:
            f = Facts(**{**asdict(f), "id": fid})
        new_ids.add(fid)
        facts[fid] = f
        if pdf is not None and f.sha256:
            key = _form_key(pkg, f.sha256)
            if key in forms:
                stats["cached"] += 1
            else:
                forms[key] = _check(check, pkg, pdf).to_dict()
                stats["validated"] += 1
    if source.incremental:
        present = getattr(source, "present", None)
        if getattr(source, "reset", False):
            facts = {k: v for k, v in facts.items() if k in new_ids}
        elif present is not None:
            facts = {k: v for k, v in facts.items() if _uid(v.key) in present}
        wm = getattr(source, "watermark", None)
        if wm is not None:
            state["imap"] = {"uidvalidity": wm.uidvalidity, "last_uid": wm.last_uid}
    state["messages"] = {k: asdict(v) for k, v in facts.items()}
    if persist:
        save_state(source.key, state)
    done = load_done()
    items = assess(list(facts.values()), pkg, engine, now, forms, done)
    return Triage(source.key, tuple(items), stats)


def _unchanged_files(state: dict[str, Any], source: Source, limits: Limits) -> dict[tuple[str, int, float], Facts]:
    """What the last run read from each file, by (key, size, mtime); only for files (Maildir, .eml, mbox).

    A message whose file has the same name, size and modification time is the same message. Nothing is
    reused when the limits changed (they decide what is skipped) or for stdin/IMAP.
    """
    if source.incremental or state.get("limits") != [limits.max_message_bytes, limits.max_parts, limits.max_depth]:
        return {}
    known: dict[tuple[str, int, float], Facts] = {}
    for d in state.get("messages", {}).values():
        if isinstance(d, dict) and d.get("size") is not None and d.get("mtime") is not None:
            try:
                f = Facts.from_dict(d)
            except TypeError:
                continue
            known[(f.key, int(d["size"]), float(d["mtime"]))] = f
    return known


def _uid(key: str) -> int:
    try:
        return int(key.split(":", 1)[1])
    except (IndexError, ValueError):
        return -1


def _check(check: Validator, pkg: Package, pdf: bytes) -> CheckedForm:
    try:
        return CheckedForm.from_report(check(pkg, pdf))
    except InvalidInputError as exc:
        return CheckedForm(
            False, {}, ({"field": None, "code": "unreadable", "message": exc.message, "suggestion": None},), None
        )


def assess(
    facts: Iterable[Facts], pkg: Package, engine: Any, now: datetime, forms: dict[str, Any], done: dict[str, Any]
) -> list[Item]:
    """Statuses at `now`, sorted by due time (undated last)."""
    ordered = sorted(facts, key=lambda f: (f.received or "9999", f.key))
    first: dict[str, str] = {}
    items = []
    for f in ordered:
        items.append(_assess_one(f, pkg, engine, now, forms, done, first))
    big = datetime.max.replace(tzinfo=timezone.utc)
    rank = {s: i for i, s in enumerate(STATUSES)}
    items.sort(key=lambda i: (i.due or big, rank.get(i.status, 99), i.facts.received or "", i.facts.key))
    return items


def _assess_one(
    f: Facts,
    pkg: Package,
    engine: Any,
    now: datetime,
    forms: dict[str, Any],
    done: dict[str, Any],
    first: dict[str, str],
) -> Item:
    mark = done.get(f.id)
    form = None
    if f.sha256 and _form_key(pkg, f.sha256) in forms:
        form = CheckedForm.from_report(forms[_form_key(pkg, f.sha256)])
    if mark:
        return Item(f, "done", form=form, done=mark)
    if f.kind == "skipped":
        return Item(f, "skipped", (f.reason or "",))
    if f.kind == "unchecked":
        return Item(f, "unchecked")
    if f.kind == "bad-attachment":  # claims to be a PDF and is not one
        return Item(f, "invalid", (f.reason or "",))
    if f.kind in ("no-pdf", "zip"):
        if _looks_like_registration(pkg, f.subject):
            return Item(f, "invalid", (f.reason or _("no registration PDF attached"),))
        return Item(f, "not-a-registration", (f.reason,) if f.reason else ())
    assert f.sha256 is not None
    original = first.setdefault(f.sha256, f.id)
    if original != f.id:
        return Item(f, "duplicate", (_("the same form as message {id}").format(id=original),), form=form)
    if form is None:
        return Item(f, "unchecked", form=form)
    if not form.ok:
        return Item(f, "invalid", tuple(finding_line(x, None) for x in form.findings), form=form)
    cls = form.activation_class
    if cls not in engine.classes:
        return Item(f, "invalid", (_("the form names no known activation class"),), form=form)
    if f.received is None:
        return Item(f, "invalid", (_("the message has no readable received time"),), activation_class=cls, form=form)
    r = engine.compute(datetime.fromisoformat(f.received), cls)
    due_ts, now_ts = r.due.timestamp(), now.timestamp()
    if now_ts >= due_ts:
        status = "overdue"
    elif engine.calendar.business_seconds_between(now_ts, due_ts) < DUE_SOON_SECONDS:
        status = "due-soon"
    else:
        status = "open"
    return Item(f, status, (), cls, r.due, r.clock_starts, form)


_FINDING = {
    "de": ("Feld {field}: {message}", "Feld {field}: {message}; Vorschlag: {suggestion}"),
    "en": ("field {field}: {message}", "field {field}: {message}; suggestion: {suggestion}"),
}


def finding_line(finding: dict[str, Any], lang: str | None) -> str:
    """One finding in plain words: `field last_name: contains U+0416 …; suggestion: …`."""
    if lang is None:
        plain, with_hint = _("field {field}: {message}"), _("field {field}: {message}; suggestion: {suggestion}")
    else:
        plain, with_hint = _FINDING.get(lang, _FINDING["en"])
    fld = finding.get("field") or "-"
    message = str(finding.get("message") or finding.get("code") or "")
    if finding.get("field") is None:
        return message
    if finding.get("suggestion"):
        return with_hint.format(field=fld, message=message, suggestion=finding["suggestion"])
    return plain.format(field=fld, message=message)
