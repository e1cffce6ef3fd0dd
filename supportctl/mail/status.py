"""`status`: where each submitted registration stands, and when its activation is due.

A registration is a form submission in the outbox (the messages `submit` queued: those with a form's
dedupe key). Its clock starts when the server accepted it (the 250 after DATA, `Entry.accepted_at`); its
activation class is read once from the submitted form; its due time comes from the package's rules (the
eta engine). The desk's reply, once found in the applicant's mailbox (supportctl/mail/replies.py), gives
the contract number or the rejection.

What was learned is remembered in `$XDG_STATE_HOME/supportctl/status.json` (atomic, 0600): the form's
class, each outcome, and a copy of each submission's facts, so later runs need neither the mailbox nor
the outbox entry (`outbox purge` deletes sent messages). Core only: nothing here prints or exits.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from supportctl import paths
from supportctl.desk.triage import clean
from supportctl.errors import ExitCode, Terminated, UsageError
from supportctl.fsutil import atomic_write, flock
from supportctl.i18n import _
from supportctl.mail import outbox
from supportctl.mail.replies import Matcher, Outcome, Wanted, later, scan
from supportctl.package.manifest import Package

STATE_VERSION = 1
IDLE_MAX = 25 * 60.0  # RFC 2177: renew IDLE before the server's 30-minute inactivity timeout
_FORM_KEY = re.compile(r"^[0-9a-f]{64}:")  # outbox.make_dedupe_key(pdf sha256, address): a form submission


def state_path() -> Path:
    return paths.state_dir() / "status.json"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    # fsutil.flock: flock on POSIX, msvcrt.locking on Windows (fcntl alone would not import there)
    with flock(paths.state_dir() / ".status.lock"):
        yield


def load_state() -> dict[str, Any]:
    try:
        data = json.loads(state_path().read_text("utf-8"))
    except (OSError, ValueError):
        return {"version": STATE_VERSION, "registrations": {}}
    if not isinstance(data, dict) or not isinstance(data.get("registrations"), dict):
        return {"version": STATE_VERSION, "registrations": {}}
    return data


def _update_state(change: Callable[[dict[str, dict[str, Any]]], None]) -> dict[str, Any]:
    """Read, change and write the state under a lock, so a `--watch` and a second run never lose an update."""
    with _locked():
        state = load_state()
        before = json.dumps(state, sort_keys=True)
        change(state["registrations"])
        if json.dumps(state, sort_keys=True) != before:
            data = json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
            atomic_write(state_path(), data, 0o600)
        return state


# ---------------------------------------------------------------- what the outbox knows


def is_submission(entry: outbox.Entry) -> bool:
    return bool(entry.dedupe_key and _FORM_KEY.match(entry.dedupe_key))


def accepted_time(entry: outbox.Entry) -> datetime | None:
    """When the server accepted the message (250 after DATA); None while it has not (or not knowably)."""
    if entry.state != "sent":
        return None
    if entry.accepted_at:
        return datetime.fromisoformat(entry.accepted_at)
    # Entries written before `accepted_at` existed: the history's 250; a message the user marked delivered
    # after an uncertain attempt counts from that attempt, when the server may have taken it.
    for h in reversed(entry.history):
        if (h.get("state") == "sent" and h.get("code") == 250) or h.get("state") == "uncertain":
            return datetime.fromisoformat(str(h["at"]))
    return None


def read_form(pkg: Package, message: bytes) -> dict[str, Any]:
    """The activation class, membership ID and language of the form attached to a submitted message."""
    from email import message_from_bytes, policy

    msg: Any = message_from_bytes(message, policy=policy.default)
    for part in msg.iter_attachments():
        if part.get_content_type() != "application/pdf":
            continue
        from supportctl.errors import SupportctlError
        from supportctl.form import pdfform

        try:
            report = pdfform.validate_pdf(pkg, part.get_content())
        except SupportctlError:
            return {"class": None}
        values = report.values
        return {
            "class": report.activation_class,
            "membership_id": str(values.get("membership_id") or "") or None,
            "language": str(values.get("language") or "") or None,
        }
    return {"class": None}


def _remember_submissions(pkg: Package) -> dict[str, Any]:
    """Copy new submissions' facts (and their form's class) from the outbox into the state."""
    entries = [e for e in outbox.entries() if is_submission(e)]

    def change(regs: dict[str, dict[str, Any]]) -> None:
        for e in entries:
            rec = regs.setdefault(e.id, {})
            accepted = accepted_time(e)
            rec.update(
                id=e.id,
                state=e.state,
                to=list(e.recipients),
                subject=e.subject,
                message_id=e.message_id,
                created=e.created,
                submitted_at=accepted.isoformat() if accepted else None,
                # The server's last words, for "what to do next"; untrusted, so made safe for a terminal.
                last_text=clean(f"{e.last_code or ''} {e.last_text or ''}".strip())[:300] or None,
                # Whether the server answered the last attempt (a code): else it was not reached at all.
                reached=e.last_code is not None,
                in_outbox=True,
            )
            if "class" not in rec:
                try:
                    rec.update(read_form(pkg, e.message_bytes()))
                except OSError:
                    rec["class"] = None
        present = {e.id for e in entries}
        for key, rec in regs.items():
            if key not in present:
                rec["in_outbox"] = False

    return _update_state(change)


def _remember_outcomes(outcomes: list[Outcome]) -> dict[str, Any]:
    def change(regs: dict[str, dict[str, Any]]) -> None:
        for o in outcomes:
            rec = regs.get(o.submission)
            if rec is None:
                continue
            old = rec.get("outcome")
            if old and not later(str(old.get("received_at") or ""), o.received_at):
                continue
            rec["outcome"] = {
                "kind": o.kind,
                "contract": o.contract,
                "reasons": list(o.reasons),
                "received_at": o.received_at,
                "reply_message_id": o.reply_message_id,
                "subject": o.subject,
            }

    return _update_state(change)


def watermark(source_key: str) -> Any:
    """Where the last look into an IMAP folder ended (UIDVALIDITY, last UID): the next one reads only newer mail."""
    from supportctl.desk.sources import Watermark

    wm = load_state().get("mailboxes", {}).get(source_key)
    try:
        if not wm:
            return None
        uidnext, count = wm.get("uidnext"), wm.get("messages")  # a look that finds them unchanged lists nothing
        known = (x if isinstance(x, int) else None for x in (uidnext, count))
        return Watermark(int(wm["uidvalidity"]), int(wm["last_uid"]), *known)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def open_mailbox(spec: str, cfg: Any, prompt: Any = None) -> Any:
    """The applicant's mailbox (`--mailbox`, `status.mailbox`), read from where the last look ended."""
    from supportctl.desk.sources import open_source

    if spec == "-":
        raise UsageError(
            _("status reads a mailbox, not standard input"), _("give a Maildir, mbox, directory or imaps://")
        )
    return open_source(spec, cfg, watermark, prompt)


