"""status without servers: the reply rules (contract pattern, fallback matching), remembered state, eta's changes."""

from __future__ import annotations

import json
import mailbox
import shutil
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportctl.desk import sources
from supportctl.errors import ExitCode
from supportctl.mail import outbox, replies
from supportctl.mail import status as core
from supportctl.package import manifest as package

PKG = package.load(package.bundled_root())


def _fill(template: str, **values: str) -> str:
    from supportctl.desk.reply import _fill as fill

    return fill(template, values)


@settings(max_examples=200, deadline=None)
@given(number=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9/_-]{0,30}[A-Za-z0-9]?\Z"), lang=st.sampled_from(["de", "en"]))
def test_the_number_the_desk_writes_with_its_templates_is_the_number_found(number: str, lang: str) -> None:
    t = PKG.process.reply
    body = _fill(t.contract_body[lang], name="Ada", contract=number, support="x", requests_url="https://x.example")
    subject = _fill(t.contract_subject[lang], contract=number)
    m = replies.Matcher(PKG.process)
    assert m.contract_in(body, "Re: something") == number
    assert m.contract_in("no number here", subject) == number
    assert m.contract_in("Thank you for your registration, we are on it.", "Re: registration") is None


@pytest.mark.parametrize(
    ("body", "number"),
    [
        ("Sehr geehrte Frau Meier,\n\nIhre Vertragsnummer lautet V-2026-0042.\n\nMfG", "V-2026-0042"),
        ("Ihre Vertragsnummer ist die 12345678.", "12345678"),
        ("Your contract number is SC-4711. Welcome!", "SC-4711"),
        ("Contract no. 2026/0815", "2026/0815"),
        ("Vertragsnummer:\n  SC-4711", "SC-4711"),
        # No number (yet), or a sentence that says more: nothing, never a word of it.
        ("Contract not yet assigned, we need 2 more days.", None),
        ("Your contract number will follow in 2 days.", None),
        ("Die Vertragsnummer für Ihren Support lautet: ABC123", None),
        ("Ihre Vertragsnummer erhalten Sie morgen.", None),
    ],
)
def test_a_contract_number_written_by_hand_is_the_number_never_a_word(body: str, number: str | None) -> None:
    """A desk member answering from their own mail program writes sentences, not the template's `Label: X`."""
    assert replies.Matcher(PKG.process).contract_in(body, "AW: Registrierung ABC-123-XYZ") == number


def test_a_package_pattern_replaces_the_templates_and_a_bad_one_is_refused(tmp_path: Path, cli: Any) -> None:
    root = tmp_path / "pkg"
    shutil.copytree(package.bundled_root(), root)
    manifest = root / "package.toml"
    text = manifest.read_text("utf-8")
    manifest.write_text(
        text.replace(
            'class_field = "support"', 'class_field = "support"\ncontract_pattern = "Ref\\\\. (?P<contract>SC-\\\\d+)"'
        )
    )
    pkg = package.load(root, cache=False)
    m = replies.Matcher(pkg.process)
    assert m.contract_in("Your contract: Ref. SC-4711 is active", "") == "SC-4711"
    assert m.contract_in("Contract number: 12345", "") is None
    manifest.write_text(
        text.replace('class_field = "support"', 'class_field = "support"\ncontract_pattern = "(unclosed"')
    )
    r = cli("status", "--package", str(root))
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "process.contract_pattern: not a valid regular expression" in r.stderr


def test_a_reply_written_by_hand_is_matched_by_address_and_membership_id(tmp_path: Path) -> None:
    accepted = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
    wanted = [
        replies.Wanted("20261125-090000-aaaa", "<a@example.org>", "ABC-123-XYZ", accepted),
        replies.Wanted("20261124-090000-bbbb", "<b@example.org>", "OTHER-1", accepted),
    ]
    box = mailbox.mbox(tmp_path / "mbox")
    for sender, subject in (
        ("someone@example.net", "Re: ABC-123-XYZ"),  # not the desk: ignored
        ("RegForm@msdirectservices.com", "Registration ABC-123-XYZ done"),
    ):
        msg = EmailMessage()
        msg["From"] = f"Registration desk <{sender}>"
        msg["To"] = "alice@example.org"
        msg["Subject"] = subject
        msg["Date"] = "Wed, 25 Nov 2026 11:00:00 +0100"
        msg.set_content("Hello,\n\nVertragsnummer: 4711-0815\n")
        box.add(msg)
    box.close()
    src = sources.open_local(str(tmp_path / "mbox"), 1 << 20)
    (found,) = replies.scan(src, wanted, replies.Matcher(PKG.process))
    assert found.submission == "20261125-090000-aaaa" and found.contract == "4711-0815"
    assert found.received_at == "2026-11-25T11:00:00+01:00"


