"""The durable outbox: nothing is lost, nothing is sent twice.

Layout under `$XDG_STATE_HOME/supportctl/outbox/`:

    <id>/message.eml   the exact bytes that are sent
    <id>/state.json    the state (queued, sent, deferred, failed, needs-credentials, uncertain) and history
    <id>/lock          flock'ed while a process sends or changes this message
    .keys/<hash>       dedupe index: same form (PDF sha256) to the same address -> message id
    .lock              flock'ed while enqueueing/purging (dedupe check + create is one step)

Protocol per message: the entry directory appears atomically (written in a temp dir, fsync'ed, renamed)
BEFORE any network I/O. Right before the final "." of DATA the state gets `phase = "dot-sent"` (fsync'ed).
A later run that finds "dot-sent" on a message nobody holds the lock of knows the process died between
the "." and the state write: the server may have the message, so it becomes `uncertain`, never resent
automatically. A crash anywhere before the "." leaves `queued`/`deferred`: safe to send again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from supportctl import paths
from supportctl.errors import ExitCode, SupportctlError, UsageError
from supportctl.fsutil import atomic_write, flock, fsync_dir, make_dirs
from supportctl.i18n import N_, _

# The codes are stored and in --json; shown to people they are translated (the English label is the code).
STATES = (
    N_("queued"),
    N_("sent"),
    N_("deferred"),
    N_("failed"),
    N_("needs-credentials"),
    N_("uncertain"),
    N_("superseded"),
)
# Not sent yet, and sendable by `outbox retry`/`flush`: a second copy of the same form must not join them.
PENDING = ("queued", "deferred", "needs-credentials")
GIVE_UP_AFTER = timedelta(days=5)
BACKOFF_FIRST = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
MAX_HISTORY = 50
FAILPOINT_ENV = "SUPPORTCTL_FAILPOINT"


class DuplicateSubmission(UsageError, code="duplicate"):
    """The same form to the same address was queued before."""


class UnknownMessage(SupportctlError, exit_code=ExitCode.USAGE, code="unknown-message"):
    """No outbox message has this id."""


def failpoint(name: str, backend: str | None = None) -> None:
    """Crash testing: `SUPPORTCTL_FAILPOINT=<name>` ends this process at that step, at once, like a power cut.

    POSIX: SIGKILL. Windows has no SIGKILL: `os._exit` ends the process without running `finally` blocks,
    atexit handlers or flushing Python's buffers, which is what the crash tests need.
    """
    if os.environ.get(FAILPOINT_ENV) != name:
        return
    chosen = backend or ("windows" if sys.platform == "win32" else "posix")
    if chosen == "posix" and sys.platform != "win32":
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(137)  # the exit status a SIGKILLed process reports in a shell


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def outbox_dir() -> Path:
    return paths.state_subdir("outbox")


def state_label(state: str) -> str:
    return _(state) if state in STATES else state


# The one table from a message's state to the exit status of the run that tried to send it.
STATE_EXIT = {
    "sent": ExitCode.OK,
    "deferred": ExitCode.QUEUED,
    "queued": ExitCode.QUEUED,
    "failed": ExitCode.MAIL_REFUSED,
    "needs-credentials": ExitCode.CONFIG,
    "uncertain": ExitCode.UNCERTAIN,
}
# Worst first: the exit status of a run that sent several messages.
EXIT_ORDER = (ExitCode.UNCERTAIN, ExitCode.MAIL_REFUSED, ExitCode.CONFIG, ExitCode.TRANSFER, ExitCode.QUEUED)
# A deferral for one of these reasons is a transfer problem (exit 5), not the server's "try later" (exit 7).
_TRANSFER_KINDS = ("network", "timeout", "tls", "starttls")


@dataclass(frozen=True)
class Entry:
    id: str
    state: str
    created: str
    updated: str
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    dedupe_key: str | None = None
    attempts: int = 0
    next_attempt: str | None = None
    last_code: int | None = None
    last_text: str | None = None
    queue_id: str | None = None
    refused: dict[str, list[Any]] = field(default_factory=dict)
    phase: str | None = None  # "dot-sent" while the final "." may be on the wire
    # When the server answered 250 to the final "." (what `status` counts activation from); None before that.
    accepted_at: str | None = None
    history: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["recipients"] = list(self.recipients)
        d["history"] = list(self.history)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["recipients"] = tuple(known.get("recipients", ()))
        known["history"] = tuple(known.get("history", ()))
        return cls(**known)

    @property
    def path(self) -> Path:
        return outbox_dir() / self.id

    def message_bytes(self) -> bytes:
        return (self.path / "message.eml").read_bytes()


@dataclass(frozen=True)
class SendResult:
    id: str
    state: str
    code: int | None = None
    text: str = ""
    kind: str = "reply"
    queue_id: str | None = None
    refused: dict[str, list[Any]] = field(default_factory=dict)
    skipped: str | None = None  # why it was not tried: busy | not-due | state

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def exit_code(self) -> ExitCode:
        """The exit status this outcome gives the command that sent (or named) the message."""
        if self.skipped == "state":
            # A message named on the command line that is not sendable: its state is the answer.
            return STATE_EXIT.get(self.state, ExitCode.OK) if self.state != "queued" else ExitCode.OK
        if self.skipped == "expired":
            return ExitCode.MAIL_REFUSED
        if self.skipped:
            return ExitCode.OK
        if self.state == "deferred" and self.kind in _TRANSFER_KINDS:
            return ExitCode.TRANSFER
        return STATE_EXIT.get(self.state, ExitCode.ERROR)

    def line(self) -> str:
        """This outcome in words: `<id>: sent (250 ok)`, `<id>: refused permanently: …`."""
        if self.skipped == "busy":
            return _("{id}: skipped, another supportctl run is sending it").format(id=self.id)
        if self.skipped == "expired":
            return _("{id}: failed, given up after 5 days").format(id=self.id)
        if self.skipped:
            return _("{id}: not sent, it is {state} (see `supportctl outbox show {id}`)").format(
                id=self.id, state=state_label(self.state)
            )
        lines = {
            "sent": _("{id}: sent ({text})"),
            "deferred": _("{id}: not sent, will be retried: {text}"),
            "failed": _("{id}: refused permanently: {text}"),
            "needs-credentials": _("{id}: login failed or no credentials: {text}"),
            "uncertain": _("{id}: UNCERTAIN whether it was delivered: {text}"),
        }
        code = f"{self.code} " if self.code else ""
        line = lines.get(self.state, "{id}: {text}").format(id=self.id, text=(code + self.text).strip())
        for addr, (rc, rt) in sorted(self.refused.items()):
            line += "\n  " + _("recipient {addr} refused: {code} {text}").format(addr=addr, code=rc, text=rt)
        return line

    def hint(self, failed_hint: str | None = None) -> str | None:
        """What to do about the message as this outcome left it (None: nothing); `failed_hint` replaces the
        hint of a refused message (a reply is corrected and sent again differently from a form)."""
        if failed_hint and self.state == "failed":
            return failed_hint
        hints = {
            "deferred": _("it stays in the outbox; `supportctl outbox flush` (cron) or `supportctl outbox retry {id}`"),
            "needs-credentials": _("fix the login (`supportctl config smtp`), then `supportctl outbox retry {id}`"),
            "uncertain": _(
                "check the recipient's mailbox or the sent folder; then `supportctl outbox resolve {id} "
                "--delivered` or `--resend`"
            ),
            "failed": _("read the server's reason; correct and `supportctl submit --again`"),
        }
        h = hints.get(self.state)
        return h.format(id=self.id) if h else None

    def errors(self, failed_hint: str | None = None) -> list[dict[str, Any]]:
        """The --json errors of a command that sent this one message: none once it is sent."""
        if self.exit_code == ExitCode.OK:
            return []
        hint = self.hint(failed_hint)
        return [{"code": self.state, "exit_code": int(self.exit_code), "message": self.text, "hint": hint}]

    def lines(self, failed_hint: str | None = None, next_step: str | None = None) -> list[str]:
        """What the person is told of sending this one message: the outcome, what to do, and `next_step`
        once it was sent now."""
        sent_before = self.skipped == "state" and self.state == "sent"
        lines = [_("{id}: sent before").format(id=self.id) if sent_before else self.line()]
        hint = self.hint(failed_hint)
        if hint:
            lines.append("  " + hint)
        if next_step and self.state == "sent" and not self.skipped:
            lines.append(next_step)
        return lines


def worst_exit(results: list[SendResult]) -> ExitCode:
    """The exit status of a run that tried several messages: the worst of theirs."""
    codes = {r.exit_code for r in results}
    return next((code for code in EXIT_ORDER if code in codes), ExitCode.OK)


@dataclass(frozen=True)
class SendRun:
    """What `outbox flush` or `outbox retry` did: each message's outcome, and the messages left `uncertain`
    from earlier runs (named when the run sends whatever waits: cron must notice them)."""

    results: list[SendResult]
    uncertain: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """The worst outcome's; 9 (uncertain) when all went well but an uncertain message waits."""
        code = worst_exit(self.results)
        return ExitCode.UNCERTAIN if self.uncertain and code == ExitCode.OK else code

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "uncertain": self.uncertain}

    def errors(self) -> list[dict[str, Any]]:
        """The --json errors: each message not sent now, then each uncertain one waiting (with its `id`)."""
        errors = [{**e, "id": r.id} for r in self.results for e in r.errors()]
        return errors + [
            {"code": "uncertain", "exit_code": int(ExitCode.UNCERTAIN), "message": _uncertain(i), "hint": None, "id": i}
            for i in self.uncertain
        ]

    def lines(self, json_output: bool = False) -> list[str]:
        """One line per message (with --json the data carries them), then what to do about each uncertain one."""
        outcomes = [] if json_output else [r.line() for r in self.results]
        return [*outcomes, *map(_uncertain, self.uncertain)]


