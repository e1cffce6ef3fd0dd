"""What a new desk member's trial of `supportctl inbox …` found (issue 12's follow-up), each as that user runs it.

Maildirs built here with mail as Thunderbird builds it around real filled forms (tests/realmail.py); IMAP
against the real Dovecot of tests/dovecotserver.py; the German table on a real terminal (pexpect).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest

from supportctl.errors import ExitCode
from tests import dovecotserver as ds
from tests import realmail as rm
from tests.conftest import ROOT

NOW = "2026-11-25T10:30:00+01:00"
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _mailbox() -> dict[str, bytes]:
    """17 messages: 15 single-form registrations, one mail with two forms, one newsletter (18 list entries)."""
    msgs = {
        f"reg-{n}": rm.thunderbird([("f.pdf", rm.form(membership_id=f"M-{n}-XYZ"))], f"<reg{n}@example.org>")
        for n in range(15)
    }
    msgs["two-forms"] = rm.thunderbird(
        [("a.pdf", rm.form(membership_id="TWO-1-XYZ")), ("b.pdf", rm.form(membership_id="TWO-2-XYZ"))],
        "<two@example.org>",
    )
    msgs["newsletter"] = rm.plain("Newsletter", "<nl@example.org>", to="team@example.com")
    return msgs


def _maildir(root: Path, msgs: dict[str, bytes]) -> dict[str, str]:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    names = {}
    for n, (name, data) in enumerate(msgs.items()):
        names[name] = f"1764061200.M{n}P1.reg"
        (root / "new" / names[name]).write_bytes(data)
    return names


def _summary(stderr: str) -> str:
    (line,) = [x for x in stderr.splitlines() if " message(s), " in x]
    return line


def _ids(stdout: str) -> dict[str, dict[str, Any]]:
    return {rec["id"]: rec for rec in map(json.loads, stdout.splitlines())}


# ---------------------------------------------------------------- 1. usage lines and --ca-bundle


@pytest.mark.parametrize(
    ("sub", "args"),
    [("claim", "ID"), ("release", "ID"), ("reply", "MESSAGE"), ("show", "ID"), ("report", "[SOURCE]")],
)
def test_subcommand_usage_lines_can_be_typed_as_shown(cli: Any, sub: str, args: str) -> None:
    usage = f"Usage: supportctl inbox {sub} [OPTIONS] {args}"
    r = cli("inbox", sub, "--help")
    assert r.exit_code == 0 and r.stdout.startswith(usage), r.stdout
    assert "[SOURCE] " + sub not in r.stdout
    r = cli("inbox", sub, "--bogus")
    assert r.exit_code == ExitCode.USAGE
    assert f"supportctl inbox {sub} --help" in r.stderr and "[SOURCE] " + sub not in r.stderr


@pytest.mark.parametrize(
    ("args", "typed", "meant"),
    [
        (["shw", "3a6789"], "shw", "show"),
        (["rply", "3a6789", "--reject"], "rply", "reply"),
        (["rply"], "rply", "reply"),
    ],
)
def test_a_mistyped_subcommand_is_named_not_taken_for_a_mailbox(
    cli: Any, args: list[str], typed: str, meant: str
) -> None:
    """`inbox shw ID` said "No such command 'ID'" (shw was taken for SOURCE); `inbox rply` "no such mailbox"."""
    r = cli("inbox", *args)
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert r.stderr.splitlines()[0] == f"error: No such command '{typed}'. Did you mean '{meant}'?", r.stderr


def test_inbox_alone_reads_the_configured_mailbox_else_asks_for_one(cli: Any, tmp_path: Path) -> None:
    r = cli("inbox")  # was the whole help page, exit 2: the configured mailbox was never read
    assert r.exit_code == ExitCode.USAGE and r.stderr.count("error: ") == 1 and "Examples:" not in r.stderr
    assert "give a SOURCE" in r.stderr and "inbox.mailbox" in r.stderr
    (tmp_path / "M" / "new").mkdir(parents=True)
    (tmp_path / "M" / "new" / "1764061200.M1P1.x").write_bytes(
        rm.thunderbird([("f.pdf", rm.form())], "<a@example.org>")
    )
    r = cli("inbox", "--json", env={"SUPPORTCTL_INBOX_MAILBOX": str(tmp_path / "M")})
    listed = cli("inbox", env={"SUPPORTCTL_INBOX_MAILBOX": str(tmp_path / "M")})
    assert listed.exit_code == 0 and json.loads(r.stdout)["id"] in listed.stdout, listed.stderr


@pytest.mark.parametrize("sub", ["claim", "release"])
def test_claim_and_release_take_the_imap_ca_bundle_like_inbox(cli: Any, sub: str) -> None:
    r = cli("inbox", sub, "--help")
    assert re.search(r"--ca-bundle FILE\s+CA certificates \(PEM\) for the IMAP server\.", r.stdout), r.stdout


# ---------------------------------------------------------------- IMAP and a Maildir of the same mailbox


@pytest.mark.slow
def test_imap_and_maildir_say_the_same_and_claims_show_wherever_the_list_is_read(
    dovecot: ds.Dovecot, tmp_path: Path, cli: Any, monkeypatch: Any
) -> None:
    msgs = _mailbox()
    for n, (_name, data) in enumerate(msgs.items()):
        dovecot.deliver(f"1764061200.M{n}P1.reg", data)
    _maildir(tmp_path / "M", msgs)
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", ds.PASSWORD)
    monkeypatch.delenv("SUPPORTCTL_IMAP_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SUPPORTCTL_INBOX_MEMBER", "anna")
    ca = ["--ca-bundle", dovecot.ca]

    # 2. The summary counts messages and list entries alike for both sources, cold and on a rerun.
    said: dict[str, list[str]] = {}
    for name, source, extra in (("imap", dovecot.url, ca), ("maildir", str(tmp_path / "M"), [])):
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / f"state-{name}"))  # each cold: no shared form cache
        runs = [cli("inbox", source, *extra, "--now", NOW, "--json") for _ in range(2)]
        assert [r.exit_code for r in runs] == [0, 0], runs[0].stderr
        said[name] = [_summary(r.stderr) for r in runs]
    assert said["imap"] == said["maildir"]
    entries = "18 in the list: 17 due-soon, 1 not-a-registration"
    assert said["imap"] == [
        f"17 message(s), {entries}; 17 PDF(s) checked in this run",
        f"17 message(s), {entries}; 0 PDF(s) checked in this run",
    ]

    # 1. claim and release over IMAP with --ca-bundle (no CA in the environment), as `inbox` takes it.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-imap"))
    recs = _ids(cli("inbox", dovecot.url, *ca, "--now", NOW, "--json").stdout)
    rid = next(i for i, rec in recs.items() if rec["status"] == "due-soon")
    r = cli("inbox", "claim", rid[:6], *ca)
    assert r.exit_code == 0 and f"{rid} is claimed by anna" in r.stderr, r.stderr

    # 5. The claim in every list a person reads: the piped lines (a last column), --json, and `inbox show`.
    piped = cli("inbox", dovecot.url, *ca, "--now", NOW)
    rows = {line.split("\t")[0]: line.split("\t") for line in piped.stdout.splitlines()}
    assert rows[rid][1] == "due-soon" and rows[rid][7] == "anna"  # the status column stays the bare token
    assert all(len(row) == 8 and row[7] == "" for i, row in rows.items() if i != rid)
    assert _ids(cli("inbox", dovecot.url, *ca, "--now", NOW, "--json").stdout)[rid]["claimed_by"] == ["anna"]
    shown = cli("inbox", "show", rid, "--now", NOW)
    assert "Claimed by: anna" in shown.stdout, shown.stdout
    r = cli("inbox", "release", rid, *ca)
    assert r.exit_code == 0 and f"{rid} released" in r.stderr, r.stderr
    assert _ids(cli("inbox", dovecot.url, *ca, "--now", NOW, "--json").stdout)[rid]["claimed_by"] == []
    # Without the CA the certificate is refused: the option is what made it work.
    r = cli("inbox", "claim", rid)
    assert r.exit_code == ExitCode.TRANSFER and "certificate" in r.stderr

    # 6. Answered by another member: the refusal names the reply time as people read it, not ISO 8601.
    # reply's own --ca-bundle is the SMTP server's; the IMAP server's CA is --imap-ca-bundle (or the config).
    r = cli("inbox", "reply", rid, "--contract", "4711-0815", "--eml", str(tmp_path / "a.eml"))
    assert r.exit_code == ExitCode.TRANSFER and "--imap-ca-bundle FILE" in r.stderr, r.stderr
    assert not (tmp_path / "a.eml").exists()
    imap_ca = ["--imap-ca-bundle", dovecot.ca]
    r = cli("inbox", "reply", rid, "--contract", "4711-0815", "--eml", str(tmp_path / "a.eml"), *imap_ca)
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("SUPPORTCTL_IMAP_CA_BUNDLE", dovecot.ca)  # the same, for the rest of the test
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-ben"))  # ben: nothing recorded of anna's reply
    monkeypatch.setenv("SUPPORTCTL_INBOX_MEMBER", "ben")
    assert cli("inbox", dovecot.url, "--now", NOW, "--json").exit_code == 0
    r = cli("--lang", "de", "inbox", "reply", rid, "--contract", "4711-0816", "--eml", str(tmp_path / "b.eml"))
    assert r.exit_code == ExitCode.USAGE, r.stderr
    assert "Vertrag 4711-0815" in r.stderr and not ISO.search(r.stderr), r.stderr
    assert re.search(r"\w\w\., \d\d\.\d\d\.\d{4}, \d\d:\d\d", r.stderr), r.stderr
    assert not (tmp_path / "b.eml").exists()


# ---------------------------------------------------------------- 3. replies that would go wrong


def test_reply_refuses_a_duplicate_and_mail_that_is_no_registration_unless_forced(tmp_path: Path, cli: Any) -> None:
    form = rm.form(membership_id="DUP-1-XYZ")
    msgs = {
        "first": rm.thunderbird([("f.pdf", form)], "<first@example.org>"),
        "again": rm.thunderbird([("f.pdf", form)], "<again@example.org>"),
        "newsletter": rm.plain("Newsletter", "<nl@example.org>", to="team@example.com"),
        "no-form": rm.plain("Registrierung", "<nf@example.org>"),
    }
    _maildir(tmp_path / "M", msgs)
    recs = list(map(json.loads, cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json").stdout.splitlines()))
    by_status = {rec["status"]: rec["id"] for rec in recs}
    first, dup, stranger, missing = (by_status[s] for s in ("due-soon", "duplicate", "not-a-registration", "invalid"))

    r = cli("inbox", "reply", dup, "--contract", "4711-0815", "--eml", str(tmp_path / "dup.eml"))
    assert r.exit_code == ExitCode.USAGE
    assert f"error: message {dup} is a duplicate: the same form as message {first}" in r.stderr, r.stderr
    assert "--force" in r.stderr and not (tmp_path / "dup.eml").exists()
    r = cli("inbox", "reply", dup, "--contract", "4711-0815", "--dry-run", "--json")
    assert r.exit_code == ExitCode.USAGE and r.json()["errors"][0]["code"] == "duplicate-registration"
    r = cli("inbox", "reply", dup, "--contract", "4711-0815", "--dry-run", "--force")
    assert r.exit_code == 0 and "4711-0815" in r.stdout

    r = cli("inbox", "reply", stranger, "--reject", "--eml", str(tmp_path / "nl.eml"))
    assert r.exit_code == ExitCode.USAGE and "is not a registration" in r.stderr and "--force" in r.stderr
    assert not (tmp_path / "nl.eml").exists()
    r = cli("inbox", "reply", stranger, "--reject", "--dry-run", "--json")
    assert r.json()["errors"][0]["code"] == "not-a-registration"
    r = cli("inbox", "reply", stranger, "--reject", "--eml", str(tmp_path / "nl.eml"), "--force")
    assert r.exit_code == 0 and (tmp_path / "nl.eml").exists()

    # What is fine goes through as before: the original, and a mail to the desk whose form is missing.
    assert cli("inbox", "reply", first, "--contract", "4711-0815", "--dry-run").exit_code == 0
    r = cli("inbox", "reply", missing, "--reject", "--dry-run")
    assert r.exit_code == 0 and "no registration form attached" in r.stdout


def test_a_duplicate_is_named_in_the_language_of_the_reader_not_of_the_last_run(tmp_path: Path, cli: Any) -> None:
    """The duplicate's reason was stored in the language of the `inbox` run that wrote the list: an English
    `reply` after a German `inbox` said "is a duplicate: dasselbe Formular wie Nachricht …"."""
    form = rm.form(membership_id="DUP-2-XYZ")
    msgs = {n: rm.thunderbird([("f.pdf", form)], f"<{n}@example.org>") for n in ("first", "again")}
    _maildir(tmp_path / "M", msgs)
    recs = list(map(json.loads, cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json").stdout.splitlines()))
    by_status = {rec["status"]: rec["id"] for rec in recs}
    first, dup = by_status["due-soon"], by_status["duplicate"]

    assert cli("--lang", "de", "inbox", str(tmp_path / "M"), "--json").exit_code == 0  # the list, stored in German
    # (in-process a --lang stays set for the next run: `--lang en` is what a fresh process takes from LANG=C)
    r = cli("--lang", "en", "inbox", "reply", dup, "--contract", "4711-0815", "--dry-run")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.strip().splitlines()[-1] == (
        f"error: message {dup} is a duplicate: the same form as message {first} "
        "(reply to that registration instead, or add --force to reply to this copy as well)"
    )
    assert cli("inbox", "show", dup, "--json").json()["data"]["reasons"] == [f"the same form as message {first}"]

    assert cli("inbox", str(tmp_path / "M"), "--json").exit_code == 0  # stored in English
    r = cli("--lang", "de", "inbox", "reply", dup, "--contract", "4711-0815", "--dry-run")
    assert f"ist ein Duplikat: dasselbe Formular wie Nachricht {first} (" in r.stderr, r.stderr


def test_a_claim_on_a_maildir_without_keywords_says_what_to_do(tmp_path: Path, cli: Any, monkeypatch: Any) -> None:
    """Audit: the refusal said why (no dovecot-keywords file) but not what to do about it."""
    monkeypatch.setenv("SUPPORTCTL_INBOX_MEMBER", "anna")
    _maildir(tmp_path / "M", {"one": rm.thunderbird([("f.pdf", rm.form())], "<kw@example.org>")})
    (rid,) = _ids(cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json").stdout)
    r = cli("inbox", "claim", rid)
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.strip().splitlines()[-1] == (
        "error: this Maildir keeps no keywords (no dovecot-keywords file, or all 26 in use): claims need IMAP "
        "(read the mailbox over IMAP (`supportctl inbox imaps://USER@HOST/FOLDER`) and claim from there, or keep "
        "the Maildir with Dovecot, which writes its dovecot-keywords file)"
    )
    (tmp_path / "M" / "dovecot-keywords").write_text("")  # what Dovecot keeps: then the claim works
    r = cli("inbox", "claim", rid, "--json")
    assert r.exit_code == 0 and r.json()["data"] == {"id": rid, "claimed_by": ["anna"]}


def _two_copies(box: Path, form: bytes, cli: Any) -> tuple[str, str]:
    """A Maildir with one form sent twice, five minutes apart, triaged once: (the first's id, the copy's id)."""
    msgs = {n: rm.thunderbird([("f.pdf", form)], f"<{n}@example.org>") for n in ("first", "again")}
    msgs["again"] = msgs["again"].replace(rm.RECEIVED.encode(), b"Wed, 25 Nov 2026 10:05:00 +0100")
    _maildir(box, msgs)
    recs = list(map(json.loads, cli("inbox", str(box), "--now", NOW, "--json").stdout.splitlines()))
    by_status = {rec["status"]: rec["id"] for rec in recs}
    return by_status["due-soon"], by_status["duplicate"]


def test_a_copy_of_an_answered_form_stays_a_duplicate(tmp_path: Path, cli: Any) -> None:
    """Audit: once the first of two identical forms was answered (`done`), the copy became the "original" and
    was listed as work to do (`due-soon`, later `overdue`, counted so in `inbox report`): answering it would
    send the applicant a second contract for one form."""
    first, dup = _two_copies(tmp_path / "M", rm.form(membership_id="DUP-3-XYZ"), cli)
    r = cli("inbox", "reply", first, "--contract", "4711-0815", "--eml", str(tmp_path / "a.eml"))
    assert r.exit_code == 0, r.stderr

    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json")
    assert r.exit_code == 0, r.stderr
    listed = {rec["id"]: (rec["status"], rec["reasons"]) for rec in map(json.loads, r.stdout.splitlines())}
    assert listed == {first: ("done", []), dup: ("duplicate", [f"the same form as message {first}"])}
    r = cli("inbox", "reply", dup, "--contract", "4711-0816", "--dry-run")
    assert r.exit_code == ExitCode.USAGE and f"is a duplicate: the same form as message {first} (" in r.stderr
    report = cli("inbox", "report", str(tmp_path / "M"), "--json").json()["data"]["classes"]["critical"]
    assert report["received"] == 1 and report["open"] == 0 and report["overdue_now"] == 0, report


def test_when_the_later_copy_was_answered_the_earlier_one_is_its_duplicate(tmp_path: Path, cli: Any) -> None:
    """A desk member answered the second copy of a form (with --force): the first, never answered, was listed as
    due-soon work, and answering it too would send a second contract for the same form."""
    first, dup = _two_copies(tmp_path / "M", rm.form(membership_id="DUP-4-XYZ"), cli)
    r = cli("inbox", "reply", dup, "--contract", "4711-0815", "--force", "--eml", str(tmp_path / "a.eml"))
    assert r.exit_code == 0, r.stderr

    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json")
    assert r.exit_code == 0, r.stderr
    listed = {rec["id"]: (rec["status"], rec["reasons"]) for rec in map(json.loads, r.stdout.splitlines())}
    assert listed == {dup: ("done", []), first: ("duplicate", [f"the same form as message {dup}"])}


def test_answered_already_says_when_in_words(tmp_path: Path, cli: Any) -> None:
    _maildir(tmp_path / "M", {"one": rm.thunderbird([("f.pdf", rm.form())], "<one@example.org>")})
    (rid,) = _ids(cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json").stdout)
    assert cli("inbox", "reply", rid, "--contract", "4711-0815", "--eml", str(tmp_path / "a.eml")).exit_code == 0
    r = cli("inbox", "reply", rid, "--contract", "4711-0815", "--eml", str(tmp_path / "b.eml"))
    assert r.exit_code == ExitCode.USAGE and not ISO.search(r.stderr), r.stderr
    # Written to a file, not sent: said so (it said "was sent"), with the time in words.
    assert f"message {rid} was answered already: contract 4711-0815 was written to a file at " in r.stderr
    assert "not sent by supportctl" in r.stderr
    assert re.search(r"\w\w\w \d{4}-\d\d-\d\d \d\d:\d\d", r.stderr), r.stderr  # e.g. Mon 2026-11-30 21:05 UTC
    r = cli("--lang", "de", "inbox", "reply", rid, "--contract", "4711-0815", "--eml", str(tmp_path / "b.eml"))
    assert r.exit_code == ExitCode.USAGE and "Vertrag 4711-0815" in r.stderr, r.stderr
    assert re.search(r"\w\w\., \d\d\.\d\d\.\d{4}, \d\d:\d\d", r.stderr) and not ISO.search(r.stderr), r.stderr
    assert not (tmp_path / "b.eml").exists()
    # `inbox show` tells the history the same way (it said `answered: contract 4711-0815`, codes and no time).
    shown = cli("--lang", "de", "inbox", "show", rid, "--now", NOW).stdout
    (history,) = [line for line in shown.splitlines() if line.startswith("Verlauf")]
    assert "Vertrag 4711-0815 wurde am " in history and not ISO.search(history), shown


# ---------------------------------------------------------------- 4. German words, codes in a pipe and --json


def test_german_table_shows_class_and_received_words_and_json_keeps_the_codes(tmp_path: Path, cli: Any) -> None:
    _maildir(tmp_path / "M", {"one": rm.thunderbird([("f.pdf", rm.form())], "<one@example.org>")})
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", LANG="de_DE.UTF-8")
    env.pop("SUPPORTCTL_LANG", None)
    child = pexpect.spawn(
        sys.executable, ["-m", "supportctl", "inbox", str(tmp_path / "M"), "--now", NOW], env=env,
        encoding="utf-8", timeout=60, dimensions=(40, 250),
    )  # fmt: skip
    text = child.read()
    child.close()
    assert child.exitstatus == 0, text
    assert "Geschäftskritischer Telefonsupport" in text and "[Mailserver]" in text, text
    assert "critical" not in text and "[received]" not in text
    rec = json.loads(cli("--lang", "de", "inbox", str(tmp_path / "M"), "--now", NOW, "--json").stdout)
    assert (rec["class"], rec["received_from"]) == ("critical", "received")
    piped = cli("--lang", "de", "inbox", str(tmp_path / "M"), "--now", NOW).stdout.split("\t")
    assert piped[3] == "critical" and piped[4].endswith("[received]")  # stable codes for scripts
    shown = cli("--lang", "de", "inbox", "show", rec["id"], "--now", NOW).stdout
    assert "Klasse:" in shown and "Geschäftskritischer Telefonsupport" in shown and "[Mailserver]" in shown


def test_inbox_show_prints_the_form_values_under_the_package_labels(tmp_path: Path, cli: Any) -> None:
    """The desk makes the contract from these values: `inbox show` prints them, not only `--json`, each under
    its field's label in the run's language; a value that failed its check is left out (its finding says why)."""
    bad = _edited(rm.form(membership_id="B-8-XYZ"), company="ACME\x1b]0;pwned\x07 GmbH")  # saved by another program
    mails = {
        "good": rm.thunderbird([("f.pdf", rm.form(membership_id="B-7-XYZ"))], "<good@example.org>"),
        "bad": rm.thunderbird([("f.pdf", bad)], "<bad@example.org>"),
    }
    _maildir(tmp_path / "M", mails)
    recs = [json.loads(line) for line in cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json").stdout.splitlines()]
    good = next(r["id"] for r in recs if r["status"] != "invalid")
    invalid = next(r["id"] for r in recs if r["status"] == "invalid")
    values = cli("inbox", "show", good, "--json").json()["data"]["values"]
    shown = cli("inbox", "show", good, "--now", NOW).stdout.splitlines()
    block = shown[shown.index("Form:") + 1 :]
    assert len(block) == len(values) == 15, block
    assert re.fullmatch(r"  Membership or subscription ID: +B-7-XYZ", block[1]), block
    assert re.fullmatch(r"  Company: +" + re.escape(values["company"]), block[2]), block
    assert re.fullmatch(r"  I have read the terms: +yes", block[-1]), block
    assert any(re.fullmatch(r"  Requested support: +critical \(Business-critical phone support\)", x) for x in block)
    assert len({len(line) - len(line.split(": ", 1)[1].lstrip()) for line in block}) == 1, block  # one column
    german = cli("--lang", "de", "inbox", "show", good, "--now", NOW).stdout.splitlines()
    block = german[german.index("Formular:") + 1 :]
    assert re.fullmatch(r"  Mitglieds- bzw\. Abonnement-ID: +B-7-XYZ", block[1]), block
    assert re.fullmatch(r"  Ich habe die Vertragsbedingungen gelesen: +ja", block[-1]), block
    assert any(re.fullmatch(r"  .+: +critical \(Geschäftskritischer Telefonsupport\)", line) for line in block), block
    shown = cli("--lang", "en", "inbox", "show", invalid, "--now", NOW).stdout
    assert "B-8-XYZ" in shown and "Company:" not in shown and "\x1b" not in shown, shown
    assert any(line.startswith("Finding:") and "company" in line for line in shown.splitlines()), shown


# ---------------------------------------------------------------- 7. the report's invalid column


def _edited(pdf: bytes, **values: str) -> bytes:
    """The form with fields changed in another program (pypdf), as an applicant's viewer would save it."""
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=BytesIO(pdf))
    for page in writer.pages:
        if "/Annots" in page:
            writer.update_page_form_field_values(page, values, auto_regenerate=False)
    buf = BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_report_counts_invalid_registrations(tmp_path: Path, cli: Any) -> None:
    msgs = {
        "good": rm.thunderbird([("f.pdf", rm.form())], "<good@example.org>"),
        "bad": rm.thunderbird([("f.pdf", _edited(rm.form(), last_name="Жукова"))], "<bad@example.org>"),
        "no-form": rm.plain("Registrierung", "<nf@example.org>"),
        "newsletter": rm.plain("Newsletter", "<nl@example.org>", to="team@example.com"),
    }
    _maildir(tmp_path / "M", msgs)
    r = cli("inbox", "report", str(tmp_path / "M"), "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["classes"]["critical"]["invalid"] == 1 and data["classes"]["critical"]["received"] == 2
    assert data["classes"]["critical"]["open"] + data["classes"]["critical"]["overdue_now"] == 1
    assert data["unclassified"]["invalid"] == 1 and data["unclassified"]["received"] == 1
    lines = [line.split("\t") for line in cli("inbox", "report", str(tmp_path / "M")).stdout.splitlines()]
    # In a pipe the new column is the last one: the columns scripts cut stay where they were.
    assert [(row[0], row[1], row[-1]) for row in lines] == [("critical", "2", "1"), ("-", "1", "1")]
    assert len(lines[0]) == 10
