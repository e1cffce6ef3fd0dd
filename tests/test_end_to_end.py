"""The whole process end to end, no mocks: fill → submit → inbox → reply → the applicant's mailbox.

One real aiosmtpd server on 127.0.0.1 (STARTTLS, AUTH, throw-away CA: tests/smtpserver.py) plays the mail
system: every message it accepts is delivered into a Maildir per recipient, with a `Received:` header
stamped by the server's clock (set to a fixed business-day time so the due time is known). The applicant
fills and submits in real processes; the desk triages its Maildir and replies through the same server.
"""

from __future__ import annotations

import base64
import email
import json
import mailbox
import smtplib
import ssl
from collections.abc import Iterator
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from supportctl.desk import triage as inbox
from supportctl.errors import ExitCode
from supportctl.form import pdfform as form
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests import formkit, smtpserver

DESK = "RegForm@msdirectservices.com"
APPLICANT = smtpserver.USER  # the applicant's own mail account on the test server (alice@example.org)
RECEIVED = "Wed, 25 Nov 2026 10:00:00 +0100"  # what the server's clock says when the form arrives
NOW = "2026-11-25T10:30:00+01:00"


class MailSystem:
    """The server plus its mail store: `<root>/<recipient>/` is that recipient's Maildir."""

    def __init__(self, srv: smtpserver.Server, root: Path) -> None:
        self.srv = srv
        self.root = root
        self.clock = RECEIVED
        inner = srv.handler.handle_DATA

        async def handle_DATA(server: Any, session: Any, envelope: Any) -> str:
            reply = await inner(server, session, envelope)
            if reply.startswith("250"):
                queue_id = reply.rsplit(" ", 1)[-1]
                stamp = (
                    f"Received: from {session.host_name} ([{session.peer[0]}]) by mx.test.invalid"
                    f" with ESMTPSA id {queue_id} for <{{rcpt}}>; {self.clock}\r\n"
                )
                self.root.mkdir(parents=True, exist_ok=True)
                for rcpt in envelope.rcpt_tos:
                    box = mailbox.Maildir(self.maildir(rcpt), create=True)
                    box.add(stamp.replace("{rcpt}", rcpt).encode() + bytes(envelope.original_content))
                    box.close()
            return reply

        srv.handler.handle_DATA = handle_DATA  # type: ignore[method-assign]

    def maildir(self, address: str) -> Path:
        return self.root / address.lower()

    def messages(self, address: str) -> list[EmailMessage]:
        d = self.maildir(address)
        if not d.exists():
            return []
        return [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in sorted([*(d / "new").iterdir(), *(d / "cur").iterdir()])  # a reply moves it to cur/ with R
        ]


@pytest.fixture
def mail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MailSystem]:
    srv = smtpserver.start(tmp_path)
    for k, v in srv.env().items():  # the applicant's and the desk's SMTP settings: same server
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SUPPORTCTL_SMTP_TIMEOUT", "5")
    yield MailSystem(srv, tmp_path / "mail")
    srv.stop()


def _data(tmp_path: Path, **changes: object) -> Path:
    p = tmp_path / "me.json"
    p.write_text(json.dumps({**formkit.GOOD, "email": APPLICANT, **changes}, ensure_ascii=False), "utf-8")
    return p


def _inbox(cli: Any, mail: MailSystem) -> dict[str, dict[str, Any]]:
    r = cli("inbox", str(mail.maildir(DESK)), "--now", NOW, "--json")
    assert r.exit_code == 0, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    return {rec["id"]: rec for rec in records}


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_fill_submit_triage_reply_done(cli: Any, proc: Any, mail: MailSystem, tmp_path: Path) -> None:
    # The applicant fills the form without prompts and submits it (real processes).
    r = proc("fill", "--data", str(_data(tmp_path)), "--out", "form.pdf", "--no-input")
    assert r.exit_code == 0, r.stderr
    r = proc("submit", "form.pdf", "--json")
    assert r.exit_code == 0, r.stderr
    submitted = r.json()["data"]
    submitted_id = submitted["message"]["message_id"]
    assert submitted["result"]["state"] == "sent"

    # It arrived in the desk's Maildir, stamped by the server.
    (arrived,) = mail.messages(DESK)
    assert arrived["Message-ID"] == submitted_id and RECEIVED in arrived["Received"]

    # The desk's triage: a business-critical registration, due by the eta rules for its received time.
    records = _inbox(cli, mail)
    (rec,) = records.values()
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    received = datetime.fromisoformat("2026-11-25T10:00:00+01:00")
    want_due = engine.compute(received, "critical").due
    assert rec["class"] == "critical" and rec["status"] == "due-soon"
    assert rec["received"] == received.isoformat() and rec["received_from"] == "received"
    assert rec["due"] == want_due.isoformat() == "2026-11-25T11:00:00+01:00"
    assert rec["seconds_until_due"] == 1800 and rec["findings"] == []
    assert rec["company"] == formkit.GOOD["company"]

    # The desk replies with the contract number: queued, sent at once through the same server.
    r = cli("inbox", "reply", rec["id"], "--contract", "12345", "--json")
    assert r.exit_code == 0, r.stderr
    sent = r.json()["data"]
    assert sent["sent"] is True and sent["to"] == APPLICANT

    (reply,) = mail.messages(APPLICANT)
    assert reply["In-Reply-To"] == submitted_id and submitted_id in reply["References"]
    assert reply["Message-ID"] == sent["message_id"] and reply["From"] == DESK
    body = _body(reply)
    assert "12345" in body and "Contract number" in body and "Vertragsnummer" in body
    assert body.index("Contract number") < body.index("Vertragsnummer")  # the form asked for English

    # A second triage shows the registration as done (with the reply's outbox entry).
    (again,) = _inbox(cli, mail).values()
    assert again["id"] == rec["id"] and again["status"] == "done"
    assert again["done"]["contract"] == "12345" and again["done"]["outbox"] == sent["outbox"]
    assert len(mail.messages(DESK)) == 1 and len(mail.messages(APPLICANT)) == 1  # nothing sent twice


