"""Compose the registration e-mail: headers, a German+English summary, the PDF attached.

The body is the mail's content for the registration desk, deliberately in both languages whatever the
interface language, so it is not translated with `_()`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any

from supportctl import __version__
from supportctl.errors import ConfigError, UsageError
from supportctl.i18n import _
from supportctl.package.manifest import Package, fill_template

MAX_FORM_BYTES = 20 * 1024 * 1024
# C0, DEL, C1, line/paragraph separators and bidi controls: none belongs in a header or a one-line value.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def validate_form(pkg: Package, data: bytes, name: str | None = None) -> Any:
    """The form validation of `supportctl validate`, imported only when needed (pypdf)."""
    from supportctl.form import pdfform as form

    return form.validate_pdf(pkg, data, name=name)


@dataclass(frozen=True)
class Composed:
    message: EmailMessage
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    message_id: str
    filename: str
    pdf_sha256: str
    pdf_size: int
    summary: tuple[tuple[str, str, str], ...]  # (field, German line, English line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.sender,
            "to": list(self.to),
            "cc": list(self.cc),
            "subject": self.subject,
            "date": str(self.message["Date"]),
            "message_id": self.message_id,
            "attachment": {
                "filename": self.filename,
                "content_type": "application/pdf",
                "size": self.pdf_size,
                "sha256": self.pdf_sha256,
            },
            "body": self.message.get_body(("plain",)).get_content(),  # type: ignore[union-attr]
        }


def clean(value: object, limit: int = 200) -> str:
    """A header-safe one-line rendering of an untrusted form value."""
    text = _CONTROL.sub(" ", str(value))
    return " ".join(text.split())[:limit]


def check_address(addr: str, what: str) -> str:
    """The one e-mail address check (email-validator, no DNS): returns the address, else a usage error.

    ASCII only: SMTPUTF8 is rare at the servers this goes through, and smtplib cannot send it otherwise.
    `user@localhost` is accepted for local delivery (cron mail on the same machine).
    """
    from email_validator import EmailNotValidError, validate_email

    addr = addr.strip()
    local, _at, domain = addr.rpartition("@")
    probe = f"{local}@example.com" if domain == "localhost" else addr
    try:
        validate_email(probe, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise UsageError(
            _("{what}: {addr!r} is not an e-mail address").format(what=what, addr=addr),
            _("give one address like name@example.com"),
        ) from None
    return addr


def check_sender(
    text: str, key: str = "smtp.from", source: str = "flag", origin: str = "", flag: str = "--from"
) -> str:
    """The one check of a sender address, wherever it comes from: `name@example.com` or `Name <name@…>`.

    Returns the value as given (stripped). A bad value names its origin: the flag (`UsageError`, exit 2), or
    the setting in its file or environment variable (`ConfigError`, exit 8) — `source`/`origin` as in
    `config.Resolved`.
    """
    from email.utils import getaddresses

    value = text.strip()
    parsed = getaddresses([value]) if not _CONTROL.search(value) else []
    addr = parsed[0][1] if len(parsed) == 1 else ""
    if addr and (value == addr or value.endswith(">")):
        try:
            check_address(addr, flag)  # the address itself: the one address check
            return value
        except UsageError:
            pass
    if source == "file":
        raise ConfigError(
            _("{key} in {path}: {addr!r} is not an e-mail address").format(key=key, path=origin, addr=value),
            _("write it like name@example.com or Name <name@example.com> (`supportctl config smtp`)"),
        )
    if source == "env":
        raise ConfigError(
            _("{var}: {addr!r} is not an e-mail address").format(var=origin, addr=value),
            _("write it like name@example.com or Name <name@example.com>"),
        )
    raise UsageError(
        _("{what}: {addr!r} is not an e-mail address").format(what=flag, addr=value),
        _("give one address like name@example.com or Name <name@example.com>"),
    )


def address_of(sender: str) -> str:
    """The bare address of `addr` or `Name <addr>` (for the envelope and the Message-ID's domain)."""
    from email.utils import parseaddr

    return parseaddr(sender)[1] or sender


def split_addresses(text: str | None, what: str) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(check_address(a, what) for a in re.split(r"[,;\s]+", text) if a.strip())


def _display(pkg: Package, name: str, value: object, lang: str) -> str:
    spec = pkg.field(name)
    if isinstance(value, bool) or spec.type == "checkbox":
        yes = value is True or (isinstance(value, str) and value not in ("", "Off"))
        return {"de": "ja", "en": "yes"}[lang] if yes else {"de": "nein", "en": "no"}[lang]
    for c in spec.choices:
        if c.value == value:
            label = c.label.get(lang) or c.label.get("en") or c.value
            return label if label == c.value else f"{label} ({c.value})"
    return clean(value)


def compose(
    pkg: Package,
    values: Mapping[str, object],
    pdf: bytes,
    filename: str,
    sender: str | None,
    to: tuple[str, ...] = (),
    cc: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Composed:
    """Build the message. `values` are the validated form values; `to` defaults to the package's address."""
    from email.utils import format_datetime, make_msgid

    if not sender:
        raise ConfigError(_("no sender address"), _("set smtp.from (`supportctl config smtp`) or pass --from"))
    sender = check_sender(sender)
    recipients = to or (check_address(pkg.process.registration_address, "process.registration_address"),)
    when = now or datetime.now(timezone.utc)
    fmt_values: dict[str, str] = {}
    for spec in pkg.fields:
        raw = values.get(spec.name, "")
        fmt_values[spec.name] = clean(raw, 80) if not isinstance(raw, bool) else ("yes" if raw else "no")
    # Checked when the package loaded (`manifest.check_template`): only `{field}` placeholders.
    subject = clean(fill_template(pkg.process.subject, fmt_values), 250)
    summary = []
    for spec in pkg.fields:
        if spec.name not in values or values[spec.name] in ("", None):
            continue
        value = values[spec.name]
        de = f"{spec.label.get('de') or spec.label['en']}: {_display(pkg, spec.name, value, 'de')}"
        en = f"{spec.label['en']}: {_display(pkg, spec.name, value, 'en')}"
        summary.append((spec.name, de, en))
    domain = address_of(sender).rsplit("@", 1)[1]
    message_id = make_msgid(idstring="supportctl", domain=domain)
    safe_name = clean(filename, 120).replace("/", "_").replace("\\", "_") or "registration.pdf"
    body = "\n".join(
        [
            "Guten Tag,",
            "",
            "anbei das ausgefüllte Registrierungsformular für den Supportvertrag.",
            "",
            *[f"  {de}" for _n, de, _en in summary],
            "",
            "Hello,",
            "",
            "please find attached the completed registration form for the support contract.",
            "",
            *[f"  {en}" for _n, _de, en in summary],
            "",
            "-- ",
            f"supportctl {__version__}",
            "",
        ]
    )
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    msg["Subject"] = subject
    msg["User-Agent"] = f"supportctl/{__version__}"
    msg.set_content(body, charset="utf-8")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=safe_name)
    return Composed(
        message=msg,
        sender=sender,
        to=tuple(recipients),
        cc=tuple(cc),
        subject=subject,
        message_id=message_id,
        filename=safe_name,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        pdf_size=len(pdf),
        summary=tuple(summary),
    )


def open_session(settings: Mapping[str, Any], prompt: Any = None, warn: Any = None) -> Any:
    """An `smtp.Session` for the resolved settings; credentials are fetched on first connect."""
    from supportctl.mail import credentials, smtp

    smtp_settings = smtp.SmtpSettings.from_settings(settings)
    return smtp.Session(
        smtp_settings,
        lambda: credentials.obtain(settings, prompt=prompt),
        warn or (lambda _m: None),
    )


def compose_request(pkg: Package, sender: str | None, membership_id: str | None) -> EmailMessage:
    """The e-mail asking the registration desk for the document package, in German and English.

    Ready for the outbox or a .eml file. `sender` may carry a display name (`Name <addr>`).
    """
    from email.utils import formatdate, make_msgid, parseaddr

    msg = EmailMessage()
    if sender:
        if any(c in sender for c in "\r\n"):
            raise UsageError(
                _("{what}: {addr!r} is not an e-mail address").format(what="--from", addr=sender),
                _("give one address like name@example.com"),
            )
        check_address(parseaddr(sender)[1] or sender, "--from")
        try:
            msg["From"] = sender
        except (ValueError, IndexError):
            raise UsageError(
                _("{what}: {addr!r} is not an e-mail address").format(what="--from", addr=sender),
                _("give one address like name@example.com"),
            ) from None
    if membership_id and any(c in membership_id for c in "\r\n"):
        membership_id = " ".join(membership_id.split())
    msg["To"] = pkg.process.request_address
    msg["Subject"] = "Bitte um die Registrierungsunterlagen / Request for the registration documents"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="supportctl.invalid")
    msg["X-Mailer"] = "supportctl"
    ident_de = f"\nMeine Mitglieds- bzw. Abonnement-ID: {membership_id}\n" if membership_id else ""
    ident_en = f"\nMy membership or subscription ID: {membership_id}\n" if membership_id else ""
    body = (
        "Sehr geehrte Damen und Herren,\n"
        "\n"
        "das Herunterladen des Dokumentenpakets für die Registrierung des Supportvertrags ist bei mir "
        "fehlgeschlagen. Bitte senden Sie mir die Leistungsbeschreibung, die Vertragsbedingungen und das "
        "Registrierungsformular per E-Mail an diese Adresse.\n"
        f"{ident_de}"
        "\n"
        "Vielen Dank und freundliche Grüße\n"
        "\n"
        "-- English --\n"
        "\n"
        "Dear registration desk,\n"
        "\n"
        "I could not download the document package for registering my support contract. Please e-mail me "
        "the service description, the terms and the registration form at this address.\n"
        f"{ident_en}"
        "\n"
        "Thank you and kind regards\n"
    )
    msg.set_content(body, charset="utf-8")
    return msg
