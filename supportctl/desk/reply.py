"""`inbox reply`: the contract-details mail or the reject mail to an applicant, in German and English."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportctl.desk import triage as inbox
from supportctl.desk.shared import HEADER_CONTRACT, HEADER_OUTCOME, HEADER_REGISTRATION, DeskState, answered_words
from supportctl.errors import ExitCode, InvalidInputError, SupportctlError, UsageError
from supportctl.form.validation import finding_line
from supportctl.i18n import _, gettext_in
from supportctl.mail.compose import check_address
from supportctl.package.manifest import Package, fill_template

if TYPE_CHECKING:
    from collections.abc import Mapping

    from supportctl.mail.outbox import Entry, SendResult
    from supportctl.mail.submit import Hooks

Found = inbox.Found


def find(ref: str, pkg: Package, limits: inbox.Limits, validator: inbox.Validator | None = None) -> Found:
    """MESSAGE is a path to a message file, or an id (or unique prefix) that `inbox` showed."""
    return inbox.find(ref, pkg, limits, validator)


def write_canonical(pkg: Package, found: Found, path: Path) -> None:
    """The desk's record of what it activated: the pristine form re-filled with the validated values.

    Made on demand from the values kept with the triage (the same bytes every time), whatever program the
    applicant filled the form with.
    """
    from supportctl.errors import FormInvalidError
    from supportctl.form import pdfform

    form = found.form
    if form is None or not form.ok:
        raise FormInvalidError(
            _("{id} has no valid form: there is no canonical copy").format(id=found.facts.id),
            _("`supportctl inbox show {id}` lists its findings").format(id=found.facts.id),
        )
    report = pdfform.FormReport(True, dict(form.values), (), form.activation_class)
    pdfform.write_atomic(path, pdfform.canonical_pdf(pkg, report))


def _languages(form: inbox.CheckedForm | None) -> list[str]:
    preferred = str(form.values.get("language", "")) if form else ""
    return ["en", "de"] if preferred == "en" else ["de", "en"]


def _fill(template: str, values: dict[str, str], multiline: bool = True) -> str:
    # Checked when the package loaded (`manifest.check_template`); values lose control and bidi characters.
    text = fill_template(template, values, multiline=multiline)
    return re.sub(r"[ \t]+,", ",", text)  # "Dear ," when there is no name to greet


def compose(
    pkg: Package,
    found: Found,
    *,
    contract: str | None = None,
    reject: bool = False,
    note: str | None = None,
    sender: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """The reply to `found`: contract details (valid form) or the list of findings (`reject`)."""
    from email.utils import format_datetime, make_msgid

    f, form = found.facts, found.form
    if reject == (contract is not None):
        raise UsageError(_("give either --contract NUMBER or --reject"))
    if contract is not None:
        if form is None or not form.ok:
            raise UsageError(
                _("message {id} has no valid registration form; a contract cannot be sent").format(id=f.id),
                _("use --reject to tell the applicant what is wrong"),
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9./_-]{0,63}", contract):
            raise UsageError(_("contract number {n!r} has unexpected characters").format(n=contract))
    values = form.values if form else {}
    to = str(values.get("email") or "") if form and form.ok else ""
    to = to or f.reply_to or f.sender_address
    if not to or "@" not in to:
        raise InvalidInputError(_("message {id} has no address to reply to").format(id=f.id))
    to = check_address(to, "To")
    t = pkg.process.reply
    langs = _languages(form)
    # Greet by the name in the form; without a form, by the sender's display name (never the address line).
    name = " ".join(str(values.get(k) or "") for k in ("first_name", "last_name")).strip() or _display_name(f.sender)
    if reject:
        findings = [finding_line(x) for x in form.findings] if form else []
        if not findings:
            findings = [f.reason or _("no registration PDF attached")] if not form else []
        if not findings:
            raise UsageError(
                _("message {id} has a valid form; there is nothing to reject").format(id=f.id),
                _("send the contract with --contract NUMBER"),
            )
    cls = form.activation_class if form else None
    subjects, bodies = [], []
    for lang in langs:
        support = ""
        if cls and cls in pkg.process.classes:
            label = pkg.process.classes[cls].label
            support = label.get(lang) or label.get("en") or cls
        fill = {
            "name": name,
            "company": str(values.get("company") or ""),
            "contract": contract or "",
            "support": support,
            "request_address": pkg.process.request_address,
            "requests_url": t.requests_url,
            "note": (note.strip() + "\n") if note else "",
            "subject": f.subject,
            "findings": "\n".join(
                "  - " + line for line in _finding_lines(pkg, f, form, findings if reject else [], lang)
            ),
        }
        which = ("reject_subject", "reject_body") if reject else ("contract_subject", "contract_body")
        subj_t, body_t = getattr(t, which[0]), getattr(t, which[1])
        subjects.append(" ".join(_fill(subj_t.get(lang) or subj_t["en"], fill, False).split()))
        bodies.append(_fill(body_t.get(lang) or body_t["en"], fill, True))
    msg = EmailMessage()
    from_addr = sender or pkg.process.registration_address
    msg["From"] = from_addr
    msg["To"] = to
    msg["Subject"] = " / ".join(dict.fromkeys(subjects))
    msg["Date"] = format_datetime(now) if now else format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = make_msgid(domain=from_addr.rsplit("@", 1)[-1].strip(">") or None)
    if f.message_id:
        msg["In-Reply-To"] = f.message_id
        msg["References"] = " ".join(x for x in (f.references, f.message_id) if x)
    # For every desk member's supportctl: what this reply was, read back from its copy in the Sent folder.
    msg[HEADER_OUTCOME] = "reject" if reject else "contract"
    if contract:
        msg[HEADER_CONTRACT] = contract
    msg[HEADER_REGISTRATION] = f.id
    msg.set_content(("\n" + "-" * 60 + "\n\n").join(bodies))
    return msg


def _display_name(sender: str) -> str:
    from email.utils import parseaddr

    name, _addr = parseaddr(sender)
    return name.strip().strip('"')


def _finding_lines(
    pkg: Package, facts: inbox.Facts, form: inbox.CheckedForm | None, reasons: list[str], lang: str
) -> list[str]:
    """The findings in `lang` only: messages from the validation in that language, fields by their labels."""
    if form and form.findings:
        labels = {f.name: f.label.get(lang) or f.label.get("en") or f.name for f in pkg.fields}
        lines = []
        for x in form.findings_in(lang):
            if x.get("field") is None:  # the file as a whole (data after its end, …): the message alone
                lines.append(finding_line(x, lang))
                continue
            name = str(x.get("field"))
            label = labels.get(name, name)
            # Some messages quote the field ("last_name", „last_name“): the label there too.
            message = re.sub(
                rf"([\"„“'])\b{re.escape(name)}\b([\"“”'])", rf"\g<1>{label}\g<2>", str(x.get("message") or "")
            )
            lines.append(finding_line({**x, "field": label, "message": message}, lang))
        return lines
    if facts.kind in ("no-pdf", "no-form") and reasons:
        return [gettext_in(lang, "no registration form attached")]
    return reasons


def already_answered(facts: inbox.Facts) -> dict[str, Any] | None:
    """The done record of the message, if a reply to it was queued (or written) before."""
    mark = inbox.load_done().get(facts.id)
    return mark if isinstance(mark, dict) else None


class DuplicateReply(UsageError, code="duplicate"):
    """The message was answered before (`--again` answers once more)."""


def refuse_if_answered(facts: inbox.Facts, again: bool) -> None:
    mark = already_answered(facts)
    if mark and not again:
        raise DuplicateReply(
            _("message {id} was answered already: {what}").format(id=facts.id, what=answered_words(mark)),
            _("add --again to reply to it once more"),
        )


class DuplicateRegistration(UsageError, code="duplicate-registration"):
    """The registration is a copy of an earlier one: the reply belongs to that one (`--force` replies anyway)."""


class NotARegistration(UsageError, code="not-a-registration"):
    """The message is no registration: a reply would tell a stranger about a form (`--force` replies anyway)."""


def refuse_if_unfit(found: Found, listed: inbox.Item | None, force: bool) -> None:
    """Refuse (exit 2) a reply to a duplicate, and one to mail that is no registration, unless `force`.

    A duplicate is the same form as an earlier registration: replying to both answers one applicant twice
    (two contracts, or the same findings twice). Mail that is no registration (no form, not to the
    registration address) came from someone who never sent a form. `listed` is the registration as `inbox`
    listed it (None: not known, nothing to check).
    """
    if force or listed is None:
        return
    fid = found.facts.id
    if listed.status == "duplicate":
        raise DuplicateRegistration(
            _("message {id} is a duplicate: {reason}").format(id=fid, reason="; ".join(listed.reasons)),
            _("reply to that registration instead, or add --force to reply to this copy as well"),
        )
    if listed.status == "not-a-registration":
        raise NotARegistration(
            _("message {id} is not a registration: it has no form and was not sent to the registration address").format(
                id=fid
            ),
            _("add --force to reply to it all the same"),
        )


@dataclass(frozen=True)
class Queued:
    entry: Entry
    reused: bool  # an earlier run queued this very reply and stopped before marking the message done


def dedupe_key(facts: inbox.Facts, action: str, to: str) -> str:
    from supportctl.mail import outbox

    return outbox.make_dedupe_key(f"inbox-reply-{action}-{facts.id}", to)


def hand_to_outbox(msg: EmailMessage, facts: inbox.Facts, action: str, again: bool = False) -> Queued:
    """Store the reply durably in the outbox of `submit` (nothing is sent here).

    The same reply (message, action, recipient) is queued once: when an earlier run queued it but stopped
    before marking the message done, that entry is returned instead of a second copy.
    """
    from supportctl.mail import outbox

    key = dedupe_key(facts, action, str(msg["To"]))
    try:
        return Queued(outbox.enqueue(msg, key, again=again), False)
    except outbox.DuplicateSubmission:
        earlier = [e for e in outbox.entries() if e.dedupe_key == key]
        if not earlier:
            raise
        return Queued(earlier[-1], True)


def done_record(action: str, contract: str | None, entry_id: str | None, message_id: str) -> dict[str, Any]:
    return {
        "action": action,
        "contract": contract,
        "at": datetime.now(timezone.utc).isoformat(),
        "reply_message_id": message_id,
        "outbox": entry_id,
    }


@dataclass(frozen=True)
class ReplyResult:
    """What `inbox reply` did: printed (dry run), wrote a .eml, queued, or queued and sent the reply."""

    found: Found
    action: str  # "contract" | "reject"
    message: EmailMessage
    queued: Queued | None = None
    sent: SendResult | None = None
    eml: Path | None = None
    dry_run: bool = False

    @property
    def exit_code(self) -> ExitCode:
        return self.sent.exit_code if self.sent is not None else ExitCode.OK

    def notes(self) -> list[str]:
        """What the person is told of a reply that was not sent now (a sent one is told by its `SendResult`)."""
        if self.dry_run:
            return [_("Dry run: nothing was sent or marked.")]
        if self.eml is not None:
            return [
                _("reply to {to} written to {path}").format(to=self.message["To"], path=self.eml),
                _("message {id} marked done").format(id=self.found.facts.id),
            ]
        if self.sent is None:
            assert self.queued is not None
            retry = _("not sent yet: `supportctl outbox flush` or `supportctl outbox retry {entry}` sends it")
            return [retry.format(entry=self.queued.entry.id)]
        return []

    def to_dict(self) -> dict[str, Any]:
        """The --json record: the reply to whom, and where it went (printed, a .eml file, the outbox)."""
        msg = self.message
        d: dict[str, Any] = {
            "id": self.found.facts.id,
            "action": self.action,
            "to": str(msg["To"]),
            "message_id": str(msg["Message-ID"]),
        }
        if self.dry_run:
            return {**d, "dry_run": True, "message": readable(msg)}
        if self.eml is not None:
            return {**d, "eml": str(self.eml), "sent": False}
        assert self.queued is not None
        d.update(outbox=self.queued.entry.id, message_id=self.queued.entry.message_id)
        d["sent"] = self.sent is not None and self.sent.state == "sent"
        return d


def readable(msg: EmailMessage) -> str:
    """The reply as a person reads it: headers decoded, the text as text (not quoted-printable)."""
    from email import message_from_bytes, policy

    parsed = message_from_bytes(bytes(msg), policy=policy.default)
    head = "\n".join(f"{k}: {v}" for k, v in parsed.items())
    body = parsed.get_body(("plain",))
    return head + "\n\n" + (body.get_content() if body is not None else "")


def check_options(contract: str | None, reject: bool, eml: Path | None, queue_only: bool) -> None:
    """A reply's options that contradict each other or miss the outcome: a usage error (exit 2) before anything
    else, the shared mailbox's login too."""
    if eml is not None and queue_only:
        raise UsageError(_("--eml writes the reply to a file; it cannot also be queued"))
    if reject == (contract is not None):
        raise UsageError(_("give either --contract NUMBER or --reject"))


