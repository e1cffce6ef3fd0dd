"""Two desk members (two HOMEs) on one real Dovecot mailbox, through the real CLI processes.

Exactly one of two `inbox reply` processes started at the same moment sends; the other is exit 2 naming
what was sent. Claims and replies are seen by the other member's next `inbox`; `--watch` sees mail arrive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from supportctl.errors import ExitCode
from tests import dovecotserver as ds
from tests import realmail as rm
from tests import smtpserver
from tests.conftest import ROOT

pytestmark = pytest.mark.slow
MSGID = "<team-cli@example.org>"


def _start(condstore: bool) -> ds.Dovecot:
    try:
        return ds.start(condstore=condstore)
    except ds.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(params=[True, False], ids=["condstore", "no-condstore"])
def dovecot(request: Any) -> Iterator[ds.Dovecot]:
    srv = _start(request.param)
    yield srv
    srv.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[smtpserver.Server]:
    srv = smtpserver.start(tmp_path)
    yield srv
    srv.stop()


def _member(name: str, tmp: Path, dovecot: ds.Dovecot, smtp: smtpserver.Server | None = None) -> dict[str, str]:
    home = tmp / name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORTCTL_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONPATH=str(ROOT),
        SUPPORTCTL_IMAP_PASSWORD=ds.PASSWORD,
        SUPPORTCTL_IMAP_CA_BUNDLE=dovecot.ca,
        SUPPORTCTL_INBOX_MEMBER=name,
        SUPPORTCTL_LANG="en",
    )
    if smtp is not None:
        env.update(smtp.env())
    return env


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supportctl", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _records(env: dict[str, str], url: str) -> dict[str, dict[str, Any]]:
    r = _run(env, "inbox", url, "--json", "--now", "2026-11-25T10:30:00+01:00")
    assert r.returncode == 0, r.stderr
    return {rec["id"]: rec for rec in map(json.loads, r.stdout.splitlines())}


def test_two_members_replying_at_once_send_one_contract(
    dovecot: ds.Dovecot, smtp: smtpserver.Server, tmp_path: Path
) -> None:
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna, ben = _member("anna", tmp_path, dovecot, smtp), _member("ben", tmp_path, dovecot, smtp)
    (rid,) = _records(anna, dovecot.url)
    assert _records(ben, dovecot.url)[rid]["status"] == "due-soon"
    argv = [sys.executable, "-m", "supportctl", "inbox", "reply", rid]
    procs = [
        subprocess.Popen(
            [*argv, "--contract", number], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for env, number in ((anna, "4711-0815"), (ben, "4711-0816"))
    ]
    results = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _err in results)
    assert codes == [0, ExitCode.USAGE], results
    assert smtp.count() == 1  # one contract mail reached the applicant
    loser = next(err for code, err in results if code == ExitCode.USAGE)
    assert "answered already" in loser and "--again" in loser
    sent = smtp.handler.messages[0]["data"].decode()
    winner = "4711-0815" if "4711-0815" in sent else "4711-0816"
    # Each member's next look (nothing shared but the mailbox) shows it done with the contract that went out.
    for env in (anna, ben):
        rec = _records(env, dovecot.url)[rid]
        assert (rec["status"], rec["contract"]) == ("done", winner)
    # --again replies on purpose.
    r = _run(ben, "inbox", "reply", rid, "--contract", "4711-0817", "--again")
    assert r.returncode == 0, r.stderr
    assert smtp.count() == 2


def test_each_form_of_a_two_form_mail_is_answered_on_its_own(
    dovecot: ds.Dovecot, smtp: smtpserver.Server, tmp_path: Path
) -> None:
    """Two forms in one mail are two registrations: the answer to one must not refuse (or hide) the other."""
    forms = [("a.pdf", rm.form(membership_id="TWO-A-1")), ("b.pdf", rm.form(membership_id="TWO-B-2"))]
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird(forms, MSGID))
    anna, ben = _member("anna", tmp_path, dovecot, smtp), _member("ben", tmp_path, dovecot, smtp)
    first, second = sorted(_records(anna, dovecot.url))
    assert second == first + ".2"
    assert _run(anna, "inbox", "reply", first, "--contract", "4711-0001").returncode == 0
    assert _records(ben, dovecot.url)[second]["status"] == "due-soon"
    r = _run(ben, "inbox", "reply", second, "--contract", "4711-0002")
    assert r.returncode == 0, r.stderr
    assert smtp.count() == 2
    for env in (anna, ben):
        recs = _records(env, dovecot.url)
        assert [(recs[i]["status"], recs[i]["contract"]) for i in (first, second)] == [
            ("done", "4711-0001"),
            ("done", "4711-0002"),
        ]
    # A second answer to the second form is refused, naming its own contract, not the first form's.
    r = _run(anna, "inbox", "reply", second, "--contract", "4711-0003")
    assert r.returncode == ExitCode.USAGE and "contract 4711-0002 was sent" in r.stderr, r.stderr


def test_claims_are_seen_by_the_other_member(dovecot: ds.Dovecot, tmp_path: Path) -> None:
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna, ben = _member("anna", tmp_path, dovecot), _member("ben", tmp_path, dovecot)
    (rid,) = _records(anna, dovecot.url)
    r = _run(anna, "inbox", "claim", rid[:6])
    assert r.returncode == 0 and f"{rid} is claimed by anna" in r.stderr, r.stderr
    assert _records(ben, dovecot.url)[rid]["claimed_by"] == ["anna"]
    piped = _run(ben, "inbox", dovecot.url, "--now", "2026-11-25T10:30:00+01:00")
    assert piped.stdout.split("\t")[1] == "due-soon"  # in a pipe the status column stays the bare token
    assert _run(anna, "inbox", "release", rid).returncode == 0
    assert _records(ben, dovecot.url)[rid]["claimed_by"] == []
    # Triage itself never wrote: the message is still unseen.
    assert list((dovecot.maildir / "new").iterdir()) or all(
        "S" not in p.name.partition(":2,")[2] for p in (dovecot.maildir / "cur").iterdir()
    )


def test_a_message_also_triaged_from_a_saved_copy_is_claimed_on_the_shared_mailbox(
    dovecot: ds.Dovecot, tmp_path: Path
) -> None:
    """The same mail saved as a file and on the desk's IMAP folder: its id names both, and a claim or reply must
    land where the other desk members see it, not in the member's private copy."""
    mail = rm.thunderbird([("f.pdf", rm.form())], MSGID)
    dovecot.deliver("1764061200.M1P1.reg", mail)
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "registration.eml").write_bytes(mail)
    anna, ben = _member("anna", tmp_path, dovecot), _member("ben", tmp_path, dovecot)
    (rid,) = _records(anna, dovecot.url)
    assert _run(anna, "inbox", str(saved)).returncode == 0  # the saved copy, looked at second
    r = _run(anna, "inbox", "claim", rid)
    assert r.returncode == 0, r.stderr
    assert _records(ben, dovecot.url)[rid]["claimed_by"] == ["anna"]


