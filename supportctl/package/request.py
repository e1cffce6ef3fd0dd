"""`fetch --request`, the fallback when the download fails: ask the registration desk for the package by e-mail.

The mail is composed by `mail.compose.compose_request`; this workflow decides where it goes: through the
outbox at once (SMTP configured, or `send`), else into a .eml file for the user's own mail program.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportctl.errors import ConfigError, ExitCode, UsageError
from supportctl.i18n import _

if TYPE_CHECKING:
    from email.message import EmailMessage

    from supportctl.config import Config
    from supportctl.mail.outbox import Entry, SendResult
    from supportctl.mail.submit import Hooks
    from supportctl.package.manifest import Package

DEFAULT_EML = Path("package-request.eml")


@dataclass(frozen=True)
class RequestResult:
    message: EmailMessage
    sender: str | None
    eml: Path | None = None  # written here (not sent)
    entry: Entry | None = None  # queued in the outbox
    sent: SendResult | None = None
    no_smtp: bool = False  # written to the default file because SMTP is not configured

    @property
    def exit_code(self) -> ExitCode:
        return self.sent.exit_code if self.sent is not None else ExitCode.OK

    @staticmethod
    def failed_hint() -> str:
        """What to do when the server refused the request."""
        return _("read the server's reason; correct the addresses and run `supportctl fetch --request --send` again")

    @staticmethod
    def queued_line(entry: Entry) -> str:
        return _("Queued the request to {address} as {id} in the outbox").format(
            address=entry.recipients[0], id=entry.id
        )

    def lines(self, text: bool = True) -> list[str]:
        """What `fetch --request` says (stderr) of a request written to a file: why a file, and (`text`) where
        it is and what to do with it."""
        why = _("SMTP is not configured, so the request was written to a file (`supportctl config smtp`, then --send)")
        lines = [why] if self.no_smtp else []
        if text:
            if not self.sender:
                lines.append(_("note: no sender address given (--from); your mail program will fill it in"))
            wrote = _("Wrote the request to {path}; open it in your mail program and send it to {address}")
            lines.append(wrote.format(path=self.eml, address=self.message["To"]))
        return lines

    def to_dict(self) -> dict[str, Any]:
        msg = self.message
        head = {"to": msg["To"], "from": msg["From"], "subject": msg["Subject"]}
        if self.entry is None:
            assert self.eml is not None
            return {"eml": str(self.eml.absolute()), **head}
        sent = self.sent is not None and self.sent.state == "sent"
        return {"outbox": self.entry.id, **head, "message_id": self.entry.message_id, "sent": sent}


def request_package(
    pkg: Package,
    cfg: Config,
    *,
    sender: str | None = None,
    send: bool = False,
    eml: Path | None = None,
    hooks: Hooks | None = None,
) -> RequestResult:
    """Compose the request and send it through the outbox (`send`, or SMTP configured and no `eml`),
    else write it to `eml` (default `package-request.eml`).

    The sender is `sender`, else `profile.email`, else `smtp.from` (for the .eml too, as the README says);
    sending needs one.
    """
    from supportctl.mail import compose as mail

    if send and eml is not None:
        raise UsageError(_("give either --send or --eml"))
    sender = sender or cfg.get("profile.email") or cfg.get("smtp.from")
    membership = cfg.get("profile.membership_id")
    if send or (eml is None and cfg.get("smtp.host")):
        from supportctl.mail import submit

        smtp = submit.smtp_settings(cfg)
        sender = sender or smtp.get("smtp.from")
        if not sender:
            raise ConfigError(
                _("no sender address for the request"), _("pass --from, or set smtp.from (`supportctl config smtp`)")
            )
        msg = mail.compose_request(pkg, sender, membership)
        entry, result = submit.queue_and_send(msg, smtp, hooks=hooks or submit.NO_HOOKS)
        return RequestResult(msg, sender, entry=entry, sent=result)
    from supportctl.package.fetch import write_eml

    msg = mail.compose_request(pkg, sender, membership)
    path = eml or DEFAULT_EML
    write_eml(msg, path)
    return RequestResult(msg, sender, eml=path, no_smtp=eml is None)
