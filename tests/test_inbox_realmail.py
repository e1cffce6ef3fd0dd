"""`inbox` on mail as real mail programs build it, around real filled forms and the real validator.

Every form in every mail is its own registration; other PDFs are listed, not judged; a mail to the desk
without a form is invalid ("no registration form attached"); one unreadable message never stops the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from supportctl.errors import ExitCode
from tests import realmail as rm
from tests.inbox_corpus import write_maildir

NOW = "2026-11-25T10:30:00+01:00"


def _records(cli: Any, source: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    r = cli("inbox", str(source), "--now", NOW, "--json", *args)
    return r.exit_code, [json.loads(line) for line in r.stdout.splitlines()], r.stderr


def _by_key(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        out.setdefault(rec["key"], []).append(rec)
    return out


@pytest.fixture(scope="module")
def corpus() -> dict[str, bytes]:
    return rm.corpus()


def test_every_form_in_every_mail_as_real_programs_send_it(tmp_path: Path, cli: Any, corpus: dict[str, bytes]) -> None:
    keys = write_maildir(tmp_path / "M", corpus)
    code, records, stderr = _records(cli, tmp_path / "M")
    got = _by_key(records)
    status = {name: [r["status"] for r in got[k]] for name, k in keys.items()}
    # The same form arrives in many mails: the first (by received time, then key) is the registration.
    names = ("thunderbird", "outlook", "exchange-online", "apple", "forwarded", "x-pdf", "uuencode", "rfc2047")
    for name in (*names, "description-first"):
        assert status[name][0] in ("due-soon", "duplicate"), (name, got[keys[name]])
    # Exchange Online's 24 KB of header before the Content-Type is read to its end, from and subject with it.
    exo = got[keys["exchange-online"]][0]
    assert (exo["sender"], exo["subject"]) == ("Dvořák, Antonín <antonin@example.com>", "WG: Registrierung"), exo
    assert exo["attachment"] == "Registrierung.pdf"
    assert sorted(status["two-forms"]) == ["duplicate", "open"]  # its first form is the same as the others'
    assert status["no-form"] == ["invalid"] and status["only-description"] == ["invalid"]
    assert got[keys["no-form"]][0]["reasons"] == ["no registration form attached"]
    assert "which has no fields: sd.pdf" in got[keys["only-description"]][0]["reasons"][0]
    assert status["elsewhere"] == ["not-a-registration"]
    # A Date: that cannot be true is not used: the file's arrival time dates the message instead.
    assert status["date-9999"] == ["invalid"] and got[keys["date-9999"]][0]["received_from"] == "arrival"
    # A Received: date that cannot be true falls back to the Date: header.
    assert got[keys["received-9999"]][0]["received_from"] == "date"
    # Names decoded (RFC 2231 from Outlook, RFC 2047), the service description listed but not judged.
    assert got[keys["outlook"]][0]["attachment"] == "Registrierung Łukasz.pdf"
    assert got[keys["rfc2047"]][0]["attachment"] == "Anmeldung Dvořák.pdf"
    first = got[keys["description-first"]][0]
    assert [(a["name"], a["role"]) for a in first["attachments"]] == [
        ("service-description.pdf", "pdf"),
        ("registration-form-filled.pdf", "this-form"),
    ]
    assert first["findings"] == []
    assert got[keys["uuencode"]][0]["attachment"] == "form.pdf"
    assert code == 0, stderr
    # On stdin there is no arrival time: a message that cannot be dated is skipped with its reason, exit 11.
    r = cli("inbox", "-", "--now", NOW, "--json", input=corpus["date-9999"].decode())
    rec = json.loads(r.stdout)
    assert r.exit_code == ExitCode.PARTIAL and rec["status"] == "skipped" and "not plausible" in rec["reasons"][0]


def test_two_forms_are_two_registrations_with_their_own_ids(tmp_path: Path, cli: Any) -> None:
    crit = rm.form(membership_id="CRIT-1-XYZ")
    std = rm.form(support="standard", membership_id="STD-2-XYZ")
    keys = write_maildir(
        tmp_path / "M", {"two": rm.thunderbird([("a.pdf", crit), ("b.pdf", std)], "<two@example.org>")}
    )
    code, records, _ = _records(cli, tmp_path / "M")
    assert code == 0 and all(r["key"] == keys["two"] for r in records)
    by_index = {r["form_index"]: r for r in records}
    base = by_index[1]["id"]
    assert by_index[2]["id"] == f"{base}.2"
    assert (by_index[1]["status"], by_index[1]["class"]) == ("due-soon", "critical")
    assert (by_index[2]["status"], by_index[2]["class"]) == ("open", "standard")
    # --fail-on overdue sees the second form too once it is late.
    r = cli("inbox", str(tmp_path / "M"), "--now", "2026-11-26T10:30:00+01:00", "--fail-on", "overdue")
    assert r.exit_code == ExitCode.OVERDUE and "2 registration(s) overdue" in r.stderr
    # Ids a person can type: a unique prefix works, the shared prefix of both is ambiguous and lists them.
    shown = cli("inbox", "show", f"{base}.2", "--now", NOW, "--json")
    data = json.loads(shown.stdout)["data"]
    assert shown.exit_code == 0 and (data["id"], data["class"], data["values"]["membership_id"]) == (
        f"{base}.2",
        "standard",
        "STD-2-XYZ",
    )
    amb = cli("inbox", "show", base[:6])
    assert amb.exit_code == ExitCode.USAGE and base in amb.stderr and f"{base}.2" in amb.stderr
    exact = cli("inbox", "show", base, "--now", NOW)
    assert exact.exit_code == 0 and "critical" in exact.stdout
    short = cli("inbox", "show", base[:5])
    assert short.exit_code == ExitCode.USAGE  # too short to be an id: an unknown id, exit 2


def test_a_postfix_bounce_returning_a_form_is_no_registration(tmp_path: Path, cli: Any) -> None:
    # Postfix returns the whole bounced message (the PDF too) in a multipart/report addressed to the desk: it was
    # listed as a new registration from MAILER-DAEMON, due an hour after the bounce, and could be answered.
    inner = rm.thunderbird([("form.pdf", rm.form(membership_id="BOUNCED-1"))], "<bounced@example.org>")
    write_maildir(tmp_path / "M", {"dsn": rm.postfix_bounce(inner)})
    code, records, _ = _records(cli, tmp_path / "M")
    assert code == 0 and len(records) == 1
    assert records[0]["status"] == "not-a-registration" and records[0]["class"] is None
    assert records[0]["reasons"] == ["a delivery report from a mail server, not a registration"]


def test_special_files_never_stop_the_run(tmp_path: Path, cli: Any) -> None:
    keys = write_maildir(tmp_path / "M", {"good": rm.thunderbird([("f.pdf", rm.form())], "<g@example.org>")})
    os.mkfifo(tmp_path / "M" / "new" / "1764061299.fifo")  # a reader that opened it would wait for ever
    (tmp_path / "M" / "new" / "1764061298.link").symlink_to("/etc/passwd")
    code, records, stderr = _records(cli, tmp_path / "M")
    got = {r["key"]: r for r in records}
    assert got[keys["good"]]["status"] == "due-soon"
    assert got["new/1764061299.fifo"]["status"] == "skipped"
    assert "not a regular file" in got["new/1764061299.fifo"]["reasons"][0]
    assert got["new/1764061298.link"]["status"] == "skipped"
    assert code == ExitCode.PARTIAL and "skipped new/1764061299.fifo" in stderr


def test_sources_say_what_they_expect(tmp_path: Path, cli: Any) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(rm.apple_mail("R.pdf", rm.form(), "<one@example.org>"))
    code, records, _ = _records(cli, eml)
    assert code == 0 and [r["status"] for r in records] == ["due-soon"]
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(rm.form())
    r = cli("inbox", str(pdf))
    assert r.exit_code == ExitCode.INVALID_INPUT and "is a PDF, not mail" in r.stderr and "validate" in r.stderr
    (tmp_path / "empty").mkdir()
    r = cli("inbox", str(tmp_path / "empty"))
    assert r.exit_code == 0 and "no messages" in r.stderr and r.stdout == ""
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x")
    r = cli("inbox", str(tmp_path / "junk"), "--json")
    err = json.loads(r.stdout)
    assert r.exit_code == ExitCode.INVALID_INPUT and err["type"] == "error" and "without messages" in err["message"]
    r = cli("inbox", "--help")
    assert "[OPTIONS] SOURCE | COMMAND [ARGS]..." in r.stdout


def test_a_usage_error_of_the_inbox_stream_is_a_record_of_it(tmp_path: Path, cli: Any) -> None:
    """Audit: `inbox --json` is NDJSON whose errors are `{"type": "error", …}` records (README), but a bad option
    printed the envelope of the other commands; `inbox show` (an envelope command) keeps its envelope."""
    r = cli("inbox", str(tmp_path), "--status", "bogus", "--json")
    assert r.exit_code == ExitCode.USAGE
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {
            "type": "error",
            "code": "usage",
            "exit_code": 2,
            "message": "Invalid value for '--status': 'bogus' is not one of 'all', 'open', 'overdue', 'invalid'.",
            "hint": None,
        }
    ]
    r = cli("inbox", "show", "abcdef123456", "--bogus", "--json")
    assert r.exit_code == ExitCode.USAGE and r.json()["command"] == "inbox show" and r.json()["ok"] is False


def test_inbox_show_writes_the_canonical_copy_of_a_valid_registration(tmp_path: Path, cli: Any) -> None:
    """The desk's record is the values it activated, drawn by supportctl, whatever program filled the form."""
    from supportctl.form import pdfform
    from tests import formkit

    keys = write_maildir(tmp_path / "M", {"one": rm.thunderbird([("f.pdf", rm.form())], "<canon@example.org>")})
    code, records, _ = _records(cli, tmp_path / "M")
    (rec,) = records
    assert code == 0 and rec["key"] == keys["one"]
    out_pdf = tmp_path / "canonical.pdf"
    r = cli("inbox", "show", rec["id"], "--pdf", str(out_pdf), "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["data"]["pdf"] == str(out_pdf)
    report = pdfform.validate_pdf(formkit.pkg(), out_pdf.read_bytes())
    assert report.ok and report.values["membership_id"] == rec_values(rec, cli)["membership_id"]
    # An invalid registration has no canonical copy: exit 4, nothing written.
    keys = write_maildir(tmp_path / "N", {"bad": rm.plain("Registrierung", "<nf2@example.org>")})
    _c, (bad,), _e = _records(cli, tmp_path / "N")
    r = cli("inbox", "show", bad["id"], "--pdf", str(tmp_path / "none.pdf"))
    assert r.exit_code == ExitCode.FORM_INVALID and not (tmp_path / "none.pdf").exists()


def rec_values(rec: dict[str, Any], cli: Any) -> dict[str, Any]:
    shown = cli("inbox", "show", rec["id"], "--json")
    return dict(json.loads(shown.stdout)["data"]["values"])
