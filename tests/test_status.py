"""`supportctl status` end to end (issue 14), no mocks: fill → submit to a real aiosmtpd → the desk's `inbox` and
`inbox reply` → the reply delivered into the applicant's Maildir and into a real Dovecot → `status` finds it.

The mail system is the one of tests/test_end_to_end.py (every accepted message is delivered into a Maildir per
recipient); Dovecot is the fixture of tests/test_inbox_imap.py, the reply put there with IMAP APPEND.
"""

from __future__ import annotations

import imaplib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from supportctl import output as out
from supportctl.desk import sources as mailsource
from supportctl.errors import ExitCode
from supportctl.mail import outbox
from supportctl.mail import status as core
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests import test_end_to_end, test_inbox_imap
from tests.conftest import ROOT
from tests.test_end_to_end import APPLICANT, DESK, MailSystem, _data, _raw_send

# The fixtures of those tests: the mail system (aiosmtpd delivering into Maildirs) and Dovecot.
mail = test_end_to_end.mail
dovecot = test_inbox_imap.dovecot

CONTRACT = "V-2026-0042"


def _now_stamp(mail: MailSystem) -> datetime:
    """Let the server's clock say now (whole seconds), so due times and arrival times are today's."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    mail.clock = format_datetime(now)
    return now


def _submit(proc: Any, tmp_path: Path, **changes: object) -> dict[str, Any]:
    r = proc("fill", "--data", str(_data(tmp_path, **changes)), "--out", "form.pdf", "--no-input")
    assert r.exit_code == 0, r.stderr
    r = proc("submit", "form.pdf", "--json")
    assert r.exit_code == 0, r.stderr
    data: dict[str, Any] = r.json()["data"]
    assert data["result"]["state"] == "sent"
    return data


def _desk_reply(cli: Any, mail: MailSystem, *args: str) -> None:
    """The desk triages its Maildir and answers the newest registration (through the same SMTP server)."""
    r = cli("inbox", str(mail.maildir(DESK)), "--json")
    assert r.exit_code == 0, r.stderr
    newest = [json.loads(x) for x in r.stdout.splitlines()][-1]
    r = cli("inbox", "reply", newest["id"], *args)
    assert r.exit_code == 0, r.stderr


def _status(cli: Any, *args: str) -> tuple[Any, list[dict[str, Any]]]:
    r = cli("status", *args, "--json")
    assert r.exit_code == 0, r.stderr
    env = r.json()
    assert env["command"] == "status" and env["ok"] is True and env["errors"] == []
    return r, env["data"]["registrations"]


def _engine() -> eta.Engine:
    pkg = package.load(package.bundled_root())
    return eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")


FIELDS = [
    "id",
    "state",
    "to",
    "submitted_at",
    "class",
    "due",
    "overdue",
    "seconds_until_due",
    "contract",
    "contract_received_at",
    "rejected",
    "bounced",
]


def test_status_follows_a_submission_until_the_contract_arrives_in_a_maildir(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path, isolated: Path
) -> None:
    stamp = _now_stamp(mail)
    sent = _submit(proc, tmp_path)
    (entry,) = [e for e in outbox.entries() if core.is_submission(e)]
    assert entry.accepted_at is not None and entry.last_code == 250
    accepted = datetime.fromisoformat(entry.accepted_at)
    due = _engine().compute(accepted, "critical").due

    # Before the reply: accepted, class from the form, due from the package's rules counted from acceptance.
    box = mail.maildir(APPLICANT)
    box.mkdir(parents=True)
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir()
    _r, (reg,) = _status(cli, "--mailbox", str(box))
    assert list(reg) == FIELDS
    assert reg["id"] == entry.id and reg["state"] == "sent" and reg["to"] == [DESK]
    assert reg["submitted_at"] == accepted.isoformat() and reg["class"] == "critical"
    assert reg["due"] == due.isoformat() and reg["contract"] is None and reg["rejected"] is None
    assert reg["overdue"] is (due <= datetime.now(timezone.utc))
    assert abs(reg["seconds_until_due"] - (due - datetime.now(timezone.utc)).total_seconds()) < 30
    r = cli("status", "--tz", "UTC")
    assert r.exit_code == 0, r.stderr
    assert f"Accepted by the mail server: {out.format_datetime(accepted.astimezone(timezone.utc))}\n" in r.stdout
    assert "Business-critical phone support" in r.stdout and "Contract number: not arrived yet" in r.stdout

    # The desk answers; the reply lands in the applicant's Maildir; status finds the number in it.
    _desk_reply(cli, mail, "--contract", CONTRACT)
    (reply,) = mail.messages(APPLICANT)
    assert reply["In-Reply-To"] == sent["message"]["message_id"]
    _r, (reg,) = _status(cli, "--mailbox", str(box))
    assert reg["contract"] == CONTRACT and reg["contract_received_at"] == stamp.isoformat()
    assert reg["overdue"] is False

    # Remembered: no mailbox needed afterwards; the state file is private.
    _r, (again,) = _status(cli)
    assert again == {**reg, "seconds_until_due": again["seconds_until_due"]}
    assert os.stat(core.state_path()).st_mode & 0o777 == 0o600
    r = cli("status", entry.id[:12], "--lang", "de", "--tz", "Europe/Berlin")
    assert r.exit_code == 0, r.stderr
    assert f"Vertragsnummer: {CONTRACT} (eingegangen " in r.stdout and "Geschäftskritischer Telefonsupport" in r.stdout

    # eta counts from the same moment.
    r = cli("eta", "--since-submit", entry.id, "--class", "critical", "--json")
    assert r.exit_code == 0, r.stderr
    (res,) = r.json()["data"]["results"]
    assert res["start"] == accepted.isoformat() and res["due"] == due.isoformat()


def _append(info: dict[str, Any], data: bytes) -> None:
    """Deliver into Dovecot the way a mail client or LDA does: IMAP APPEND over TLS."""
    ctx = ssl.create_default_context(cafile=info["ca"])
    with imaplib.IMAP4_SSL("127.0.0.1", info["port"], ssl_context=ctx) as conn:
        conn.login("desk", "s3cret-pw")
        typ, resp = conn.append("INBOX", "", imaplib.Time2Internaldate(time.time()), data)
        assert typ == "OK", resp


def _empty_mailbox(info: dict[str, Any]) -> None:
    """The IMAP account's Maildir, owned by the user Dovecot accesses mail as."""
    for sub in ("new", "cur", "tmp"):
        (info["maildir"] / sub).mkdir(parents=True, exist_ok=True)
    for p in [info["maildir"], *info["maildir"].iterdir()]:
        os.chown(p, info["uid"].pw_uid, info["uid"].pw_gid)