def _remember_watermark(source_key: str, wm: Any) -> None:
    with _locked():
        state = load_state()
        state.setdefault("mailboxes", {})[source_key] = {
            "uidvalidity": wm.uidvalidity,
            "last_uid": wm.last_uid,
            "uidnext": wm.uidnext,
            "messages": wm.messages,
        }
        data = json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        atomic_write(state_path(), data, 0o600)


# ---------------------------------------------------------------- registrations


@dataclass(frozen=True)
class Registration:
    id: str
    state: str
    to: tuple[str, ...]
    subject: str
    submitted_at: datetime | None
    activation_class: str | None
    due: datetime | None
    contract: str | None
    contract_received_at: datetime | None
    rejected: tuple[str, ...] | None
    rejected_at: datetime | None
    membership_id: str | None
    last_text: str | None
    superseded_by: str | None = None
    reached: bool = True  # the mail server answered the last attempt (False: connection refused, timed out)
    bounced: tuple[str, ...] | None = None  # returned undelivered by a mail system: its failed recipients
    bounced_at: datetime | None = None

    @property
    def settled(self) -> bool:
        return self.contract is not None or self.rejected is not None

    def seconds_until_due(self, now: datetime) -> float | None:
        return None if self.due is None else round(self.due.timestamp() - now.timestamp(), 3)

    def overdue(self, now: datetime) -> bool:
        """Past its due time without a contract number (or a rejection)."""
        return self.due is not None and not self.settled and self.due.timestamp() <= now.timestamp()

    def to_dict(self, now: datetime) -> dict[str, Any]:
        def iso(dt: datetime | None) -> str | None:
            return dt.isoformat() if dt else None

        return {
            "id": self.id,
            "state": self.state,
            "to": list(self.to),
            "submitted_at": iso(self.submitted_at),
            "class": self.activation_class,
            "due": iso(self.due),
            "overdue": self.overdue(now),
            "seconds_until_due": self.seconds_until_due(now),
            "contract": self.contract,
            "contract_received_at": iso(self.contract_received_at),
            "rejected": list(self.rejected) if self.rejected is not None else None,
            "bounced": list(self.bounced) if self.bounced is not None else None,
        }


