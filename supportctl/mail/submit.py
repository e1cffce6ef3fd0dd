"""The sending workflows: `submit` (the registration form) and one message sent at once through the outbox.

A workflow takes plain values and returns a result record carrying its exit code; it never prints,
prompts or exits. What it needs from the person running it (a password prompt) and what they should see
while it runs (a warning; the message is queued, before the network is touched) goes through `Hooks`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportctl.errors import ConfigError, ExitCode, InvalidInputError, os_reason
from supportctl.i18n import _
from supportctl.mail import compose as mail

if TYPE_CHECKING:
    from email.message import EmailMessage

    from supportctl.config import Config
    from supportctl.mail.credentials import Prompt
    from supportctl.mail.outbox import Entry, SendResult, SendRun
    from supportctl.mail.smtp import Session
    from supportctl.package.manifest import Package

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Hooks:
    """How a workflow reaches the person running it; the CLI fills these in, the core never talks itself.

    `prompt`: a hidden password prompt (given only at a terminal). `warn`: one line of talk.
    `queued(entry, reused)`: the message is safely in the outbox (`reused`: an earlier run had queued it).
    """

    prompt: Prompt | None = None
    warn: Warn | None = None
    queued: Callable[[Entry, bool], None] | None = None

    def on_queued(self, entry: Entry, reused: bool = False) -> None:
        if self.queued is not None:
            self.queued(entry, reused)


NO_HOOKS = Hooks()


def smtp_settings(cfg: Config) -> dict[str, Any]:
    """The resolved `smtp.*` settings, after refusing a config file that holds a password."""
    from supportctl import config
    from supportctl.mail import credentials

    credentials.refuse_secrets_in_file(config.read_file(cfg.path), cfg.path)
    return {k: r.value for k, r in cfg.values.items() if k.startswith("smtp.")}


def open_session(smtp: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> Session:
    """An SMTP session; a missing server is a configuration error here, before anything is queued."""
    session: Session = mail.open_session(smtp, prompt=hooks.prompt, warn=hooks.warn)
    return session


def send_now(session: Session, entry: Entry) -> SendResult:
    """Send one message just queued, over `session`."""
    from supportctl.mail import outbox

    return outbox.send([entry.id], session, mode="submit")[0]


def send_queued(smtp: Mapping[str, Any], ids: list[str] | None, mode: str, hooks: Hooks = NO_HOOKS) -> list[SendResult]:
    """Send messages of the outbox (`ids`, or every one `mode` makes eligible) over one connection."""
    from supportctl.mail import outbox

    session = open_session(smtp, hooks)
    try:
        return outbox.send(ids, session, mode=mode)
    finally:
        session.close()


def retry(smtp: Mapping[str, Any], ids: list[str] | None, hooks: Hooks = NO_HOOKS) -> SendRun:
    """`outbox retry`: these messages now, whatever their backoff; `ids` None: every pending one (a message
    that is not pending is then left out, not reported, and the uncertain ones are named); no connection at
    all when nothing is pending."""
    from supportctl.mail import outbox

    if ids is not None:
        return outbox.send_run(send_queued(smtp, ids, "retry", hooks), waiting=False)
    known = outbox.entries()
    if not any(e.state in outbox.PENDING for e in known):
        return outbox.send_run([], waiting=True, known=known)
    results = send_queued(smtp, None, "retry", hooks)
    return outbox.send_run([r for r in results if r.skipped != "state"], waiting=True)


def flush(smtp: Mapping[str, Any], hooks: Hooks = NO_HOOKS) -> SendRun:
    """`outbox flush`: what is due, over one connection (the uncertain ones named); no connection at all
    when nothing waits."""
    from supportctl.mail import outbox

    known = outbox.entries()
    if not any(e.state in ("queued", "deferred") for e in known):
        return outbox.send_run([], waiting=True, known=known)
    return outbox.send_run([r for r in send_queued(smtp, None, "flush", hooks) if r.skipped != "state"], waiting=True)


def server_summary(smtp: Mapping[str, Any]) -> dict[str, Any]:
    """Where `submit` would send (for --dry-run): the password's source, never the password."""
    from supportctl.mail import credentials
    from supportctl.mail import smtp as smtp_mod

    return {
        "host": smtp.get("smtp.host"),
        "port": smtp.get("smtp.port") or smtp_mod.DEFAULT_PORTS.get(smtp.get("smtp.security") or "starttls"),
        "security": smtp.get("smtp.security"),
        "username": smtp.get("smtp.username"),
        "auth": smtp.get("smtp.auth"),
        "password_source": credentials.describe_source(smtp),
    }


def server_line(server: dict[str, Any]) -> str:
    """The server part of `submit --dry-run`: the password's source in words, never the password."""
    from supportctl.mail.credentials import source_label

    host = server["host"] or _("(not configured)")
    port = server["port"] or "-"
    if server["password_source"] == "none":
        return _("Server: {host}:{port} ({security}), no login").format(
            host=host, port=port, security=server["security"]
        )
    return _("Server: {host}:{port} ({security}), login {user}, password from {source}").format(
        host=host,
        port=port,
        security=server["security"],
        user=server["username"] or "-",
        source=source_label(server["password_source"]),
    )


