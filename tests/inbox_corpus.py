"""Messages for the inbox tests and benchmark: registrations, odd mail and hostile mail, built here."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

RECEIVED = "Wed, 25 Nov 2026 10:00:00 +0100"
SUBJECT = "Support registration / Supportregistrierung: MSDN 12345 - Acme GmbH"

VALID = {
    "program": "MSDN",
    "membership_id": "12345",
    "company": "Acme GmbH",
    "first_name": "Anna",
    "last_name": "Dvořák",
    "email": "anna@example.org",
    "phone": "+49 30 1234567",
    "street": "Hauptstr. 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "support": "critical",
    "language": "de",
    "date": "2026-11-25",
    "terms_accepted": True,
}


def fake_pdf(**changes: Any) -> bytes:
    """A stand-in "PDF": the magic line, then the form values as JSON (read by `StandInValidator`)."""
    return b"%PDF-1.7\n" + json.dumps({**VALID, **changes}, ensure_ascii=False).encode("utf-8")


class _Report:
    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def to_dict(self) -> dict[str, Any]:
        return self.d


class StandInValidator:
    """Until the form branch lands: the same report shape as `form.validate_pdf`, simple rules, a call count."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, pkg: Any, data: bytes) -> _Report:
        from supportctl.errors import InvalidInputError

        self.calls += 1
        try:
            values = json.loads(data.split(b"\n", 1)[1])
        except (ValueError, IndexError):
            raise InvalidInputError("not a readable PDF") from None
        findings = []
        for k, v in values.items():
            if isinstance(v, str) and any(0x0400 <= ord(c) <= 0x04FF for c in v):
                bad = next(c for c in v if 0x0400 <= ord(c) <= 0x04FF)
                findings.append(
                    {
                        "field": k,
                        "code": "not-latin",
                        "message": f"contains U+{ord(bad):04X} {bad!r}, which is not Latin script",
                        "suggestion": "Zhukova",
                    }
                )
        cls = {"critical": "critical", "standard": "standard"}.get(values.get("support"))
        return _Report({"ok": not findings, "values": values, "findings": findings, "activation_class": cls})


def message(
    subject: str = SUBJECT,
    sender: str = "Anna Dvořák <anna@example.org>",
    received: str | None = RECEIVED,
    pdf: bytes | None = None,
    name: str = "registration-form.pdf",
    msgid: str | None = None,
    attachments: list[tuple[bytes, str, str]] | None = None,
    to: str = "RegForm@msdirectservices.com",
) -> bytes:
    m = EmailMessage()
    if received:
        m["Received"] = f"from client.example.org by mx.example.com with ESMTPS; {received}"
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = "Wed, 25 Nov 2026 09:58:00 +0100"
    m["Message-ID"] = msgid or f"<{abs(hash((subject, sender, pdf, name)))}@example.org>"
    m.set_content("Please find my registration attached.\n")
    if pdf is not None:
        m.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    for data, ctype, fname in attachments or []:
        main, sub = ctype.split("/")
        m.add_attachment(data, maintype=main, subtype=sub, filename=fname)
    return bytes(m)


def nested(depth: int) -> bytes:
    head = "From: x@example.org\r\nSubject: nested\r\nMessage-ID: <nested@example.org>\r\nMIME-Version: 1.0\r\n"
    body = "text\r\n"
    for i in range(depth):
        b = f"b{i}"
        body = f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n{body}\r\n--{b}--\r\n'
    return (head + body).encode()


def corpus() -> dict[str, bytes]:
    """name -> raw message. Expected statuses at 2026-11-25 10:30 +01:00 are in EXPECTED."""
    many = [(b"x", "text/plain", f"f{i}.txt") for i in range(150)]
    return {
        "critical": message(pdf=fake_pdf(), msgid="<critical@example.org>"),
        "standard": message(
            pdf=fake_pdf(support="standard", membership_id="777"),
            msgid="<standard@example.org>",
            received="Wed, 25 Nov 2026 09:00:00 +0100",
        ),
        "invalid": message(
            pdf=fake_pdf(last_name="Жукова", membership_id="999"),
            msgid="<invalid@example.org>",
            sender="Olga <olga@example.org>",
        ),
        "duplicate": message(pdf=fake_pdf(), msgid="<dup@example.org>", received="Wed, 25 Nov 2026 10:05:00 +0100"),
        # To the registration address without a form: the applicant must hear that the form is missing.
        "chat": message(subject="Lunch?", msgid="<chat@example.org>"),
        # To someone else (a list the desk is on): not a registration at all.
        "newsletter": message(subject="News", msgid="<news@example.org>", to="team@example.com"),
        "zip": message(
            pdf=None,
            msgid="<zip@example.org>",
            attachments=[(b"PK\x03\x04" + b"\0" * 100, "application/zip", "form.zip")],
        ),
        "fake-pdf": message(
            subject="hello", msgid="<fake@example.org>", attachments=[(b"MZ\x90\x00", "application/pdf", "form.pdf")]
        ),
        "many-parts": message(subject="spam", msgid="<many@example.org>", attachments=many),
        "deep": nested(40),
        "huge": message(subject="big", msgid="<huge@example.org>", attachments=[(b"A" * 300_000, "text/plain", "a")]),
        "bad-charset": (
            b"From: =?x-unknown?B?QUJD?= <weird@example.org>\r\nSubject: =?utf-8?Q?=E2=82?= \x1b[31mred\r\n"
            b"Message-ID: <charset@example.org>\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\n\xff\xfe\r\n"
        ),
        "broken-mime": (
            b"From: a@example.org\r\nSubject: broken\r\nMessage-ID: <broken@example.org>\r\n"
            b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\nContent-Type: application/pdf\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n"
        ),
        "no-dates": b"From: n@example.org\r\nSubject: none\r\nMessage-ID: <nodate@example.org>\r\n\r\nhi\r\n",
    }


EXPECTED = {
    "critical": "due-soon",
    "standard": "open",
    "invalid": "invalid",
    "duplicate": "duplicate",
    "chat": "invalid",
    "newsletter": "not-a-registration",
    "zip": "invalid",
    "fake-pdf": "invalid",
    "many-parts": "skipped",
    "deep": "skipped",
    "huge": "skipped",
    "bad-charset": "not-a-registration",
    "broken-mime": "invalid",
    "no-dates": "not-a-registration",
}


def write_maildir(root: Path, messages: dict[str, bytes]) -> dict[str, str]:
    """A Maildir with one file per message in new/; returns name -> file key."""
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    keys = {}
    for i, (name, data) in enumerate(messages.items()):
        fname = f"1764061200.M{i}P1.test"
        (root / "new" / fname).write_bytes(data)
        keys[name] = f"new/{fname}"
    return keys