def class_label(pkg: Package, name: str | None) -> str:
    """A registration's activation class in the current language (the package's label)."""
    from supportctl.i18n import localized

    if not name:
        return _("unknown (the submitted form could not be read with this package)")
    c = pkg.process.classes.get(name)
    return name if c is None else localized(c.label, name)


def next_step(r: Registration, now: datetime, request_address: str) -> str | None:
    """What the applicant should do about `r` now, if anything."""
    if r.superseded_by:
        return _("superseded by {id}").format(id=r.superseded_by)
    if r.rejected is not None:
        return _("correct the form (`supportctl fill`), then `supportctl submit --again FORM.pdf`")
    if r.bounced is not None:
        return _(
            "it did not reach the registration desk: ask the desk ({address}) or fetch the current package "
            "(`supportctl fetch`), then `supportctl submit --again FORM.pdf`"
        ).format(address=request_address)
    if r.contract is not None:
        return None
    steps = {
        "queued": _("not sent yet: `supportctl outbox retry {id}` sends it now"),
        "deferred": _(
            "the server asked to try later: `supportctl outbox flush` (cron) or `supportctl outbox retry {id}`"
        ),
        "failed": _("the server refused it ({text}): correct it and `supportctl submit --again FORM.pdf`"),
        "needs-credentials": _(
            "the login failed: fix it (`supportctl config smtp`), then `supportctl outbox retry {id}`"
        ),
        "uncertain": _(
            "the connection broke after the form was handed over: check your sent mail or ask the desk, then "
            "`supportctl outbox resolve {id} --delivered` or `--resend`"
        ),
    }
    if r.state == "deferred" and not r.reached:
        return _(
            "the mail server was not reached ({text}): check the connection and `supportctl config smtp`, then "
            "`supportctl outbox retry {id}`"
        ).format(id=r.id, text=r.last_text or "")
    if r.state in steps:
        return steps[r.state].format(id=r.id, text=r.last_text or "")
    if r.overdue(now):
        return _("the due time has passed: ask the registration desk ({address}), quoting “{subject}”").format(
            address=request_address, subject=r.subject
        )
    return None