def reply(
    found: Found,
    pkg: Package,
    smtp: Mapping[str, Any],
    *,
    contract: str | None = None,
    reject: bool = False,
    note: str | None = None,
    sender: str | None = None,
    again: bool = False,
    queue_only: bool = False,
    dry_run: bool = False,
    eml: Path | None = None,
    hooks: Hooks | None = None,
    desk: DeskState | None = None,
    listed: inbox.Item | None = None,
    force: bool = False,
) -> ReplyResult:
    """Reply to the applicant of `found`: compose, refuse a second answer (unless `again`), then hand it on.

    The message is marked done as soon as the reply is out of our hands: written to `eml` (the desk's
    mail program sends it), or safely in the outbox (sending is the outbox's job from then on). Without
    `queue_only` the SMTP session is opened first, so a missing server fails before anything is queued
    or marked, and the reply is sent at once. A duplicate or mail that is no registration (`listed`, as
    `inbox` listed it) is refused unless `force`, a dry run too: it shows what the real reply would do.
    """
    from supportctl.fsutil import atomic_write
    from supportctl.mail import submit

    check_options(contract, reject, eml, queue_only)
    refuse_if_unfit(found, listed, force)
    msg = compose(pkg, found, contract=contract, reject=reject, note=note, sender=sender)
    action = "reject" if reject else "contract"
    if dry_run:
        return ReplyResult(found, action, msg, dry_run=True)
    refuse_if_answered(found.facts, again)
    desk = desk or DeskState()
    if eml is not None:
        token = desk.claim(found.facts, action, again)
        try:
            atomic_write(eml, bytes(msg), 0o600)
        except BaseException:
            desk.release(token)
            raise
        inbox.mark_done(found.facts.id, done_record(action, contract, None, str(msg["Message-ID"])))
        _mark_answered(desk, token, action, msg, found, hooks or submit.NO_HOOKS)
        return ReplyResult(found, action, msg, eml=eml)
    hooks = hooks or submit.NO_HOOKS
    session = None if queue_only else submit.open_session(smtp, hooks)
    try:
        # Claimed on the shared mailbox first: of two desk members replying at once, one gets here.
        token = desk.claim(found.facts, action, again)
        try:
            queued = hand_to_outbox(msg, found.facts, action, again=again)
        except BaseException:
            desk.release(token)
            raise
        inbox.mark_done(found.facts.id, done_record(action, contract, queued.entry.id, queued.entry.message_id))
        _mark_answered(desk, token, action, msg, found, hooks)
        hooks.on_queued(queued.entry, queued.reused)
        if session is None:
            return ReplyResult(found, action, msg, queued)
        return ReplyResult(found, action, msg, queued, submit.send_now(session, queued.entry))
    finally:
        if session is not None:
            session.close()