def dry_run_text(composed: mail.Composed, server: dict[str, Any]) -> str:
    """`submit --dry-run` as text: the message's headers, attachment and body, then the server it would use."""
    d = composed.to_dict()
    lines = [
        f"From: {d['from']}",
        f"To: {', '.join(d['to'])}",
        *([f"Cc: {', '.join(d['cc'])}"] if d["cc"] else []),
        f"Date: {d['date']}",
        f"Message-ID: {d['message_id']}",
        f"Subject: {d['subject']}",
        _("Attachment: {name} (application/pdf, {size} bytes, sha256 {sha})").format(
            name=d["attachment"]["filename"], size=d["attachment"]["size"], sha=d["attachment"]["sha256"]
        ),
        "",
        d["body"].rstrip("\n"),
        "",
        server_line(server),
        _("Dry run: nothing was sent or queued."),
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class SubmitResult:
    """What `submit` did: wrote a .eml, showed a dry run, or queued (and tried to send) the message."""

    composed: mail.Composed
    entry: Entry | None = None
    sent: SendResult | None = None
    eml: Path | None = None
    server: dict[str, Any] | None = None  # --dry-run

    @property
    def exit_code(self) -> ExitCode:
        return self.sent.exit_code if self.sent is not None else ExitCode.OK

    @property
    def next_step(self) -> str:
        """Said once the message was sent now."""
        return _("Next: `supportctl status` shows whether the desk answered and when support will be active.")

    def to_dict(self) -> dict[str, Any]:
        """The --json data: the .eml written, the dry run's message and server, or the queued message (the
        outcome of sending it is added as `result` where it is reported)."""
        message = self.composed.to_dict()
        if self.eml is not None:
            return {"eml": str(self.eml), "message": message, "sent": False}
        if self.server is not None:
            return {"dry_run": True, "message": message, "server": self.server}
        assert self.entry is not None
        return {"id": self.entry.id, "message": message}

    def notes(self) -> list[str]:
        """What the person is told (on stderr) of a message written to a .eml file."""
        if self.eml is None:
            return []
        wrote = _(
            "Wrote the message to {path}; nothing was sent: open it in your mail program and send it to {address}"
        )
        return [
            wrote.format(path=self.eml, address=", ".join(self.composed.to)),
            _("Then `supportctl eta` says when support will be active."),
        ]

    def text(self) -> str:
        """The output of a message not sent: the .eml file's absolute path, or the dry run."""
        if self.eml is not None:
            return str(self.eml.absolute())
        assert self.server is not None
        return dry_run_text(self.composed, self.server)


def read_form(path: Path) -> bytes:
    from supportctl.fsutil import read_regular

    try:
        if path.stat().st_size > mail.MAX_FORM_BYTES:
            raise InvalidInputError(_("{path} is too large for a registration form").format(path=path))
        # A FIFO or device is refused, not read until it ends.
        return read_regular(path, mail.MAX_FORM_BYTES, follow_symlinks=True)
    except OSError as exc:
        raise InvalidInputError(_("cannot read {path}: {reason}").format(path=path, reason=os_reason(exc))) from None


def submit(
    pkg: Package,
    form: Path,
    smtp: Mapping[str, Any],
    *,
    to: str | None = None,
    again: bool = False,
    dry_run: bool = False,
    eml: Path | None = None,
    hooks: Hooks = NO_HOOKS,
) -> SubmitResult:
    """Validate the filled form, compose the mail, queue it durably and send it at once.

    `smtp` holds the resolved `smtp.*` settings (`smtp.from` and `smtp.cc` included, flags applied).
    An invalid form raises `FormFindingsError` (exit 4) with every finding. With `eml` the message is
    written there and nothing is queued; with `dry_run` nothing is written at all. The same form to the
    same address is refused (`DuplicateSubmission`) unless `again`.
    """
    from supportctl.form import pdfform as form_core
    from supportctl.fsutil import atomic_write
    from supportctl.mail import outbox

    data = read_form(form)
    report = mail.validate_form(pkg, data, form.name)
    if not report.ok:
        raise form_core.FormFindingsError(list(report.findings))
    # The sender: --from or smtp.from, else the address the form gives (where the contract number goes).
    own = next((report.values.get(f.name) for f in pkg.fields if f.type == "email" and report.values.get(f.name)), None)
    composed = mail.compose(
        pkg,
        report.values,
        data,
        form.name,
        smtp.get("smtp.from") or (str(own) if own else None),
        to=mail.split_addresses(to, "--to"),
        cc=mail.split_addresses(smtp.get("smtp.cc"), "--cc"),
    )
    if eml is not None:
        from email import policy

        atomic_write(eml, composed.message.as_bytes(policy=policy.SMTP), 0o600)
        return SubmitResult(composed, eml=eml)
    if dry_run:
        return SubmitResult(composed, server=server_summary(smtp))
    if not smtp.get("smtp.host"):  # the one way on without a mail server, said where it is needed
        raise ConfigError(
            _("no SMTP server configured"),
            _("run `supportctl config smtp`, or write the message for your mail program with --eml FILE"),
        )
    session = open_session(smtp, hooks)
    try:
        key = outbox.make_dedupe_key(composed.pdf_sha256, composed.to[0])
        entry = outbox.enqueue(composed.message, key, again=again)
        hooks.on_queued(entry)
        return SubmitResult(composed, entry, send_now(session, entry))
    finally:
        session.close()


def queue_and_send(
    msg: EmailMessage,
    smtp: Mapping[str, Any],
    *,
    hooks: Hooks = NO_HOOKS,
) -> tuple[Entry, SendResult]:
    """Queue `msg` in the outbox and send it at once (no dedupe): the entry and the outcome."""
    from supportctl.mail import outbox

    session = open_session(smtp, hooks)
    try:
        entry = outbox.enqueue(msg)
        hooks.on_queued(entry)
        return entry, send_now(session, entry)
    finally:
        session.close()