def screen(regs: Iterable[Registration], now: datetime, user_tz: tzinfo, pkg: Package) -> str:
    """`status` on a terminal: a block of lines per registration, in `user_tz`."""
    from supportctl import output as out

    def when(dt: datetime | None) -> str:
        return out.format_datetime(dt.astimezone(user_tz)) if dt is not None else "-"

    blocks = []
    for r in regs:
        lines = [f"{r.id}  {outbox.state_label(r.state)} → {', '.join(r.to)}"]
        if r.submitted_at is not None:
            lines.append("  " + _("Accepted by the mail server: {when}").format(when=when(r.submitted_at)))
        elif r.state == "sent":  # `outbox resolve --delivered` of a message that never got a 250 from the server
            lines.append(
                "  "
                + _(
                    "Marked as delivered by you: when the mail server accepted it is not known,"
                    " so no due time is counted"
                )
            )
        else:
            lines.append("  " + _("Not accepted by the mail server yet: the activation clock has not started"))
        lines.append("  " + _("Activation class: {label}").format(label=class_label(pkg, r.activation_class)))
        if r.due is not None:
            if r.contract is not None or r.rejected is not None or r.bounced is not None:
                lines.append("  " + _("Due: {when}").format(when=when(r.due)))
            else:
                relative = out.relative(r.due.timestamp() - now.timestamp())
                lines.append("  " + _("Due: {when}, {relative}").format(when=when(r.due), relative=relative))
        if r.contract is not None:
            lines.append(
                "  "
                + _("Contract number: {contract} (arrived {when})").format(
                    contract=r.contract, when=when(r.contract_received_at)
                )
            )
        elif r.rejected is not None:
            lines.append("  " + _("REJECTED by the registration desk ({when}):").format(when=when(r.rejected_at)))
            lines.extend("    - " + reason for reason in r.rejected or [_("(no reasons given)")])
        elif r.bounced is not None:
            lines.append("  " + _("RETURNED UNDELIVERED by the mail system ({when}):").format(when=when(r.bounced_at)))
            lines.extend("    - " + reason for reason in r.bounced)
        elif r.submitted_at is not None:
            lines.append("  " + _("Contract number: not arrived yet"))
        step = next_step(r, now, pkg.process.request_address)
        if step:
            lines.append("  " + _("Next: {step}").format(step=step))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _registration(rec: dict[str, Any], engine: Any) -> Registration:
    def when(value: Any) -> datetime | None:
        try:
            return datetime.fromisoformat(str(value)) if value else None
        except ValueError:
            return None

    submitted = when(rec.get("submitted_at"))
    cls = rec.get("class")
    due = None
    if submitted is not None and cls in engine.classes:
        due = engine.compute(submitted, cls).due
    o = rec.get("outcome") or {}
    contract = o.get("contract") if o.get("kind") == "contract" else None
    rejected = tuple(o.get("reasons") or ()) if o.get("kind") == "rejected" else None
    bounced = tuple(o.get("reasons") or ()) if o.get("kind") == "bounced" else None
    return Registration(
        id=str(rec["id"]),
        state=str(rec.get("state") or "sent"),
        to=tuple(rec.get("to") or ()),
        subject=str(rec.get("subject") or ""),
        submitted_at=submitted,
        activation_class=cls if isinstance(cls, str) else None,
        due=due,
        contract=contract,
        contract_received_at=when(o.get("received_at")) if contract else None,
        rejected=rejected,
        rejected_at=when(o.get("received_at")) if rejected is not None else None,
        membership_id=rec.get("membership_id"),
        last_text=rec.get("last_text"),
        reached=rec.get("reached") is not False,
        bounced=bounced,
        bounced_at=when(o.get("received_at")) if bounced is not None else None,
    )


def _supersede(regs: list[Registration]) -> list[Registration]:
    """A rejected or failed registration followed by a newer one of the same membership is superseded
    (the oldest newer one replaced it), as is one the outbox marked superseded."""
    from dataclasses import replace

    result = []
    for k, r in enumerate(regs):  # newest first (by when queued: two ids of one second do not sort by time)
        newer = None
        if r.rejected is not None or r.bounced is not None or r.state in ("failed", "superseded"):
            key = r.membership_id or ",".join(r.to)
            later = [n.id for n in regs[:k]]
            same = [n.id for n in regs[:k] if (n.membership_id or ",".join(n.to)) == key]
            # The outbox marks a pending copy `superseded` when `submit --again` replaces it.
            candidates = same or (later if r.state == "superseded" else [])
            newer = candidates[-1] if candidates else None
        result.append(replace(r, superseded_by=newer) if newer else r)
    return result