def _mark_answered(desk: DeskState, token: Any, action: str, msg: EmailMessage, found: Found, hooks: Any) -> None:
    """Mark the message answered on the shared mailbox, once the reply is out of our hands: a server that fails
    now (or refuses the new session's login) is said, and the reply still goes (it is queued and recorded here;
    the others see it claimed)."""
    try:
        desk.replied(token, action, bytes(msg), found.facts)
    except SupportctlError as exc:
        if hooks.warn is not None:
            hooks.warn(
                _(
                    "message {id} is answered, but marking it so on the shared mailbox failed: {reason}; the other"
                    " desk members see it as being replied to by {member}"
                ).format(id=found.facts.id, reason=exc.message, member=getattr(desk, "member", "?"))
            )


def reply_to(
    message: str,
    pkg: Package,
    cfg: Any,
    smtp: Mapping[str, Any],
    hooks: Hooks,
    *,
    contract: str | None = None,
    reject: bool = False,
    eml: Path | None = None,
    queue_only: bool = False,
    dry_run: bool = False,
    force: bool = False,
    note: str | None = None,
    again: bool = False,
) -> ReplyResult:
    """`inbox reply`: find the registration `message` names, check it as `inbox` lists it now (unless `force`),
    hold its mailbox's shared state, and `reply`."""
    from dataclasses import replace

    from supportctl.desk import shared
    from supportctl.desk.report import assessed
    from supportctl.schedule.eta import engine_for

    check_options(contract, reject, eml, queue_only)
    found = find(message, pkg, inbox.Limits.from_config(cfg))
    now = datetime.now(timezone.utc)
    listed = None if force else assessed(found, pkg, engine_for(pkg.process, cfg), now)
    say = hooks.warn or (lambda _line: None)

    def queued(entry: Entry, reused: bool) -> None:
        if reused:
            before = _("the reply to message {id} was queued before as {entry}; using that one")
            say(before.format(id=found.facts.id, entry=entry.id))
        else:
            say(_("reply to {to} queued in the outbox as {entry}").format(to=entry.recipients[0], entry=entry.id))
        say(_("message {id} marked done").format(id=found.facts.id))

    desk = None if dry_run else shared.state_of(found, cfg, hooks.prompt, say)
    try:
        return reply(
            found,
            pkg,
            smtp,
            contract=contract,
            reject=reject,
            sender=cfg.get("inbox.reply_from"),
            queue_only=queue_only,
            dry_run=dry_run,
            eml=eml,
            hooks=replace(hooks, queued=queued),
            desk=desk,
            listed=listed,
            force=force,
            note=note,
            again=again,
        )
    finally:
        if desk is not None:
            desk.close()