def test_a_reply_in_html_only_gives_its_number_as_its_text_shows_it(tmp_path: Path) -> None:
    """A ticket system or a web mailer may send HTML only: the number is read from the text shown, with
    entities decoded and neither markup nor a style sheet taken for it."""
    wanted = [replies.Wanted("20261125-090000-aaaa", "<a@example.org>", "ABC-123-XYZ", None)]
    msg = EmailMessage()
    msg["From"] = "Registrierung <RegForm@msdirectservices.com>"
    msg["To"] = "alice@example.org"
    msg["Subject"] = "[Ticket#2026112510000123] AW: Registrierung ABC-123-XYZ"
    msg["Date"] = "Wed, 25 Nov 2026 11:00:00 +0100"
    html = (
        "<html><head><style>.n{font-weight:bold} /* Vertragsnummer: 1 */</style></head><body>"
        "<p>Sehr geehrte Frau M&uuml;ller,</p><p>Ihre Vertragsnummer&nbsp;lautet <span class=n>V-2026-0042</span>."
        "</p><p>Mit freundlichen Gr&uuml;&szlig;en</p></body></html>"
    )
    msg.set_content(html, subtype="html")
    box = mailbox.mbox(tmp_path / "mbox")
    box.add(msg)
    box.close()
    src = sources.open_local(str(tmp_path / "mbox"), 1 << 20)
    (found,) = replies.scan(src, wanted, replies.Matcher(PKG.process))
    assert found.kind == "contract" and found.contract == "V-2026-0042"


def test_an_outbox_entry_from_before_accepted_at_counts_from_its_250() -> None:
    e = outbox.Entry(
        id="x",
        state="sent",
        created="2026-11-25T09:00:00+00:00",
        updated="2026-11-26T09:00:00+00:00",
        message_id="<m@x>",
        sender="a@example.org",
        recipients=("d@example.org",),
        subject="s",
        history=(
            {"at": "2026-11-25T09:00:00+00:00", "state": "queued"},
            {"at": "2026-11-25T09:00:05+00:00", "state": "sent", "code": 250, "text": "ok"},
        ),
    )
    assert core.accepted_time(e) == datetime(2026, 11, 25, 9, 0, 5, tzinfo=timezone.utc)
    assert core.accepted_time(outbox.Entry.from_dict({**e.to_dict(), "state": "queued"})) is None
    with_field = outbox.Entry.from_dict({**e.to_dict(), "accepted_at": "2026-11-25T09:00:04+00:00"})
    assert core.accepted_time(with_field) == datetime(2026, 11, 25, 9, 0, 4, tzinfo=timezone.utc)


def test_eta_start_line_follows_tz_and_since_submit_needs_a_submission(cli: Any) -> None:
    r = cli("eta", "--at", "2026-11-27T16:30:00+00:00", "--tz", "Europe/Berlin")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Start: Fri 2026-11-27 17:30 CET"
    r = cli("eta", "--at", "2026-11-27T16:30:00+00:00", "--tz", "America/New_York")
    assert r.stdout.splitlines()[0] == "Start: Fri 2026-11-27 11:30 EST"
    r = cli("eta", "20261125")
    assert r.exit_code == ExitCode.USAGE and "--since-submit 20261125" in r.stderr
    r = cli("eta", "--since-submit", "--at", "2026-11-27T16:30:00+00:00")
    assert r.exit_code == ExitCode.USAGE
    r = cli("eta", "--since-submit", "--json")
    assert r.exit_code == ExitCode.ERROR
    assert r.json()["errors"][0]["message"] == "no submission has been accepted by a mail server yet"
    r = cli("status", "nope", "--json")
    assert r.exit_code == ExitCode.USAGE and json.loads(r.stdout)["ok"] is False
    r = cli("status", "--watch")
    assert r.exit_code == ExitCode.USAGE and "no submitted registration to watch" in r.stderr


_DSN_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@settings(max_examples=150, deadline=None)
@given(
    status_text=_DSN_TEXT,
    returned_text=_DSN_TEXT,
    action=st.sampled_from(["failed", "FAILED", "delayed", "delivered", "relayed", "expanded", ""]),
    headers_only=st.booleans(),
    encoded=st.booleans(),
)
def test_a_delivery_report_names_the_returned_message_and_only_failed_recipients(
    status_text: str, returned_text: str, action: str, headers_only: bool, encoded: bool
) -> None:
    """Whatever a report holds besides (hostile text, another encoding), `returned` never fails; it names
    the returned message's Message-ID and lists a recipient only when its delivery failed."""
    import base64

    b = "=_b"
    status = f"Reporting-MTA: dns; mx\r\n{status_text}\r\n\r\nFinal-Recipient: rfc822; desk@example.org\r\n"
    status += f"Action: {action}\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 no such user\r\n"
    cte = "Content-Transfer-Encoding: base64\r\n" if encoded else ""
    body = base64.encodebytes(status.encode()).decode() if encoded else status
    kind = "text/rfc822-headers" if headers_only else "message/rfc822"
    data = (
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{b}"\r\n\r\n'
        f"--{b}\r\nContent-Type: text/plain\r\n\r\n{returned_text}\r\n"
        f"--{b}\r\nContent-Type: message/delivery-status\r\n{cte}\r\n{body}\r\n"
        f"--{b}\r\nContent-Type: {kind}\r\n\r\nMessage-ID: <sub-1@example.org>\r\nSubject: x\r\n\r\nform\r\n--{b}--\r\n"
    ).encode()
    message_id, failed = replies.returned(data)
    assert message_id == "<sub-1@example.org>"
    assert failed == (("desk@example.org: 550 no such user",) if action.lower() == "failed" else ())
    replies.returned(data[: len(data) // 2])  # cut anywhere: still no exception