@pytest.mark.slow  # a real Dovecot
def test_status_finds_the_contract_over_imap(
    cli: Any,
    proc: Any,
    mail: MailSystem,
    dovecot: dict[str, Any],
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    stamp = _now_stamp(mail)
    _empty_mailbox(dovecot)
    _submit(proc, tmp_path)
    _desk_reply(cli, mail, "--contract", CONTRACT)
    (path,) = (mail.maildir(APPLICANT) / "new").iterdir()
    _append(dovecot, path.read_bytes())
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("SUPPORTCTL_STATUS_MAILBOX", f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX")
    r, (reg,) = _status(cli, "--ca-bundle", dovecot["ca"])
    assert reg["contract"] == CONTRACT and reg["contract_received_at"] == stamp.isoformat()
    assert "s3cret-pw" not in r.stdout + r.stderr + core.state_path().read_text()
    # Incremental: the next look starts after the last UID seen.
    ((key, wm),) = core.load_state()["mailboxes"].items()
    assert (wm["last_uid"], wm["uidnext"], wm["messages"]) == (1, 2, 1)
    # With UIDNEXT and the message count as they were, the next look lists nothing: no UID command at all.
    target = mailsource.parse_imap_url(f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX")
    again = mailsource.ImapSource(target, "s3cret-pw", 1 << 20, core.watermark(key), dovecot["ca"])
    sent: list[str] = []
    real = again._conn.uid
    again._conn.uid = lambda command, *args: sent.append(command.upper()) or real(command, *args)
    try:
        assert list(again.messages()) == [] and sent == []
    finally:
        again.close()
    # Read-only: the message is still unseen.
    ctx = ssl.create_default_context(cafile=dovecot["ca"])
    with imaplib.IMAP4_SSL("127.0.0.1", dovecot["port"], ssl_context=ctx) as conn:
        conn.login("desk", "s3cret-pw")
        conn.select("INBOX", readonly=True)
        _typ, flags = conn.fetch("1", "(FLAGS)")
        assert b"\\Seen" not in flags[0]


def test_a_rejected_registration_is_shown_rejected_with_its_reasons(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path
) -> None:
    _now_stamp(mail)
    sent = _submit(proc, tmp_path)
    # The desk finds a problem supportctl's rules cannot know and rejects with its reject template.
    from supportctl.desk import reply as desk_reply
    from supportctl.desk import triage

    r = cli("inbox", str(mail.maildir(DESK)), "--json")
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    pkg = package.load(package.bundled_root())
    found = desk_reply.find(rec["id"], pkg, triage.Limits())
    assert found.form is not None
    finding = {"field": "membership_id", "code": "unknown", "message": "no such membership", "suggestion": None}
    bad = triage.CheckedForm(False, found.form.values, (finding,), found.form.activation_class)
    msg = desk_reply.compose(pkg, desk_reply.Found(found.facts, bad), reject=True)
    _raw_send(mail, msg)
    (got,) = mail.messages(APPLICANT)
    assert got["In-Reply-To"] == sent["message"]["message_id"]

    box = str(mail.maildir(APPLICANT))
    _r, (reg,) = _status(cli, "--mailbox", box)
    # The reject mail names the field by its label in each language, not by its internal name.
    assert reg["rejected"] == ["field Membership or subscription ID: no such membership"] and reg["contract"] is None
    assert reg["overdue"] is False
    r = cli("status")
    assert (
        "REJECTED by the registration desk" in r.stdout
        and "- field Membership or subscription ID: no such membership" in r.stdout
    )
    assert "supportctl submit --again" in r.stdout
    r = cli("status", "--watch")
    assert r.exit_code == ExitCode.MAIL_REFUSED
    assert r.stderr.endswith(f"{reg['id']}: the registration desk rejected the form.\n")
    assert "REJECTED by the registration desk" in r.stdout
    r = cli("status", "--watch", "--json")
    assert r.exit_code == ExitCode.MAIL_REFUSED
    env = r.json()
    assert env["ok"] is False and env["errors"][0]["code"] == "rejected"


@pytest.mark.slow  # a real Dovecot
def test_a_rejection_read_over_imap_gives_its_reasons_as_from_a_maildir(
    cli: Any, proc: Any, mail: MailSystem, dovecot: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> None:
    """IMAP fetches only what can hold a form; the reply's text (its reasons, a number in the body) must come too."""
    _now_stamp(mail)
    _empty_mailbox(dovecot)
    _submit(proc, tmp_path)
    r = cli("inbox", str(mail.maildir(DESK)), "--json")
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    from supportctl.desk import reply as desk_reply
    from supportctl.desk import triage

    pkg = package.load(package.bundled_root())
    found = desk_reply.find(rec["id"], pkg, triage.Limits())
    assert found.form is not None
    finding = {"field": "membership_id", "code": "unknown", "message": "no such membership", "suggestion": None}
    bad = triage.CheckedForm(False, found.form.values, (finding,), found.form.activation_class)
    _raw_send(mail, desk_reply.compose(pkg, desk_reply.Found(found.facts, bad), reject=True))
    (path,) = (mail.maildir(APPLICANT) / "new").iterdir()
    _append(dovecot, path.read_bytes())
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", "s3cret-pw")
    url = f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX"
    _r, (reg,) = _status(cli, "--mailbox", url, "--ca-bundle", dovecot["ca"])
    assert reg["rejected"] == ["field Membership or subscription ID: no such membership"]


@pytest.mark.parametrize("mta", ["postfix", "exchange-online"])
def test_a_submission_returned_undelivered_is_shown_bounced(
    mta: str, cli: Any, proc: Any, mail: MailSystem, tmp_path: Path
) -> None:
    """A mail system's delivery report (RFC 3464, as Postfix and Exchange Online write it) that returns the
    submission: it never reached the desk, so waiting for the due time helps nobody. A delay warning is not one."""
    from tests import realmail as rm

    _now_stamp(mail)
    _submit(proc, tmp_path)
    (submission,) = (mail.maildir(DESK) / "new").iterdir()
    box = mail.maildir(APPLICANT)
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    (box / "new" / "1764061200.M1P1.delay").write_bytes(rm.postfix_delay(submission.read_bytes()))
    _r, (reg,) = _status(cli, "--mailbox", str(box))
    assert reg["bounced"] is None and reg["rejected"] is None
    if mta == "postfix":  # the whole submission comes back, its form too
        report = rm.postfix_bounce(submission.read_bytes())
        why = ["gone@nowhere.example.net: no outside mail"]
    else:  # only its headers
        report = rm.exchange_ndr(submission.read_bytes())
        why = [
            "RegForm@msdirectservices.com: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient "
            "regform@msdirectservices.com not found by SMTP address lookup"
        ]
    (box / "new" / "1764061300.M2P1.report").write_bytes(report)
    _r, (reg,) = _status(cli, "--mailbox", str(box))
    assert reg["bounced"] == why and reg["contract"] is None and reg["overdue"] is False
    r = cli("status")
    assert "RETURNED UNDELIVERED by the mail system" in r.stdout and f"    - {why[0]}" in r.stdout
    assert "supportctl submit --again FORM.pdf" in r.stdout
    r = cli("status", "--watch")
    assert r.exit_code == ExitCode.MAIL_REFUSED
    assert r.stderr.endswith(
        f"{reg['id']}: the submission came back undelivered; it did not reach the registration desk.\n"
    )
    r = cli("--lang", "de", "status")
    assert "UNZUSTELLBAR" in r.stdout, r.stdout


def _watcher(*args: str) -> tuple[subprocess.Popen[str], Path]:
    err = Path("watch.err")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.Popen(
        [sys.executable, "-m", "supportctl", "status", "--watch", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while "Waiting for the desk's reply" not in err.read_text() and time.monotonic() < deadline:
        assert p.poll() is None, err.read_text()
        time.sleep(0.05)
    return p, err


def test_watch_exits_0_when_the_reply_arrives_while_it_waits(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path
) -> None:
    _now_stamp(mail)
    _submit(proc, tmp_path)
    box = mail.maildir(APPLICANT)
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    p, err = _watcher("--mailbox", str(box), "--interval", "1")
    _desk_reply(cli, mail, "--contract", CONTRACT)
    out, _e = p.communicate(timeout=30)
    assert p.returncode == 0, err.read_text()
    env = json.loads(out)
    assert env["ok"] is True and env["data"]["registrations"][0]["contract"] == CONTRACT


@pytest.mark.slow  # a real Dovecot
def test_watch_over_imap_wakes_up_with_idle(
    cli: Any,
    proc: Any,
    mail: MailSystem,
    dovecot: dict[str, Any],
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    _now_stamp(mail)
    _empty_mailbox(dovecot)
    _submit(proc, tmp_path)
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", "s3cret-pw")
    url = f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX"
    # A long interval: only IDLE can make it notice the reply within the test's time.
    p, err = _watcher("--mailbox", url, "--ca-bundle", dovecot["ca"], "--interval", "600")
    _desk_reply(cli, mail, "--contract", CONTRACT)
    (path,) = (mail.maildir(APPLICANT) / "new").iterdir()
    started = time.monotonic()
    _append(dovecot, path.read_bytes())
    out, _e = p.communicate(timeout=30)
    assert p.returncode == 0, err.read_text()
    assert time.monotonic() - started < 15
    assert json.loads(out)["data"]["registrations"][0]["contract"] == CONTRACT


def _fast_package(tmp_path: Path) -> Path:
    """The bundled package with a business-critical activation of 0.002 business hours (7.2 s)."""
    import shutil

    root = tmp_path / "fast-package"
    shutil.copytree(package.bundled_root(), root)
    manifest = root / "package.toml"
    text = manifest.read_text("utf-8")
    assert "business_hours = 1\n" in text
    manifest.write_text(text.replace("business_hours = 1\n", "business_hours = 0.002\n"), "utf-8")
    return root


def _always_open(monkeypatch: Any) -> None:
    """A schedule override that makes now business time whatever the hour: every day, in a zone where it is noon."""
    offset = 12 - datetime.now(timezone.utc).hour
    zone = "Etc/GMT" + (f"+{-offset}" if offset <= 0 else f"-{offset}")  # Etc/GMT-2 is UTC+2
    monkeypatch.setenv("SUPPORTCTL_SCHEDULE_TIMEZONE", zone)
    monkeypatch.setenv("SUPPORTCTL_SCHEDULE_DAYS", "mon-sun")
    monkeypatch.setenv("SUPPORTCTL_SCHEDULE_HOURS", "06:00-20:00")
    monkeypatch.setenv("SUPPORTCTL_SCHEDULE_HOLIDAYS", "none")


@pytest.mark.slow  # waits for a due time
def test_watch_exits_10_the_moment_a_due_time_passes(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SUPPORTCTL_PACKAGE", str(_fast_package(tmp_path)))
    _always_open(monkeypatch)
    _now_stamp(mail)
    _submit(proc, tmp_path)
    (entry,) = [e for e in outbox.entries() if core.is_submission(e)]
    assert entry.accepted_at is not None
    due = datetime.fromisoformat(entry.accepted_at) + timedelta(seconds=7.2)
    box = tmp_path / "empty-maildir"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    p, err = _watcher("--mailbox", str(box), "--interval", "600")
    out, _e = p.communicate(timeout=30)
    ended = datetime.now(timezone.utc)
    assert p.returncode == ExitCode.OVERDUE, err.read_text()
    assert due <= ended < due + timedelta(seconds=5)  # at the due time, not at the next interval
    env = json.loads(out)
    (reg,) = env["data"]["registrations"]
    assert env["ok"] is False and env["errors"][0]["code"] == "overdue" and env["errors"][0]["exit_code"] == 10
    assert reg["overdue"] is True and reg["seconds_until_due"] <= 0
    assert datetime.fromisoformat(reg["due"]) == due


def _stopped_watcher(proc: Any, mail: MailSystem, tmp_path: Path, sig: int) -> tuple[Any, str, Path, Path]:
    """A submission, `status --watch` on the applicant's (empty) Maildir, stopped by `sig`: the process, its
    stdout, its stderr file and the mailbox."""
    _now_stamp(mail)
    _submit(proc, tmp_path)
    box = mail.maildir(APPLICANT)
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    p, err = _watcher("--mailbox", str(box), "--interval", "600")
    p.send_signal(sig)
    out, _e = p.communicate(timeout=30)
    return p, out, err, box


def test_watch_ctrl_c_is_130_and_keeps_what_was_found(cli: Any, proc: Any, mail: MailSystem, tmp_path: Path) -> None:
    p, out, err, _box = _stopped_watcher(proc, mail, tmp_path, signal.SIGINT)
    assert p.returncode == ExitCode.INTERRUPTED
    assert "interrupted" in err.read_text() and "Traceback" not in err.read_text()
    assert json.loads(out)["errors"][0]["code"] == "interrupted"
    (rec,) = core.load_state()["registrations"].values()
    assert rec["class"] == "critical" and rec["submitted_at"]


def test_watch_sigterm_is_143_and_names_the_mailbox(cli: Any, proc: Any, mail: MailSystem, tmp_path: Path) -> None:
    """systemd or kill stopping a watcher: 143 as the README's table says (was 130, "interrupted"), and the
    envelope's `mailbox` is the one watched (was null under --watch)."""
    p, out, err, box = _stopped_watcher(proc, mail, tmp_path, signal.SIGTERM)
    assert p.returncode == ExitCode.TERMINATED, err.read_text()
    assert "terminated; what was found is saved" in err.read_text() and "Traceback" not in err.read_text()
    env = json.loads(out)
    assert env["errors"][0]["code"] == "terminated" and env["errors"][0]["exit_code"] == 143
    assert env["data"]["mailbox"] == str(box)


def test_failed_and_uncertain_submissions_say_what_to_do_and_end_a_watch(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path
) -> None:
    r = proc("fill", "--data", str(_data(tmp_path)), "--out", "form.pdf", "--no-input")
    assert r.exit_code == 0, r.stderr
    mail.srv.mode = "data554"
    r = cli("submit", "form.pdf")
    assert r.exit_code == ExitCode.MAIL_REFUSED
    _r, (reg,) = _status(cli)
    assert reg["state"] == "failed" and reg["submitted_at"] is None and reg["due"] is None
    assert reg["class"] == "critical"  # read from the form, even though it never arrived
    r = cli("status")
    assert "Not accepted by the mail server yet" in r.stdout
    assert "Next: the server refused it (554 5.7.1 Message rejected as spam)" in r.stdout
    r = cli("status", "--watch", "--json")
    assert r.exit_code == ExitCode.MAIL_REFUSED and r.json()["errors"][0]["code"] == "failed"
    r = cli("eta", "--since-submit")
    assert r.exit_code == ExitCode.ERROR and "no submission has been accepted" in r.stderr

    mail.srv.mode = "drop-after-dot"
    r = cli("submit", "form.pdf", "--again")
    assert r.exit_code == ExitCode.UNCERTAIN
    _r, regs = _status(cli)
    assert [x["state"] for x in regs] == ["uncertain", "failed"]
    r = cli("status", regs[0]["id"])
    assert f"supportctl outbox resolve {regs[0]['id']} --delivered" in r.stdout
    r = cli("status", "--watch", "--json")
    assert r.exit_code == ExitCode.UNCERTAIN and r.json()["errors"][0]["code"] == "uncertain"
    # The user says it arrived: the clock counts from that attempt.
    r = cli("outbox", "resolve", regs[0]["id"], "--delivered")
    assert r.exit_code == 0, r.stderr
    _r, regs = _status(cli)
    assert regs[0]["state"] == "sent" and regs[0]["submitted_at"] is not None and regs[0]["due"] is not None
    r = cli("status")
    assert f"superseded by {regs[0]['id']}" in r.stdout  # the failed one
    r = cli("eta", "--since-submit", "--class", "critical", "--json")
    assert r.json()["data"]["results"][0]["start"] == regs[0]["submitted_at"]


def test_a_deferral_says_whether_the_server_asked_to_wait_or_was_not_reached(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connection was shown as "the server asked to try later", which it never did."""
    import socket

    r = proc("fill", "--data", str(_data(tmp_path)), "--out", "form.pdf", "--no-input")
    assert r.exit_code == 0, r.stderr
    mail.srv.mode = "rcpt451"
    assert cli("submit", "form.pdf").exit_code == ExitCode.QUEUED
    r = cli("status")
    assert "Next: the server asked to try later" in r.stdout, r.stdout
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("SUPPORTCTL_SMTP_PORT", str(closed))
    assert cli("outbox", "retry", _status(cli)[1][0]["id"]).exit_code == ExitCode.TRANSFER
    r = cli("status")
    assert f"Next: the mail server was not reached (127.0.0.1:{closed}: connection refused" in r.stdout, r.stdout
    assert "asked to try later" not in r.stdout


def test_two_submissions_in_one_second_are_ordered_by_when_they_were_queued(
    cli: Any, proc: Any, mail: MailSystem, tmp_path: Path, monkeypatch: Any
) -> None:
    # Outbox ids are the second plus a random suffix: the later of two in one second may sort first.
    from supportctl.mail import outbox

    ids = iter(["20261130-120000-ffffffff", "20261130-120000-00000000"])
    monkeypatch.setattr(outbox, "_new_id", lambda now: next(ids))
    r = proc("fill", "--data", str(_data(tmp_path)), "--out", "form.pdf", "--no-input")
    assert r.exit_code == 0, r.stderr
    mail.srv.mode = "data554"
    assert cli("submit", "form.pdf").exit_code == ExitCode.MAIL_REFUSED
    mail.srv.mode = "ok"
    r = cli("submit", "form.pdf", "--again")
    assert r.exit_code == 0, r.stderr
    _r, regs = _status(cli)
    assert [(x["id"], x["state"]) for x in regs] == [
        ("20261130-120000-00000000", "sent"),
        ("20261130-120000-ffffffff", "failed"),
    ]
    assert "superseded by 20261130-120000-00000000" in cli("status").stdout  # the failed one, by the later
    r = cli("eta", "--since-submit", "--class", "critical", "--json")
    assert r.json()["data"]["results"][0]["start"] == regs[0]["submitted_at"]
