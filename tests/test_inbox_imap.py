"""`inbox imaps://…` against a real Dovecot on 127.0.0.1: same triage as the Maildir, incremental by UID."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from supportctl.desk import sources as mailsource
from supportctl.desk import store
from supportctl.desk import triage as inbox
from supportctl.errors import ExitCode
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests.inbox_corpus import EXPECTED, StandInValidator, corpus, message, write_maildir

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
pytestmark = pytest.mark.slow  # starts a real Dovecot
NOW = "2026-11-25T10:30:00+01:00"
LIMITS = inbox.Limits(max_message_bytes=200_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dovecot() -> Iterator[dict[str, Any]]:
    """A real Dovecot (tests/dovecotserver.py) with the account `desk`, as a dict for these tests."""
    from tests import dovecotserver

    try:
        srv = dovecotserver.start(user="desk")
    except dovecotserver.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield {"dir": srv.dir, "maildir": srv.maildir, "port": srv.port, "ca": srv.ca, "uid": pwd.getpwnam("dovecot")}
    finally:
        srv.stop()


def _own(info: dict[str, Any]) -> None:
    for p in [info["maildir"], *info["maildir"].rglob("*")]:
        os.chown(p, info["uid"].pw_uid, info["uid"].pw_gid)


def test_imap_gives_the_same_triage_and_fetches_only_new_mail(
    dovecot: dict[str, Any], cli: Any, monkeypatch: Any
) -> None:
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    msgs = corpus()
    write_maildir(dovecot["maildir"], msgs)
    _own(dovecot)
    now = __import__("datetime").datetime.fromisoformat(NOW)
    local = inbox.triage(
        mailsource.MaildirSource(dovecot["maildir"], LIMITS.max_message_bytes),
        pkg,
        engine,
        now,
        limits=LIMITS,
        validator=StandInValidator(),
    )
    want = {i.facts.id: i.status for i in local.items}
    target = mailsource.parse_imap_url(f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX")
    src = mailsource.ImapSource(target, "s3cret-pw", LIMITS.max_message_bytes, None, dovecot["ca"])
    try:
        remote = inbox.triage(src, pkg, engine, now, limits=LIMITS, validator=StandInValidator())
    finally:
        src.close()
    assert {i.facts.id: i.status for i in remote.items} == want
    assert src.fetched_headers == len(msgs)
    assert src.fetched_bodies < len(msgs)  # text-only mail never needs its body
    assert {i.status for i in remote.items} == set(EXPECTED.values())
    # The CLI: password from the environment, never in argv; second run fetches only the new message.
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES", "200000")
    url = f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX"
    r = cli("inbox", url, "--ca-bundle", dovecot["ca"], "--now", NOW, "--json")
    assert r.exit_code == ExitCode.PARTIAL, r.stderr  # the corpus's three unreadable messages are listed as skipped
    assert {json.loads(x)["id"]: json.loads(x)["status"] for x in r.stdout.splitlines()} == want
    assert f"{len(msgs)} message(s)" in r.stderr
    new = message(subject="Lunch tomorrow?", msgid="<new@example.org>")
    (dovecot["maildir"] / "new" / "1764070000.M99P1.test").write_bytes(new)
    _own(dovecot)
    r = cli("inbox", url, "--ca-bundle", dovecot["ca"], "--now", NOW, "--json")
    assert r.exit_code == ExitCode.PARTIAL, r.stderr
    assert len(r.stdout.splitlines()) == len(msgs) + 1
    state = store.Store.open("imap:" + mailsource.parse_imap_url(url).url).meta()
    assert state["imap"]["last_uid"] == len(msgs) + 1
    wm = mailsource.Watermark(state["imap"]["uidvalidity"], state["imap"]["last_uid"])
    again = mailsource.ImapSource(target, "s3cret-pw", LIMITS.max_message_bytes, wm, dovecot["ca"])
    try:
        assert list(again.messages()) == [] and len(again.present) == len(msgs) + 1
    finally:
        again.close()
    assert b"s3cret-pw" not in store.path().read_bytes() and "s3cret-pw" not in r.stdout + r.stderr
    # Read-only: Dovecot kept every message unseen in new/ (no \\Seen flag set, nothing moved to cur/).
    assert len(list((dovecot["maildir"] / "new").iterdir())) == len(msgs) + 1
    # Without the CA the certificate is refused; a wrong password is a config error.
    r = cli("inbox", url, "--now", NOW)
    assert r.exit_code == ExitCode.TRANSFER and "certificate" in r.stderr
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", "wrong")
    r = cli("inbox", url, "--ca-bundle", dovecot["ca"], "--now", NOW)
    assert r.exit_code == ExitCode.CONFIG and "refused the login" in r.stderr


def test_a_rerun_lists_the_folder_only_when_mail_came_or_went(dovecot: dict[str, Any]) -> None:
    """EXAMINE's UIDNEXT and EXISTS as the last look left them: the same UIDs, so no UID SEARCH (issue 19:
    a rerun with nothing new does O(1) work beyond the server's answer). Mail that came or went is seen."""
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    now = __import__("datetime").datetime.fromisoformat(NOW)
    msgs = corpus()
    write_maildir(dovecot["maildir"], msgs)
    _own(dovecot)
    target = mailsource.parse_imap_url(f"imaps://desk@127.0.0.1:{dovecot['port']}/INBOX")

    def look() -> tuple[dict[str, str], list[str]]:
        """One triage on a fresh connection: the statuses by id, and the UID commands it sent."""
        src = mailsource.ImapSource(target, "s3cret-pw", LIMITS.max_message_bytes, None, dovecot["ca"])
        sent: list[str] = []
        real = src._conn.uid
        src._conn.uid = lambda command, *args: sent.append(command.upper()) or real(command, *args)
        try:
            result = inbox.triage(src, pkg, engine, now, limits=LIMITS, validator=StandInValidator())
            return {i.facts.id: i.status for i in result.items}, sent
        finally:
            src.close()

    first, sent = look()
    assert len(first) == len(msgs) and "SEARCH" in sent
    again, sent = look()
    assert again == first and "SEARCH" not in sent and "FETCH" not in sent  # CONDSTORE: no flag moved either
    # One message gone (EXISTS one less): listed again, without it.
    gone = sorted((dovecot["maildir"] / "new").iterdir())[0]
    gone.unlink()
    after, sent = look()
    assert "SEARCH" in sent and len(after) == len(msgs) - 1
    # One came and another went (EXISTS as before, UIDNEXT moved): both seen.
    sorted((dovecot["maildir"] / "new").iterdir())[0].unlink()
    (dovecot["maildir"] / "new" / "1764070000.M98P1.test").write_bytes(message(subject="Hi", msgid="<hi@example.org>"))
    _own(dovecot)
    last, sent = look()
    assert "SEARCH" in sent and len(last) == len(msgs) - 1
    assert set(last) - set(after) and set(after) - set(last)  # a new id, and one no longer there
    assert look()[1] == []  # and settled again