def test_a_reply_without_its_outcome_is_a_usage_error_before_the_mailbox_login(
    dovecot: ds.Dovecot, tmp_path: Path
) -> None:
    """`inbox reply ID` with neither --contract nor --reject: exit 2 saying so, not a password prompt or exit 8."""
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna = _member("anna", tmp_path, dovecot)
    (rid,) = _records(anna, dovecot.url)
    del anna["SUPPORTCTL_IMAP_PASSWORD"]  # as in cron, or a terminal where the password is not at hand
    r = _run(anna, "inbox", "reply", rid)
    assert r.returncode == ExitCode.USAGE and "--contract NUMBER or --reject" in r.stderr, r.stderr


def test_report_from_the_command_line(dovecot: ds.Dovecot, smtp: smtpserver.Server, tmp_path: Path) -> None:
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna = _member("anna", tmp_path, dovecot, smtp)
    (rid,) = _records(anna, dovecot.url)
    assert _run(anna, "inbox", "reply", rid, "--contract", "4711-0815").returncode == 0
    lead = {k: v for k, v in _member("lead", tmp_path, dovecot).items() if k != "SUPPORTCTL_IMAP_CA_BUNDLE"}
    unverified = _run(lead, "inbox", "report", dovecot.url, "--json")
    assert unverified.returncode == ExitCode.TRANSFER and "--ca-bundle FILE" in unverified.stderr
    r = _run(lead, "inbox", "report", dovecot.url, "--ca-bundle", dovecot.ca, "--json")  # as that error says
    assert r.returncode == 0, r.stderr
    crit = json.loads(r.stdout)["data"]["classes"]["critical"]
    # Received 10:00 on 25 Nov 2026, answered today: long after its one business hour.
    assert (crit["received"], crit["answered_in_time"], crit["answered_late"], crit["open"]) == (1, 0, 1, 0)
    assert crit["median_business_seconds_to_reply"] > 3600


