"""The desk as a team on one real Dovecot mailbox: claims, flags and the Sent copy are the shared state.

Two desk members are two state directories (two HOMEs) on the same IMAP account.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from supportctl.desk import shared, sources
from supportctl.desk import triage as inbox
from supportctl.desk.report import percentile, report
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests import dovecotserver as ds
from tests import realmail as rm

pytestmark = pytest.mark.slow
NOW = "2026-11-25T10:30:00+01:00"
MSGID = "<team@example.org>"


def _reply(outcome: str, contract: str | None, in_reply_to: str = MSGID, date: str = rm.RECEIVED) -> bytes:
    lines = [
        "From: RegForm@msdirectservices.com",
        "To: lukasz@example.com",
        "Subject: Re: Registrierung",
        f"Date: {date}",
        f"In-Reply-To: {in_reply_to}",
        f"{shared.HEADER_OUTCOME}: {outcome}",
    ]
    if contract:
        lines.append(f"{shared.HEADER_CONTRACT}: {contract}")
    return ("\r\n".join(lines) + "\r\n\r\nthe reply\r\n").encode()


def _server(condstore: bool = True) -> ds.Dovecot:
    try:
        return ds.start(condstore=condstore)
    except ds.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def plain_dovecot() -> Iterator[ds.Dovecot]:
    srv = _server(condstore=False)
    yield srv
    srv.stop()


def _desk(srv: ds.Dovecot) -> shared.ImapDesk:
    conn = sources.imap_login(sources.parse_imap_url(srv.url), ds.PASSWORD, srv.ca)
    return shared.ImapDesk(conn, "INBOX")


def _triage(srv: ds.Dovecot, state: Path, monkeypatch: Any) -> list[inbox.Item]:
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    src = sources.ImapSource(sources.parse_imap_url(srv.url), ds.PASSWORD, 1 << 20, None, srv.ca)
    try:
        return list(inbox.triage(src, pkg, engine, datetime.fromisoformat(NOW)).items)
    finally:
        src.close()


def test_one_claim_wins_with_condstore_and_the_other_member_sees_the_contract(
    dovecot: ds.Dovecot, tmp_path: Path, monkeypatch: Any
) -> None:
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna, ben = _desk(dovecot), _desk(dovecot)
    assert anna.condstore and ben.condstore
    uid = anna.uid_of(MSGID)
    # The race at the same second: both read the same MODSEQ, both try to claim; the server lets one through.
    _f, seen_by_anna = anna.flags(uid)
    _f, seen_by_ben = ben.flags(uid)
    assert seen_by_anna == seen_by_ben is not None
    won = anna._store(uid, "+FLAGS", [shared.KW_REPLYING, "$SupportctlClaim_anna"], unchanged_since=seen_by_anna)
    lost = ben._store(uid, "+FLAGS", [shared.KW_REPLYING, "$SupportctlClaim_ben"], unchanged_since=seen_by_ben)
    assert (won, lost) == (True, False)
    with pytest.raises(shared.AlreadyAnswered, match="anna is replying to it right now"):
        ben.claim_for_reply(MSGID, "ben", again=False)
    anna.mark_replied(uid, "anna", "contract", _reply("contract", "4711-0815"))
    with pytest.raises(shared.AlreadyAnswered, match="contract 4711-0815 was sent"):
        ben.claim_for_reply(MSGID, "ben", again=False)
    assert ben.claim_for_reply(MSGID, "ben", again=True) == uid  # on purpose
    # Any member's triage (another HOME, nothing local) shows it done, with the contract number.
    (item,) = _triage(dovecot, tmp_path / "ben-state", monkeypatch)
    assert (item.status, item.to_dict(datetime.fromisoformat(NOW))["contract"]) == ("done", "4711-0815")
    # What any mail program sees: \Answered and the outcome keyword; the reply's copy in the Sent folder.
    flags, _m = anna.flags(uid)
    assert {"\\Answered", shared.KW_CONTRACT} <= flags
    assert anna.sent_replies().by_reply_to[MSGID]["contract"] == "4711-0815"
    assert (
        len(list((dovecot.maildir / "Sent" / "cur").iterdir()) + list((dovecot.maildir / "Sent" / "new").iterdir()))
        == 1
    )


def test_without_condstore_the_best_effort_lets_one_member_reply(plain_dovecot: ds.Dovecot) -> None:
    plain_dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna, ben = _desk(plain_dovecot), _desk(plain_dovecot)
    assert not anna.condstore and not ben.condstore
    uid = anna.uid_of(MSGID)
    # Both set their claim before either looks again (the same second): the claim that sorts first wins.
    anna._store(uid, "+FLAGS", [shared.KW_REPLYING, "$SupportctlClaim_anna"])
    ben._store(uid, "+FLAGS", [shared.KW_REPLYING, "$SupportctlClaim_ben"])
    assert anna.claim_for_reply(MSGID, "anna", again=True) == uid
    with pytest.raises(shared.AlreadyAnswered):
        ben.claim_for_reply(MSGID, "ben", again=False)


def test_triage_never_writes_to_the_mailbox(dovecot: ds.Dovecot, tmp_path: Path, monkeypatch: Any) -> None:
    path = dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    (item,) = _triage(dovecot, tmp_path / "s", monkeypatch)
    assert item.status == "due-soon" and path.exists()  # still in new/: not even \Seen or \Recent consumed
    flags, _m = _desk(dovecot).flags(_desk(dovecot).uid_of(MSGID))
    assert "\\Seen" not in flags


def test_a_shared_maildir_uses_the_replied_flag_and_the_rename_race(tmp_path: Path) -> None:
    root = tmp_path / "M"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    (root / "dovecot-keywords").write_text("0 $Forwarded\n")
    (root / "new" / "1764061200.M1P1.reg").write_bytes(rm.thunderbird([("f.pdf", rm.form())], MSGID))
    key = shared.maildir_mark_replied(root, "new/1764061200.M1P1.reg", "contract", again=False)
    assert key == "cur/1764061200.M1P1.reg:2,Rb"  # R, and keyword b = $SupportctlContract
    assert "1 $SupportctlContract" in (root / "dovecot-keywords").read_text()
    # The second desk member comes with the name it saw in new/: the file carries R now, so it lost.
    with pytest.raises(shared.AlreadyAnswered, match="answered already"):
        shared.maildir_mark_replied(root, "new/1764061200.M1P1.reg", "contract", again=False)
    with pytest.raises(shared.AlreadyAnswered, match="answered already"):
        shared.maildir_mark_replied(root, key, "contract", again=False)
    src = sources.MaildirSource(root, 1 << 20)
    assert src.marks()[key] == frozenset({"\\Answered", "$SupportctlContract"})


def test_a_shared_maildir_records_the_answer_of_each_form_of_a_mail_on_its_own(tmp_path: Path) -> None:
    """`R` is the message's: answering a mail's second form must not mark (and hide) its first one."""
    name = "1764061200.M1P1.reg"
    mail = rm.thunderbird([("a.pdf", rm.form()), ("b.pdf", rm.form(membership_id="TWO-B-2"))], MSGID)
    with_keywords, without = tmp_path / "K", tmp_path / "N"
    for root in (with_keywords, without):
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True)
        (root / "new" / name).write_bytes(mail)
    (with_keywords / "dovecot-keywords").write_text("0 $Forwarded\n")
    key = shared.maildir_mark_replied(with_keywords, f"new/{name}", "contract", again=False, index=2)
    assert key == f"cur/{name}:2,Rb" and "1 $SupportctlContract_2" in (with_keywords / "dovecot-keywords").read_text()
    marks = sources.MaildirSource(with_keywords, 1 << 20).marks()[key]
    assert (shared.server_done(marks, 1), shared.server_done(marks, 2)) == (None, "contract")
    with pytest.raises(shared.AlreadyAnswered):
        shared.maildir_mark_replied(with_keywords, key, "contract", again=False, index=2)
    key = shared.maildir_mark_replied(with_keywords, key, "contract", again=False, index=1)  # the first form: free
    assert key == f"cur/{name}:2,Rbc"
    # Without keywords `R` alone would say "the first form was answered": the second form's reply leaves the
    # file alone (recorded for this desk member only) rather than hide the first registration.
    assert shared.maildir_mark_replied(without, f"new/{name}", "contract", again=False, index=2) is None
    assert (without / "new" / name).exists()


def test_report_figures_on_a_mailbox_with_known_answers(tmp_path: Path, monkeypatch: Any) -> None:
    """Four critical registrations (1 business hour), answered in 30 min, 50 min, 3 h, and not at all."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    root = tmp_path / "M"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    answers = {"a": "10:30", "b": "10:50", "c": "13:00", "d": None}
    for n, tag in enumerate(answers):
        msg = rm.thunderbird([("f.pdf", rm.form(membership_id=f"M-{tag}-XYZ"))], f"<{tag}@example.org>")
        (root / "new" / f"1764061200.M{n}P1.reg").write_bytes(msg)
    result = inbox.triage(sources.MaildirSource(root, 1 << 20), pkg, engine, datetime.fromisoformat(NOW))
    for item in result.items:
        tag = item.facts.message_id.strip("<>").split("@")[0] if item.facts.message_id else ""
        if answers.get(tag):
            at = datetime.fromisoformat(f"2026-11-25T{answers[tag]}:00+01:00").isoformat()
            inbox.mark_done(item.facts.id, {"action": "contract", "contract": f"C-{tag}", "at": at})
    later = datetime.fromisoformat("2026-11-25T14:00:00+01:00")
    items = inbox.triage(sources.MaildirSource(root, 1 << 20), pkg, engine, later).items
    figures = report(list(items), engine, later)
    crit = figures["critical"].to_dict()
    assert crit["received"] == 4 and crit["answered_in_time"] == 2 and crit["answered_late"] == 1
    assert crit["open"] == 0 and crit["overdue_now"] == 1
    assert crit["median_business_seconds_to_reply"] == 3000.0  # 30, 50, 180 minutes -> 50 min
    assert crit["p90_business_seconds_to_reply"] == percentile([1800, 3000, 10800], 90) == 9240.0
    # The period is by received time: nothing was received from 11:00 on.
    assert report(list(items), engine, later, since=datetime.fromisoformat("2026-11-25T11:00:00+01:00")) == {}