@dataclass(frozen=True)
class Snapshot:
    registrations: tuple[Registration, ...]
    checked_mailbox: bool
    new_outcomes: tuple[Outcome, ...] = ()

    def to_dict(self, now: datetime, mailbox: str | None) -> dict[str, Any]:
        return {
            "now": now.isoformat(),
            "mailbox": mailbox,
            "registrations": [r.to_dict(now) for r in self.registrations],
        }


def refresh(pkg: Package, engine: Any, source: Any = None, only: str | None = None) -> Snapshot:
    """The registrations (newest first; `only`: the one with that id or id prefix), after reading the outbox
    and, with a mail `source`, the desk's replies to those still waiting for one."""
    state = _remember_submissions(pkg)
    regs_state: dict[str, dict[str, Any]] = state["registrations"]
    outcomes: list[Outcome] = []
    if source is not None:
        wanted = [
            Wanted(
                id=rec["id"],
                message_id=str(rec.get("message_id") or ""),
                membership_id=rec.get("membership_id"),
                submitted_at=datetime.fromisoformat(rec["submitted_at"]) if rec.get("submitted_at") else None,
            )
            for rec in regs_state.values()
            # A bounce may be followed by the desk's answer all the same (the report named another recipient).
            if (rec.get("outcome") or {}).get("kind", "bounced") == "bounced"
            and rec.get("state") in ("sent", "uncertain")
        ]
        outcomes = scan(source, wanted, Matcher(pkg.process))
        if outcomes:
            regs_state = _remember_outcomes(outcomes)["registrations"]
        if getattr(source, "incremental", False) and source.watermark is not None:
            _remember_watermark(source.key, source.watermark)
    # Newest first by when it was queued (ids share a second-resolution prefix: two in one second tied).
    ordered = sorted(regs_state.values(), key=lambda rec: (str(rec.get("created") or ""), rec["id"]), reverse=True)
    regs = [_registration(rec, engine) for rec in ordered]
    regs = _supersede(regs)
    if only is not None:
        regs = _select(regs, only)
    return Snapshot(tuple(regs), source is not None, tuple(outcomes))


def _select(regs: list[Registration], ref: str) -> list[Registration]:
    exact = [r for r in regs if r.id == ref]
    found = (exact or [r for r in regs if r.id.startswith(ref)]) if ref else []
    if len(found) != 1:
        raise UsageError(
            _("no submitted registration {id}").format(id=ref)
            if not found
            else _("{id} names more than one registration").format(id=ref),
            _("`supportctl status` lists them"),
        )
    return found


# ---------------------------------------------------------------- --watch


@dataclass(frozen=True)
class Verdict:
    """How `status --watch` ends, or None in `exit_code` while it should keep waiting."""

    exit_code: ExitCode | None
    # "contract" | "rejected" | "bounced" | "overdue" | "failed" | "needs-credentials" | "uncertain" | "waiting"
    reason: str
    registration: str | None = None

    @property
    def message(self) -> str:
        lines = {
            "contract": _("Every registration has its contract number."),
            "rejected": _("{id}: the registration desk rejected the form."),
            "bounced": _("{id}: the submission came back undelivered; it did not reach the registration desk."),
            "overdue": _("{id}: OVERDUE, the due time passed without a contract number."),
            "failed": _("{id}: the mail server refused the submission; it will not arrive."),
            "needs-credentials": _("{id}: not sent, the login failed; fix it and `supportctl outbox retry {id}`."),
            "uncertain": _("{id}: it is uncertain whether the submission arrived; resolve it first."),
        }
        return lines.get(self.reason, self.reason).format(id=self.registration or "")


_STATE_VERDICT = {
    "failed": ExitCode.MAIL_REFUSED,
    "needs-credentials": ExitCode.CONFIG,
    "uncertain": ExitCode.UNCERTAIN,
}