def _tampered(pkg: package.Package) -> bytes:
    """A valid filled form whose last_name was changed afterwards (by a PDF editor) to a Cyrillic name."""
    from pypdf.generic import NameObject, TextStringObject

    good = form.fill_pdf(pkg, {**formkit.GOOD, "email": "olga@example.org"})

    def change(w: Any) -> None:
        formkit.field_obj(w, "last_name")[NameObject("/V")] = TextStringObject("Жукова")

    return formkit.rewrite(good, change)


def _raw_send(mail: MailSystem, msg: EmailMessage) -> None:
    """What a mail program does: STARTTLS, AUTH, send — no supportctl involved."""
    ctx = ssl.create_default_context(cafile=str(mail.srv.ca_file))
    with smtplib.SMTP("127.0.0.1", mail.srv.port, timeout=5) as s:
        s.starttls(context=ctx)
        s.ehlo()
        # smtplib's login() sends ASCII only; the test password is not: AUTH PLAIN by hand, UTF-8.
        creds = base64.b64encode(f"\0{smtpserver.USER}\0{smtpserver.PASSWORD}".encode()).decode()
        code, _text = s.docmd("AUTH", "PLAIN " + creds)
        assert code == 235
        s.send_message(msg)


def test_non_latin_name_refused_by_fill_and_a_tampered_form_is_rejected(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path
) -> None:
    # fill refuses a non-Latin name (exit 4), with a transliteration to use instead.
    r = proc("fill", "--data", str(_data(tmp_path, last_name="Жукова")), "--out", "form.pdf", "--no-input")
    assert r.exit_code == ExitCode.FORM_INVALID, r.stderr
    assert "U+0416" in r.stderr and "Zhukova" in r.stderr and not Path("form.pdf").exists()
    # submit refuses the tampered form too (exit 4): it has to go out some other way.
    pkg = package.load(package.bundled_root())
    Path("tampered.pdf").write_bytes(_tampered(pkg))
    r = cli("submit", "tampered.pdf", "--to", DESK)
    assert r.exit_code == ExitCode.FORM_INVALID and "U+0416" in r.stderr
    assert mail.messages(DESK) == []

    msg = EmailMessage()
    msg["From"] = "Olga Zhukova <olga@example.org>"
    msg["To"] = DESK
    msg["Subject"] = "Support registration / Supportregistrierung: MSDN ABC-123-XYZ - Olga"
    msg["Message-ID"] = "<tampered-1@example.org>"
    msg.set_content("My registration form.\n")
    msg.add_attachment(Path("tampered.pdf").read_bytes(), maintype="application", subtype="pdf", filename="f.pdf")
    _raw_send(mail, msg)

    (rec,) = _inbox(cli, mail).values()
    assert rec["status"] == "invalid" and rec["due"] is None
    assert any("last_name" in reason and "U+0416" in reason for reason in rec["reasons"]), rec["reasons"]
    assert [f["code"] for f in rec["findings"]] == ["not-latin"]

    # A contract cannot be sent for an invalid form; the reject mail lists every finding.
    r = cli("inbox", "reply", rec["id"], "--contract", "1")
    assert r.exit_code == ExitCode.USAGE and "--reject" in r.stderr
    r = cli("inbox", "reply", rec["id"], "--reject")
    assert r.exit_code == 0, r.stderr
    (reply,) = mail.messages("olga@example.org")
    assert reply["In-Reply-To"] == "<tampered-1@example.org>"
    body = _body(reply)
    # Each part entirely in its language: the field by its label, the finding from the validator in that language.
    english, german = (
        body.split("-" * 60) if body.index("Dear") < body.index("Guten Tag") else body.split("-" * 60)[::-1]
    )
    assert "field Last name: U+0416 CYRILLIC CAPITAL LETTER ZHE" in english and "suggestion: Zhukova" in english
    assert "Feld Nachname: U+0416" in german and "Vorschlag: Zhukova" in german
    assert "last_name" not in body
    (after,) = _inbox(cli, mail).values()
    assert after["status"] == "done" and after["done"]["action"] == "reject"
    assert inbox.load_done()[rec["id"]]["contract"] is None