def test_watch_sees_new_mail_and_exits_10_the_moment_one_is_overdue(tmp_path: Path) -> None:
    srv = _start(condstore=True)
    try:
        env = _member("anna", tmp_path, srv)
        # Business time is wall time here, so a critical registration received 1 h - 4 s ago is due in 4 s.
        # A zone where it is about noon now, open 00:00-23:59 every day: whenever the test runs, the hour
        # before and after now is business time.
        shift = 12 - datetime.now(timezone.utc).hour  # hours east of UTC; Etc/GMT-N is UTC+N
        zone = "Etc/GMT" + (f"-{shift}" if shift > 0 else f"+{-shift}" if shift < 0 else "")
        env.update(SUPPORTCTL_SCHEDULE_DAYS="mon-sun", SUPPORTCTL_SCHEDULE_HOURS="00:00-23:59")
        env.update(SUPPORTCTL_SCHEDULE_HOLIDAYS="none", SUPPORTCTL_SCHEDULE_TIMEZONE=zone)
        watcher = subprocess.Popen(
            [sys.executable, "-m", "supportctl", "inbox", srv.url, "--watch", "--json", "--fail-on", "overdue"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        received = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=3600 - 4))
        mail = rm.thunderbird([("f.pdf", rm.form())], MSGID).replace(rm.RECEIVED.encode(), received.encode())
        srv.deliver("1764061300.M2P1.reg", mail)
        code = watcher.wait(40)
        out = watcher.stdout.read() if watcher.stdout else ""
        err = watcher.stderr.read() if watcher.stderr else ""
        records = [json.loads(line) for line in out.splitlines()]
        assert all(r["type"] == "change" for r in records), (records, err)
        assert [(r["type"], r["before"], r["claimed_before"], r["status"]) for r in records] == [
            ("change", None, None, "due-soon"),
            ("change", "due-soon", [], "overdue"),
        ], err
        assert code == ExitCode.OVERDUE and "1 registration(s) overdue" in err
        # In text, a line per change, tab-separated: id, old -> new status, subject, who claimed it. Another
        # member's claim wakes the watch (IDLE reports the flag) and is a line of its own. Ctrl-C is 130.
        rid = records[0]["id"]
        idle = subprocess.Popen(
            [sys.executable, "-m", "supportctl", "inbox", srv.url, "--watch", "--interval", "30"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        ben = _member("ben", tmp_path, srv)
        assert _run(ben, "inbox", srv.url).returncode == 0  # ben's own look first: ids are those `inbox` showed
        claimed = _run(ben, "inbox", "claim", rid)
        assert claimed.returncode == 0, claimed.stderr
        time.sleep(3)  # far less than the 30 s interval: only the server's news can wake it in time
        idle.send_signal(signal.SIGINT)
        assert idle.wait(20) == ExitCode.INTERRUPTED
        lines = (idle.stdout.read() if idle.stdout else "").splitlines()
        assert [line.split("\t") for line in lines] == [
            [rid, "new -> overdue", records[0]["subject"], ""],
            [rid, "overdue -> overdue", records[0]["subject"], "ben"],
        ]
    finally:
        srv.stop()