def verdict(regs: tuple[Registration, ...], now: datetime) -> Verdict:
    """Exit 0 when every registration has its contract number; 6 when the desk rejects one or a mail system
    returns one undelivered; 10 as soon as one is past its due time without one; a submission that cannot
    arrive by itself ends the wait with its outbox state's code (6 failed, 8 needs credentials, 9 uncertain).
    Superseded registrations do not count."""
    live = [r for r in regs if r.superseded_by is None]
    for r in live:
        if r.rejected is not None:
            return Verdict(ExitCode.MAIL_REFUSED, "rejected", r.id)
        if r.bounced is not None:
            return Verdict(ExitCode.MAIL_REFUSED, "bounced", r.id)
    for r in live:
        if not r.settled and r.state in _STATE_VERDICT:
            return Verdict(_STATE_VERDICT[r.state], r.state, r.id)
    for r in live:
        if r.overdue(now):
            return Verdict(ExitCode.OVERDUE, "overdue", r.id)
    if all(r.contract is not None for r in live):
        return Verdict(ExitCode.OK, "contract")
    return Verdict(None, "waiting")


def next_wake(regs: tuple[Registration, ...], now: datetime, interval: float) -> float:
    """Seconds to wait before looking again: the interval, or less when a due time comes sooner."""
    soonest = [
        r.due.timestamp() - now.timestamp()
        for r in regs
        if r.superseded_by is None and not r.settled and r.due is not None
    ]
    wait = min([interval, *[s + 0.05 for s in soonest]])
    return max(0.05, wait)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def watch(
    pkg: Package,
    engine: Any,
    source: Any,
    interval: float,
    only: str | None = None,
    on_update: Callable[[Snapshot], None] = lambda _s: None,
    clock: Callable[[], datetime] = now_utc,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Snapshot, Verdict]:
    """Look again and again until `verdict()` decides. An IMAP source waits with IDLE (`source.wait`),
    a local one is read again every `interval` seconds; both wake up for the next due time.

    Everything found is saved before `on_update` sees it, so an interrupt (Ctrl-C) loses nothing.
    """
    snap = refresh(pkg, engine, source, only)
    if not snap.registrations:
        raise UsageError(
            _("there is no submitted registration to watch"), _("submit the form first: supportctl submit")
        )
    on_update(snap)
    while True:
        now = clock()
        v = verdict(snap.registrations, now)
        if v.exit_code is not None:
            return snap, v
        wait = next_wake(snap.registrations, now, interval)
        if source is not None and callable(getattr(source, "wait", None)):
            source.wait(min(wait, IDLE_MAX))
        else:
            sleep(wait)
        snap = refresh(pkg, engine, source, only)
        on_update(snap)


@dataclass(frozen=True)
class WatchEnd:
    """How `status --watch` ended for the person: decided (`verdict`), or stopped by Ctrl-C or SIGTERM.

    `snapshot` is the last look (None when stopped before the first); `reason` the --json error code."""

    snapshot: Snapshot | None
    exit_code: ExitCode
    reason: str
    message: str

    @property
    def stopped(self) -> bool:
        return self.reason in ("interrupted", "terminated")

    @property
    def ok(self) -> bool:
        """Every registration has its contract number."""
        return self.exit_code == ExitCode.OK

    def errors(self) -> list[dict[str, Any]]:
        """The --json envelope's errors: none when every registration has its contract number."""
        if self.ok:
            return []
        message = _("terminated") if self.reason == "terminated" else _("interrupted") if self.stopped else self.message
        return [{"code": self.reason, "exit_code": int(self.exit_code), "message": message, "hint": None}]

    def lines(self, json_output: bool) -> list[str]:
        """What is said on stderr at the end: the verdict (its --json error instead), or that nothing was lost."""
        return [self.message] if self.stopped or not json_output else []