def _uncertain(entry_id: str) -> str:
    text = _(
        "message {id} is uncertain (it may have been delivered): decide with "
        "`supportctl outbox resolve {id} --delivered` or `--resend`"
    )
    return text.format(id=entry_id)


def send_run(results: list[SendResult], waiting: bool, known: list[Entry] | None = None) -> SendRun:
    """The run of `results`; with `waiting` (flush, retry --all) naming the messages left uncertain too (from
    `known`, the entries as they are now, when the caller has just read them)."""
    if not waiting:
        return SendRun(results)
    return SendRun(results, [e.id for e in (entries() if known is None else known) if e.state == "uncertain"])


# ---------------------------------------------------------------- files and locks


def lock_path() -> Path:
    """The outbox-wide lock (enqueue, purge; the desk's done markers take it too)."""
    return outbox_dir() / ".lock"


def _write_state(entry: Entry) -> None:
    data = json.dumps(entry.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")
    atomic_write(entry.path / "state.json", data, 0o600)


def ids(states: tuple[str, ...] | None = None) -> list[str]:
    """The ids of the messages (in `states`), newest first; read only (shell completion asks on every Tab)."""
    try:
        dirs = [d for d in outbox_dir().iterdir() if d.is_dir() and not d.name.startswith(".")]
    except OSError:
        return []
    if states is not None:
        dirs = [d for d in dirs if (e := _read_state(d)) is not None and e.state in states]
    return sorted((d.name for d in dirs), reverse=True)


def _read_state(directory: Path) -> Entry | None:
    try:
        return Entry.from_dict(json.loads((directory / "state.json").read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _new_id(now: datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def _key_file(dedupe_key: str) -> Path:
    from supportctl.fsutil import private_dir

    return private_dir(outbox_dir() / ".keys", create=False) / hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()


def make_dedupe_key(pdf_sha256: str, address: str) -> str:
    return f"{pdf_sha256}:{address.strip().lower()}"


# ---------------------------------------------------------------- public API


def enqueue(msg: EmailMessage, dedupe_key: str | None = None, again: bool = False) -> Entry:
    """Store the message durably as `queued` (before any network I/O) and return its entry.

    With a `dedupe_key` (see `make_dedupe_key()`), an earlier message with the same key is refused unless `again`.
    """
    from email import policy
    from email.utils import getaddresses

    now = now_utc()
    data = msg.as_bytes(policy=policy.SMTP)
    sender = getaddresses([str(msg.get("From", ""))])[0][1]
    recipients = tuple(
        addr for _n, addr in getaddresses([str(v) for k in ("To", "Cc") for v in msg.get_all(k, [])]) if addr
    )
    root = outbox_dir()
    make_dirs(root)
    with flock(lock_path()):
        entry_id = _new_id(now)
        with contextlib.ExitStack() as held:
            if dedupe_key is not None:
                earlier = _earlier(dedupe_key)
                if earlier is not None:
                    _check_duplicate(earlier, again)
                    if again and earlier.state in PENDING:
                        # The new copy replaces the pending one, so `outbox retry --all` cannot send both.
                        held.enter_context(_supersede(earlier, entry_id, now))
            entry = Entry(
                id=entry_id,
                state="queued",
                created=now.isoformat(),
                updated=now.isoformat(),
                message_id=str(msg.get("Message-ID", "")),
                sender=sender,
                recipients=recipients,
                subject=str(msg.get("Subject", "")),
                dedupe_key=dedupe_key,
                history=({"at": now.isoformat(), "state": "queued"},),
            )
            tmp = root / f".tmp-{entry_id}"
            tmp.mkdir(mode=0o700)
            atomic_write(tmp / "message.eml", data, 0o600)
            atomic_write(tmp / "state.json", json.dumps(entry.to_dict(), indent=1).encode("utf-8"), 0o600)
            if dedupe_key is not None:
                # The key first: a crash before the rename leaves a key to nothing (harmless), never a message
                # without its key (which would let the same form be sent twice).
                atomic_write(_key_file(dedupe_key), entry_id.encode("ascii"), 0o600)
            os.rename(tmp, root / entry_id)
            fsync_dir(root)
    failpoint("after-queue-write")
    return entry


def _check_duplicate(earlier: Entry, again: bool) -> None:
    """Refuse a second copy of a form: point to what to do with the first one."""
    when = _short_time(earlier.created)
    if earlier.state in PENDING:
        if again:
            return
        raise DuplicateSubmission(
            _("this form is already in the outbox, not sent yet: message {id} ({state}, queued {when})").format(
                id=earlier.id, state=state_label(earlier.state), when=when
            ),
            _("`supportctl outbox retry {id}` sends it now; --again replaces it with a new copy of this form").format(
                id=earlier.id
            ),
        )
    if earlier.state == "uncertain" and not again:
        raise DuplicateSubmission(
            _("this form was handed to the server and may have arrived: message {id} ({state}, {when})").format(
                id=earlier.id, state=state_label(earlier.state), when=when
            ),
            _(
                "check the recipient's mailbox or the sent folder, then `supportctl outbox resolve {id} "
                "--delivered` or `--resend`"
            ).format(id=earlier.id),
        )
    if not again:
        purged = not (outbox_dir() / earlier.id).is_dir()
        hint = (
            _("add --again to send it once more")
            if purged
            else _("see `supportctl outbox show {id}`; add --again to send it once more").format(id=earlier.id)
        )
        raise DuplicateSubmission(
            _("this form was already submitted to that address: message {id} ({state}, {when})").format(
                id=earlier.id, state=state_label(earlier.state), when=when
            ),
            hint,
        )


@contextlib.contextmanager
def _supersede(earlier: Entry, by: str, now: datetime) -> Iterator[None]:
    """Mark a pending message `superseded` and hold its lock until the replacement is stored."""
    with flock(earlier.path / "lock", blocking=False) as got:
        if not got:
            raise SupportctlError(
                _("message {id} (the same form) is being sent right now; try again in a moment").format(id=earlier.id)
            )
        fresh = _read_state(earlier.path) or earlier
        if fresh.state in PENDING:
            text = _("replaced by {id} (submit --again); never sent").format(id=by)
            _write_state(_transition(fresh, "superseded", None, text, now, next_attempt=None))
        yield


def _short_time(iso: str) -> str:
    """An outbox time for a message, in the person's zone and language (as `status` shows times)."""
    from supportctl.output import format_iso

    return format_iso(iso, None)


def _earlier(key: str) -> Entry | None:
    try:
        text = _key_file(key).read_text("utf-8").strip()
    except OSError:
        return None
    if text.startswith("{"):
        # A purged message's record: its files are gone, the duplicate protection stays.
        try:
            rec = json.loads(text)
            return Entry(
                id=str(rec["id"]),
                state=str(rec["state"]),
                created=str(rec["created"]),
                updated=str(rec.get("updated", rec["created"])),
                message_id="",
                sender="",
                recipients=(),
                subject="",
                dedupe_key=key,
            )
        except (ValueError, KeyError, TypeError):
            return None
    return _read_state(outbox_dir() / text)


def entries() -> list[Entry]:
    """All messages, oldest first, with crash leftovers shown as `uncertain`."""
    root = outbox_dir()
    if not root.is_dir():
        return []
    found = []
    for d in sorted(root.iterdir()):
        if d.name.startswith(".") or not d.is_dir():
            continue
        e = _read_state(d)
        if e is None:
            continue
        if e.phase == "dot-sent":
            e = _recover(e)
        found.append(e)
    return found


def get(entry_id: str) -> Entry:
    if "/" in entry_id or entry_id.startswith("."):
        raise UnknownMessage(_("no message {id} in the outbox").format(id=entry_id))
    e = _read_state(outbox_dir() / entry_id)
    if e is None:
        matches = [x for x in entries() if x.id.startswith(entry_id)] if entry_id else []
        if len(matches) != 1:
            raise UnknownMessage(
                _("no message {id} in the outbox").format(id=entry_id), _("`supportctl outbox list` shows them")
            )
        e = matches[0]
    if e.phase == "dot-sent":
        e = _recover(e)
    return e


def table(items: list[Entry], tty: bool) -> tuple[list[str], list[list[str]]]:
    """`outbox list`'s columns and rows; on a terminal the server's last reply is cut to fit, in a pipe kept whole."""
    from supportctl import output as out

    width = 80 if tty else None  # the table fits a width; tab-separated data is kept whole
    rows = [
        [
            e.id,
            out.token(e.state, state_label(e.state)),
            str(e.attempts),
            out.format_iso(e.next_attempt, None),
            ", ".join(e.recipients),
            e.subject,
            f"{e.last_code or ''} {e.last_text or ''}".strip()[:width],
        ]
        for e in items
    ]
    columns = [_("ID"), _("State"), _("Attempts"), _("Next try"), _("To"), _("Subject"), _("Last reply")]
    return columns, rows


def describe(e: Entry) -> str:
    """`outbox show` as text: state, headers, every attempt and where the message file is."""
    from supportctl import output as out

    lines = [
        _("ID: {id}").format(id=e.id),
        _("State: {state}").format(state=state_label(e.state)),
        f"Message-ID: {e.message_id}",
        f"From: {e.sender}",
        f"To: {', '.join(e.recipients)}",
        f"Subject: {e.subject}",
        _("Queued: {when}").format(when=out.format_iso(e.created, None)),
        _("Attempts: {n}").format(n=e.attempts),
    ]
    if e.queue_id:
        lines.append(_("Server queue id: {qid}").format(qid=e.queue_id))
    if e.next_attempt and e.state == "deferred":
        lines.append(_("Next try: {when}").format(when=out.format_iso(e.next_attempt, None)))
    for addr, (rc, rt) in sorted(e.refused.items()):
        lines.append(_("Recipient {addr} refused: {code} {text}").format(addr=addr, code=rc, text=rt))
    lines.append(_("History:"))
    for h in e.history:
        state = state_label(str(h.get("state")))
        at = out.format_iso(h.get("at"), None)
        lines.append(f"  {at}  {state}  {h.get('code') or ''} {h.get('text') or ''}".rstrip())
    lines.append(_("Message file: {path}").format(path=e.path / "message.eml"))
    return "\n".join(lines)


def _recover(e: Entry) -> Entry:
    """A "dot-sent" state whose lock is free: the sender died after the ".", so the message is uncertain."""
    with flock(e.path / "lock", blocking=False) as got:
        if not got:
            return e  # someone is sending it right now
        fresh = _read_state(e.path) or e
        if fresh.phase != "dot-sent":
            return fresh
        text = _("the sending process stopped after the message was handed over; it may have been delivered")
        fixed = _transition(fresh, "uncertain", None, text, now_utc())
        _write_state(fixed)
        return fixed


def _transition(e: Entry, state: str, code: int | None, text: str, now: datetime, **changes: Any) -> Entry:
    hist = (*e.history, {"at": now.isoformat(), "state": state, "code": code, "text": text})[-MAX_HISTORY:]
    return replace(
        e, state=state, updated=now.isoformat(), last_code=code, last_text=text, phase=None, history=hist, **changes
    )


def backoff(attempts: int) -> timedelta:
    delay: timedelta = BACKOFF_FIRST * (2 ** min(max(0, attempts - 1), 20))
    return min(delay, BACKOFF_MAX)


def _eligible(e: Entry, mode: str, now: datetime) -> str | None:
    """None if `e` should be tried now, else why not."""
    if mode == "flush":
        if e.state == "queued":
            return None
        if e.state == "deferred":
            due = e.next_attempt is None or datetime.fromisoformat(e.next_attempt) <= now
            return None if due else "not-due"
        return "state"
    if e.state in ("queued", "deferred", "needs-credentials"):
        return None
    return "state"


def send(
    ids: list[str] | None,
    session: Any,
    mode: str = "retry",
    now: Callable[[], datetime] = now_utc,
) -> list[SendResult]:
    """Send the given messages (None: all) over `session` (an `smtp.Session`); returns one result each.

    `mode`: "retry" (the user asks: now, whatever the backoff), "flush" (cron: only what is due),
    "submit" (the message just queued). `uncertain`, `failed` and `sent` messages are never sent.
    """
    if ids is None:
        targets = [e.id for e in entries()]
    else:
        targets = [get(i).id for i in ids]
    results = []
    for entry_id in targets:
        results.append(_send_one(entry_id, session, mode, now))
    return results


def _send_one(entry_id: str, session: Any, mode: str, now: Callable[[], datetime]) -> SendResult:
    path = outbox_dir() / entry_id
    with flock(path / "lock", blocking=False) as got:
        e = _read_state(path)
        if e is None:
            return SendResult(entry_id, "missing", skipped="missing")
        if not got:
            return SendResult(entry_id, e.state, skipped="busy")
        if e.phase == "dot-sent":
            e = _transition(
                e,
                "uncertain",
                None,
                _("the sending process stopped after the message was handed over; it may have been delivered"),
                now(),
            )
            _write_state(e)
        t = now()
        if mode == "flush" and e.state == "deferred" and datetime.fromisoformat(e.created) + GIVE_UP_AFTER <= t:
            e = _transition(e, "failed", e.last_code, _("given up after 5 days: {text}").format(text=e.last_text), t)
            _write_state(e)
            return SendResult(entry_id, e.state, e.last_code, e.last_text or "", skipped="expired")
        why = _eligible(e, mode, t)
        if why is not None:
            return SendResult(entry_id, e.state, e.last_code, e.last_text or "", skipped=why)
        data = e.message_bytes()
        attempts = e.attempts + 1
        marked = replace(e, phase="dot-sent", attempts=attempts, updated=t.isoformat())

        def before_dot() -> None:
            _write_state(marked)
            failpoint("before-dot")

        def after_dot() -> None:
            failpoint("after-dot")

        outcome = session.deliver(e.sender, list(e.recipients), data, before_dot, after_dot)
        failpoint("before-state-write")
        t = now()
        refused = {k: list(v) for k, v in outcome.refused.items()}
        base = replace(e, attempts=attempts, refused=refused)
        if outcome.state == "deferred":
            if datetime.fromisoformat(e.created) + GIVE_UP_AFTER <= t:
                final = _transition(
                    base, "failed", outcome.code, _("given up after 5 days: {text}").format(text=outcome.text), t
                )
            else:
                final = _transition(
                    base, "deferred", outcome.code, outcome.text, t, next_attempt=(t + backoff(attempts)).isoformat()
                )
        elif outcome.state == "sent":
            final = _transition(
                base,
                "sent",
                outcome.code,
                outcome.text,
                t,
                queue_id=outcome.queue_id,
                next_attempt=None,
                accepted_at=t.isoformat(),
            )
        else:
            final = _transition(base, outcome.state, outcome.code, outcome.text, t, next_attempt=None)
        _write_state(final)
        return SendResult(
            entry_id, final.state, outcome.code, final.last_text or "", outcome.kind, outcome.queue_id, refused
        )


def resolve(entry_id: str, delivered: bool) -> Entry:
    """The user decides an `uncertain` (or failed/needs-credentials) message: it arrived, or send it again."""
    e = get(entry_id)
    with flock(e.path / "lock", blocking=False) as got:
        if not got:
            raise SupportctlError(_("message {id} is being sent right now; try again in a moment").format(id=e.id))
        e = _read_state(e.path) or e
        if delivered:
            if e.state not in ("uncertain", "deferred", "needs-credentials", "failed", "queued"):
                raise UsageError(
                    _("message {id} is {state}; nothing to resolve").format(id=e.id, state=state_label(e.state))
                )
            new = _transition(e, "sent", None, _("marked as delivered by the user"), now_utc(), next_attempt=None)
        else:
            if e.state == "superseded":
                raise UsageError(
                    _("message {id} was replaced by a later copy; it is never sent").format(id=e.id),
                    _("`supportctl outbox list` shows the later one"),
                )
            if e.state == "sent":
                raise UsageError(
                    _(
                        "message {id} was sent already; use `supportctl submit --again` to send the form once more"
                    ).format(id=e.id)
                )
            new = _transition(e, "queued", None, _("marked for resending by the user"), now_utc(), next_attempt=None)
        _write_state(new)
        return new


@dataclass(frozen=True)
class Resolved:
    """What `outbox resolve` decided for a message: delivered (marked sent), or queued again."""

    entry: Entry
    delivered: bool

    def to_dict(self) -> dict[str, Any]:
        return self.entry.to_dict()

    def lines(self) -> list[str]:
        if self.delivered:
            return [_("{id} marked as delivered").format(id=self.entry.id)]
        return [_("{id} queued again; `supportctl outbox retry {id}` sends it now").format(id=self.entry.id)]


def decide(entry_id: str, delivered: bool, resend: bool) -> Resolved:
    """`outbox resolve`: exactly one of `delivered` (--delivered) and `resend` (--resend), then `resolve`."""
    if delivered == resend:
        raise UsageError(_("use exactly one of --delivered and --resend"))
    return Resolved(resolve(entry_id, delivered=delivered), delivered)


def purge(states: tuple[str, ...] = ("sent", "superseded")) -> list[str]:
    """Delete messages in the given final states; returns their ids.

    Their duplicate records stay (as a small JSON record of id, state and time): the same form to the same
    address is still refused without `--again` after its message file is gone.
    """
    root = outbox_dir()
    removed: list[str] = []
    if not root.is_dir():
        return removed
    with flock(lock_path()):
        for e in entries():
            if e.state not in states:
                continue
            with flock(e.path / "lock", blocking=False) as got:
                if not got:
                    continue
                if e.dedupe_key is not None:
                    kf = _key_file(e.dedupe_key)
                    with contextlib.suppress(OSError):
                        if kf.read_text("utf-8").strip() == e.id:
                            record = {"id": e.id, "state": e.state, "created": e.created, "updated": e.updated}
                            atomic_write(kf, json.dumps(record).encode("utf-8"), 0o600)
            # Deleted after its lock file is closed: Windows cannot delete an open file. The outbox lock is
            # still held and a purged state is final, so nothing sends or changes the entry meanwhile.
            shutil.rmtree(e.path)
            removed.append(e.id)
        fsync_dir(root)
    return removed


@dataclass(frozen=True)
class Purged:
    """What `outbox purge` deleted (`declined`: the person said no when asked)."""

    removed: list[str]
    declined: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"removed": self.removed}

    def lines(self) -> list[str]:
        if self.declined:
            return [_("Nothing deleted.")]
        return [_("Deleted {n} message(s) from the outbox").format(n=len(self.removed))]


def purge_asking(failed: bool, yes: bool, ask: Callable[[str], bool] | None) -> Purged:
    """`outbox purge`: the sent and superseded messages (and failed ones with `failed`), once `ask` (given only
    when a person is at a terminal) agreed, or `yes`; with something to delete, nobody to ask and no `yes`,
    a usage error."""
    states = ("sent", "superseded", "failed") if failed else ("sent", "superseded")
    doomed = [e for e in entries() if e.state in states]
    if doomed and not yes:
        if ask is None:
            raise UsageError(
                _("outbox purge deletes {n} message(s) and asks first").format(n=len(doomed)),
                _("add --yes to delete them without asking"),
            )
        question = _("Delete {n} message(s) from the outbox (their files; resubmitting still needs --again)?")
        if not ask(question.format(n=len(doomed))):
            return Purged([], declined=True)
    return Purged(purge(states))