def test_member_name_is_an_imap_atom(monkeypatch: Any) -> None:
    monkeypatch.setenv("SUPPORTCTL_INBOX_MEMBER", "Anna Dvořák (desk)")
    assert shared.member_name() == "Anna-Dvo--k--desk-"
    assert shared.member_name("ben") == "ben"


def test_idle_wakes_on_delivery_and_on_a_claim_and_watch_reports_both(
    dovecot: ds.Dovecot, tmp_path: Path, monkeypatch: Any
) -> None:
    import threading

    from supportctl.desk.watch import watch

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    src = sources.ImapSource(sources.parse_imap_url(dovecot.url), ds.PASSWORD, 1 << 20, None, dovecot.ca)
    now = datetime.fromisoformat(NOW)
    try:
        events = watch(src, lambda s, _t: inbox.triage(s, pkg, engine, now), interval=20, clock=lambda: now)
        first, changes = next(events)
        assert first.items == () and changes == []
        timer = threading.Timer(
            1.0, lambda: dovecot.deliver("1764061300.M2P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
        )
        timer.start()
        started = time.monotonic()
        _second, changes = next(events)  # IDLE returns when the server announces the new message
        waited = time.monotonic() - started
        assert [(c.before, c.item.status) for c in changes] == [(None, "due-soon")]
        assert waited < 10, waited  # woken by the server, not by the 20 s interval
        # Another desk member claims it: the flag change wakes the watch too, and the change says who.
        ben = _desk(dovecot)
        timer = threading.Timer(1.0, lambda: ben.claim(MSGID, "ben"))
        timer.start()
        started = time.monotonic()
        _third, changes = next(events)
        waited = time.monotonic() - started
        ben.conn.logout()
        assert [(c.before, c.claimed_before, c.item.status, c.item.claimed_by) for c in changes] == [
            ("due-soon", (), "due-soon", ("ben",))
        ]
        assert waited < 10, waited
    finally:
        src.close()


def test_watch_wakes_at_the_next_due_time() -> None:
    from supportctl.desk.watch import next_wake

    f = inbox.Facts("a", "k", None, None, "s", "s@x", None, "subj", NOW, "received", "pdf")
    due = datetime.fromisoformat("2026-11-25T11:00:00+01:00")
    result = inbox.Triage("src", (inbox.Item(f, "due-soon", due=due),))
    assert next_wake(result, datetime.fromisoformat(NOW), 3600) == pytest.approx(1800.05)
    assert next_wake(result, datetime.fromisoformat(NOW), 60) == 60


def test_a_claim_on_a_saved_copy_is_refused_in_one_line_without_the_reply_note(tmp_path: Path, cli: Any) -> None:
    """Claims live on a shared mailbox: a registration read from a directory of saved mails is refused, and
    nothing is said about a reply (none is involved)."""
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "registration.eml").write_bytes(rm.thunderbird([("f.pdf", rm.form())], "<saved@example.org>"))
    rid = json.loads(cli("inbox", str(saved), "--json").stdout.splitlines()[0])["id"]
    r = cli("inbox", "claim", rid)
    assert r.exit_code == 2, r.stderr
    talk = [line for line in r.stderr.splitlines() if not line.startswith("Using ")]
    assert talk == [f"error: claims live on a shared mailbox (IMAP or Maildir); {rid} was read from elsewhere"], (
        r.stderr
    )