def watch_for(
    pkg: Package,
    engine: Any,
    source: Any,
    interval: float,
    only: str | None,
    user_tz: tzinfo,
    write: Callable[[str], None] | None,
    say: Callable[[str], None],
) -> WatchEnd:
    """`status --watch` for a person: `write` (None with --json) shows every registration at the first look, then
    each one whose state changed; `say` tells that it waits. Ctrl-C and SIGTERM end it too: what was found is
    saved already (`watch`), so they end it with the last look, not with a traceback."""
    shown: dict[str, tuple[Any, ...]] = {}
    last: list[Snapshot] = []

    def on_update(snap: Snapshot) -> None:
        last[:] = [snap]
        now = now_utc()
        if not shown:
            if write is not None:
                write(screen(snap.registrations, now, user_tz, pkg))
            say(_("Waiting for the desk's reply (Ctrl-C stops; nothing is lost)…"))
        elif write is not None:
            for r in snap.registrations:
                if shown.get(r.id) != (r.contract, r.rejected, r.bounced, r.state):
                    write(screen((r,), now, user_tz, pkg))
        shown.update({r.id: (r.contract, r.rejected, r.bounced, r.state) for r in snap.registrations})

    try:
        snap, v = watch(pkg, engine, source, interval, only, on_update)
    except KeyboardInterrupt as exc:
        # SIGTERM (systemd, kill) arrives as `Terminated`: exit 143 as everywhere else, not Ctrl-C's 130.
        if isinstance(exc, Terminated):
            return WatchEnd(
                last[0] if last else None, ExitCode.TERMINATED, "terminated", _("terminated; what was found is saved")
            )
        return WatchEnd(
            last[0] if last else None, ExitCode.INTERRUPTED, "interrupted", _("interrupted; what was found is saved")
        )
    assert v.exit_code is not None  # `watch` returns once it has decided
    return WatchEnd(snap, v.exit_code, v.reason, v.message)


def no_mailbox_note() -> str:
    """Said by `status` without a mailbox (not with --json)."""
    return _(
        "No mailbox given: the desk's reply is not looked for, only what was found before "
        "(--mailbox, status.mailbox or SUPPORTCTL_STATUS_MAILBOX)"
    )


def _ts(at: datetime | None) -> float:
    return at.timestamp() if at is not None else 0.0


def submitted_at(ref: str | None = None) -> datetime:
    """When the server accepted submission `ref` (an outbox id or prefix; None: the newest accepted one),
    from the outbox or, for one purged since, from what `status` remembered. For `eta --since-submit`."""
    from supportctl.errors import SupportctlError

    known: dict[str, tuple[str, datetime | None]] = {}
    for rec in load_state()["registrations"].values():
        try:
            at = datetime.fromisoformat(rec["submitted_at"]) if rec.get("submitted_at") else None
            known[str(rec["id"])] = (str(rec.get("state") or "sent"), at)
        except (KeyError, ValueError, TypeError):
            continue
    for e in outbox.entries():
        if is_submission(e):
            known[e.id] = (e.state, accepted_time(e))
    if ref is None:
        # The newest by when the server accepted it (ids of one second do not sort by time).
        accepted = [i for i, (_s, at) in known.items() if at is not None]
        accepted.sort(key=lambda i: (_ts(known[i][1]), i), reverse=True)
        if not accepted:
            raise SupportctlError(
                _("no submission has been accepted by a mail server yet"),
                _("submit the form first (supportctl submit); `supportctl outbox` shows what is waiting"),
            )
        ref = accepted[0]
    matches = [i for i in known if i == ref] or [i for i in known if ref and i.startswith(ref)]
    if len(matches) != 1:
        raise UsageError(_("no submitted registration {id}").format(id=ref), _("`supportctl status` lists them"))
    state, at = known[matches[0]]
    if at is None and state == "sent":  # marked delivered by the user, never accepted in our sight
        raise SupportctlError(
            _("submission {id} was marked as delivered by you: when the mail server accepted it is not known").format(
                id=matches[0]
            ),
            _("give the time it arrived: supportctl eta --at WHEN"),
        )
    if at is None:
        raise SupportctlError(
            _(
                "submission {id} has not been accepted by the mail server yet ({state}): the clock has not started"
            ).format(id=matches[0], state=outbox.state_label(state)),
            _("`supportctl status {id}` says what to do next").format(id=matches[0]),
        )
    return at