def test_a_reply_to_a_later_form_in_a_maildir_without_keywords_says_it_is_recorded_for_you_only(
    tmp_path: Path, cli: Any
) -> None:
    """Without dovecot-keywords a Maildir can mark only a mail's first form as answered (`R`): a reply to its
    second form is recorded for the member alone, and said so, as for a read-only source."""
    md = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (md / sub).mkdir(parents=True)
    two = rm.thunderbird([("a.pdf", rm.form()), ("b.pdf", rm.form(membership_id="B-2-XYZ"))], "<two@example.org>")
    (md / "new" / "1764061200.M1P1.two").write_bytes(two)
    ids = [json.loads(line)["id"] for line in cli("inbox", str(md), "--json").stdout.splitlines()]
    first, second = sorted(ids)
    r = cli("inbox", "reply", second, "--contract", "C-2", "--eml", str(tmp_path / "second.eml"))
    assert r.exit_code == 0, r.stderr
    assert f"can mark only a mail's first form as answered (it has no dovecot-keywords): the reply to {second}" in (
        r.stderr
    ), r.stderr
    r = cli("inbox", "reply", first, "--contract", "C-1", "--eml", str(tmp_path / "first.eml"))
    assert r.exit_code == 0 and "recorded for you only" not in r.stderr, r.stderr
    (md / "dovecot-keywords").write_text("")
    r = cli("inbox", "reply", second, "--contract", "C-2", "--again", "--eml", str(tmp_path / "again.eml"))
    assert r.exit_code == 0 and "recorded for you only" not in r.stderr, r.stderr


def _broken(state: shared.ImapDeskState) -> None:
    """The session drops, as when a server restarts or a NAT forgets the connection."""
    import socket

    state.desk.conn.sock.shutdown(socket.SHUT_RDWR)


def test_a_session_that_breaks_after_the_claim_marks_the_reply_on_a_new_one(
    dovecot: ds.Dovecot, tmp_path: Path, monkeypatch: Any
) -> None:
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    (item,) = _triage(dovecot, tmp_path / "state", monkeypatch)
    target = sources.parse_imap_url(dovecot.url)
    logins = []

    def login() -> Any:
        logins.append(1)
        return sources.imap_login(target, ds.PASSWORD, dovecot.ca)

    state = shared.ImapDeskState(_desk(dovecot), "anna", target.host, login=login)
    token = state.claim(item.facts, "contract", again=False)
    _broken(state)
    state.replied(token, "contract", _reply("contract", "4711-0815"), item.facts)
    assert logins == [1]  # one new session
    other = _desk(dovecot)
    flags, _m = other.flags(other.uid_of(MSGID))
    assert {"\\Answered", shared.KW_CONTRACT} <= flags and shared.KW_REPLYING not in flags
    assert other.sent_replies().by_reply_to[MSGID]["contract"] == "4711-0815"


@pytest.mark.parametrize("relogin", ["none", "refused"])
def test_a_broken_session_is_one_line_naming_the_server_and_the_reply_still_goes(
    dovecot: ds.Dovecot, tmp_path: Path, monkeypatch: Any, relogin: str
) -> None:
    from supportctl.desk import reply
    from supportctl.errors import TransferError
    from supportctl.mail import outbox, submit

    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    (item,) = _triage(dovecot, tmp_path / "state", monkeypatch)
    target = sources.parse_imap_url(dovecot.url)
    state = shared.ImapDeskState(_desk(dovecot), "anna", target.host)  # no new session to be had
    _broken(state)
    with pytest.raises(TransferError, match=r"^the IMAP server 127\.0\.0\.1 failed: ") as err:
        state.claim(item.facts, "contract", again=False)
    assert "socket" not in str(err.value) and "abort" not in str(err.value)
    # Broken after the claim: the reply is queued and recorded here all the same, and the desk member is told.
    pkg = package.load(package.bundled_root())
    found = inbox.find(item.facts.id, pkg, inbox.Limits())
    # No new session to be had, or one whose login the server refuses (ConfigError): said all the same.
    refused = None if relogin == "none" else (lambda: sources.imap_login(target, "not-the-password", dovecot.ca))
    state = shared.ImapDeskState(_desk(dovecot), "anna", target.host, login=refused)
    claimed = state.claim
    state.claim = lambda *a: (claimed(*a), _broken(state))[0]  # type: ignore[method-assign]
    said: list[str] = []
    result = reply.reply(
        found, pkg, {}, contract="4711-0815", queue_only=True, desk=state, hooks=submit.Hooks(warn=said.append)
    )
    (entry,) = outbox.entries()
    assert result.queued is not None and result.queued.entry.id == entry.id
    assert inbox.load_done()[item.facts.id]["outbox"] == entry.id
    assert len(said) == 1 and said[0].startswith(f"message {item.facts.id} is answered, but marking it so"), said
    assert "replied to by anna" in said[0]
    other = _desk(dovecot)
    flags, _m = other.flags(other.uid_of(MSGID))
    assert "$SupportctlClaim_anna" in flags and "\\Answered" not in flags  # the others see it taken


def test_a_refusal_holds_when_the_sent_folder_cannot_be_read(dovecot: ds.Dovecot) -> None:
    dovecot.deliver("1764061200.M1P1.reg", rm.thunderbird([("f.pdf", rm.form())], MSGID))
    anna, ben = _desk(dovecot), _desk(dovecot)
    uid = anna.claim_for_reply(MSGID, "anna", again=False)
    anna.mark_replied(uid, "anna", "contract", _reply("contract", "4711-0815"))
    select = ben.conn.select

    def breaking(folder: str, readonly: bool = False) -> Any:  # the session drops as the Sent folder is opened
        if "Sent" in folder:
            import socket

            ben.conn.sock.shutdown(socket.SHUT_RDWR)
        return select(folder, readonly)

    ben.conn.select = breaking
    with pytest.raises(shared.AlreadyAnswered, match="was answered already"):
        ben.claim_for_reply(MSGID, "ben", again=False)
