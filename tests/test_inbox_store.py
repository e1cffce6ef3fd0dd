"""The stored work list is the list a fresh triage computes, whatever happened to the mailbox in between.

A rerun assesses again only what changed (new and vanished messages, desk flags, replies recorded, every
message sharing a form with those); this property compares it, step by step, with a triage that
remembers nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from supportctl.desk import sources, triage
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests.inbox_corpus import StandInValidator, corpus, fake_pdf, message

LIMITS = triage.Limits(max_message_bytes=200_000, max_parts=100, max_depth=10)
NOW = datetime.fromisoformat("2026-11-25T10:30:00+01:00")
PKG = package.load(package.bundled_root())
ENGINE = eta.Engine(PKG.process.schedule, PKG.process.classes, "hours")


def _pool() -> list[bytes]:
    base = corpus()
    mails = [base[k] for k in ("critical", "standard", "invalid", "zip", "no-dates") if k in base]
    # The same form three times, received at different times: which one is the duplicate moves.
    for n, when in enumerate(("Wed, 25 Nov 2026 08:00:00 +0100", "Tue, 24 Nov 2026 17:00:00 +0100", None)):
        mails.append(message(pdf=fake_pdf(membership_id="DUP-1"), msgid=f"<dup{n}@example.org>", received=when))
    mails.append(message(subject="Lunch?", msgid="<lunch@example.org>", to="team@example.com"))
    return mails


POOL = _pool()
step = st.one_of(
    st.tuples(st.just("add"), st.integers(0, len(POOL) - 1)),
    st.tuples(st.just("remove"), st.integers(0, 20)),
    st.tuples(st.just("reply"), st.integers(0, 20)),
    st.tuples(st.just("later"), st.integers(0, 3)),
)


def _records(result: triage.Triage, now: datetime) -> list[dict[str, Any]]:
    return [json.loads(r.line) for r in result.records(now)]


DUP = len(POOL) - 4  # the first of the three copies of one form


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=8))
@example([("add", DUP), ("add", DUP + 1), ("remove", 1), ("add", DUP + 2)])  # the earlier copy arrives later
@example([("add", 0), ("reply", 0), ("later", 3), ("remove", 0)])
def test_incremental_reruns_equal_a_fresh_triage(steps: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("XDG_STATE_HOME")
        os.environ["XDG_STATE_HOME"] = str(Path(tmp, "state"))
        try:
            root = Path(tmp, "Maildir")
            for sub in ("new", "cur", "tmp"):
                (root / sub).mkdir(parents=True)
            now, files = NOW, 0
            src = sources.MaildirSource(root, LIMITS.max_message_bytes)
            for what, n in steps:
                present = sorted((root / "new").iterdir())
                if what == "add" and n not in [int(p.name.split(".")[-1]) for p in present]:
                    # (one copy of a Message-ID at a time: two copies' ids, id and id-2, depend on history)
                    files += 1
                    (root / "new" / f"17640{files:05d}.M{files}P1.{n}").write_bytes(POOL[n])
                elif what == "remove" and present:
                    present[n % len(present)].unlink()
                elif what == "reply" and present:
                    ids = [
                        i.facts.id
                        for i in triage.triage(
                            src, PKG, ENGINE, now, limits=LIMITS, persist=False, validator=StandInValidator()
                        ).items
                    ]
                    triage.mark_done(ids[n % len(ids)], {"action": "contract", "contract": f"C-{n}"})
                elif what == "later":
                    now += timedelta(hours=n + 1)
                kept = triage.triage(src, PKG, ENGINE, now, limits=LIMITS, validator=StandInValidator())
                fresh = triage.triage(src, PKG, ENGINE, now, limits=LIMITS, persist=False, validator=StandInValidator())
                assert _records(kept, now) == _records(fresh, now)
                assert kept.items == fresh.items  # rebuilt from the stored rows (`inbox` text, `show`, `reply`)
                kept.close()
                fresh.close()
        finally:
            if old is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = old


def test_a_damaged_store_is_moved_aside_and_a_busy_one_named(cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import sqlite3

    from supportctl.desk import store
    from supportctl.errors import ExitCode
    from tests.inbox_corpus import write_maildir

    write_maildir(tmp_path / "M", {"critical": POOL[0]})
    first = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    assert first.exit_code == 0, first.stderr
    # Junk in the state file (a disk error, a bad copy): moved aside, nothing deleted, the run reads afresh.
    store.path().write_bytes(b"not a database, just junk\n" * 100)
    again = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    assert again.exit_code == 0 and again.stdout == first.stdout, again.stderr
    (aside,) = store.path().parent.glob("inbox.sqlite.damaged-*")
    assert aside.read_bytes().startswith(b"not a database") and "was damaged: moved to" in again.stderr
    assert "Traceback" not in again.stderr
    # Another run holds the write lock: one line saying so after the wait, exit 1, no traceback.
    monkeypatch.setattr(store.Store, "TIMEOUT", 0.2)
    other = sqlite3.connect(store.path(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        busy = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert busy.exit_code == ExitCode.ERROR and "in use by another supportctl run" in busy.stderr, busy.stderr
    assert "Traceback" not in busy.stderr


def test_the_original_of_two_copies_is_the_earlier_arrival_in_a_maildir_and_over_imap() -> None:
    from dataclasses import replace

    base = triage.Facts(
        id="a", key="uid:10", message_id=None, references=None, sender="", sender_address="", reply_to=None,
        subject="", received="2026-11-25T10:00:00+01:00", received_from="received", kind="pdf", mtime=100.0,
    )  # fmt: skip
    order = triage._arrival_order
    assert order(replace(base, key="uid:9")) < order(base)  # UIDs by number, not as text
    assert order(replace(base, mtime=50.0)) < order(replace(base, key="uid:9"))  # the arrival decides first
    # Received times by the clock, whatever the offset: 09:30 UTC is after 10:00 +01:00.
    assert order(base) < order(replace(base, received="2026-11-25T09:30:00+00:00", mtime=1.0))
    assert order(replace(base, received=None)) > order(base)  # undated last


def test_show_agrees_with_the_list_on_a_duplicate(cli: Any, tmp_path: Path) -> None:
    from tests.inbox_corpus import corpus, write_maildir

    mails = corpus()
    write_maildir(tmp_path / "M", {"invalid": mails["invalid"], "critical": mails["critical"], "copy": POOL[5]})
    write_maildir(tmp_path / "M2", {"copy": POOL[6]})  # a second copy of the same form, received earlier
    (tmp_path / "M2" / "new" / "1764061200.M0P1.test").rename(tmp_path / "M" / "new" / "1764061200.M9P1.test")
    listed = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    records = {r["subject"] + r["key"]: r for r in map(json.loads, listed.stdout.splitlines())}
    (dup,) = [r for r in records.values() if r["status"] == "duplicate"]
    shown = json.loads(cli("inbox", "show", dup["id"][:6], "--json").stdout)["data"]
    assert shown["status"] == "duplicate" and shown["reasons"] == dup["reasons"]


def test_a_state_directory_that_cannot_be_used_still_lists_the_mailbox(cli: Any, tmp_path: Path) -> None:
    from supportctl import paths
    from tests.inbox_corpus import corpus, write_maildir

    write_maildir(tmp_path / "M", {"critical": corpus()["critical"]})
    paths.state_dir().mkdir(parents=True, exist_ok=True)
    (paths.state_dir() / "inbox").write_text("a file where the directory should be")
    r = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1, r.stderr
    assert "cannot be written" in r.stderr and "Traceback" not in r.stderr


def test_an_item_that_is_its_message_is_stored_once(tmp_path: Path, monkeypatch: Any) -> None:
    """The work list keeps no second copy of a message's facts where the item is the message (no form, or
    its first and only form is not split off): the message's row holds them. Rebuilt, nothing is missing."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    base = corpus()
    for n, data in enumerate([base["chat"], base["critical"], base["zip"], base["fake-pdf"], base["standard"]]):
        (root / "new" / f"17640{n:05d}.M{n}P1.x").write_bytes(data)
    src = sources.MaildirSource(root, LIMITS.max_message_bytes)
    kept = triage.triage(src, PKG, ENGINE, NOW, limits=LIMITS, validator=StandInValidator())
    fresh = triage.triage(src, PKG, ENGINE, NOW, limits=LIMITS, persist=False, validator=StandInValidator())
    rows = kept._store.db.execute("SELECT id, message, item FROM items").fetchall()
    by_id = {i.facts.id: i for i in kept.items}
    own = {by_id[i].facts.message_id for i, _m, item in rows if json.loads(item)["facts"] is None}
    assert own == {"<chat@example.org>", "<zip@example.org>", "<fake@example.org>"}  # the forms: their own facts
    assert kept.items == fresh.items
    assert {i.facts.id for i in kept.items} == {i for i, _m, _item in rows}
    assert all(i.facts.sender_address and i.facts.key for i in kept.items)
    kept.close()
    fresh.close()


def test_a_store_damaged_inside_is_moved_aside_by_the_run_that_finds_it(cli: Any, tmp_path: Path) -> None:
    """Pages SQLite cannot read behind a readable header (a disk error, a torn copy): opening succeeds and a
    query fails. A lookup says so in one line; the next `inbox` run moves the file aside and reads afresh."""
    from supportctl.desk import store
    from supportctl.errors import ExitCode
    from tests.inbox_corpus import write_maildir

    base = corpus()
    write_maildir(tmp_path / "M", {"critical": base["critical"], "chat": base["chat"]})
    first = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    assert first.exit_code == 0, first.stderr
    some_id = json.loads(first.stdout.splitlines()[0])["id"]
    data = bytearray(store.path().read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    assert len(data) >= 4 * page
    data[page : 4 * page] = b"\xa5" * (3 * page)  # the first tables' pages; page 1 (the schema) intact
    store.path().write_bytes(bytes(data))

    show = cli("inbox", "show", some_id)
    assert show.exit_code == ExitCode.ERROR and "Traceback" not in show.stderr, show.stderr
    assert show.stderr.count("error: ") == 1 and "is damaged" in show.stderr, show.stderr
    as_json = cli("inbox", "show", some_id, "--json")
    assert json.loads(as_json.stdout)["errors"][0]["message"].endswith("is damaged"), as_json.stdout

    again = cli("inbox", str(tmp_path / "M"), "--json", "--now", NOW.isoformat())
    assert again.exit_code == 0 and again.stdout == first.stdout, again.stderr
    assert "was damaged: moved to" in again.stderr and "Traceback" not in again.stderr
    (aside,) = store.path().parent.glob("inbox.sqlite.damaged-*")
    assert aside.read_bytes()[page : 2 * page] == b"\xa5" * page  # nothing deleted
    assert cli("inbox", "show", some_id).exit_code == 0


PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:  # SQLite's readers hold a read lock on these 510 bytes of the database file (its unix VFS: SHARED_FIRST)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002)
except OSError:
    sys.exit(1)
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX advisory locks")
def test_opening_the_store_again_keeps_the_locks_of_a_connection_still_open(tmp_path: Path, monkeypatch: Any) -> None:
    """`inbox --watch` (and any run that opens the store twice) must not drop a live connection's locks: closing
    any descriptor of the file releases all of the process's POSIX locks on it, and another process could then
    checkpoint and delete the WAL under the open connection (sqlite.org/howtocorrupt.html, 2.2)."""
    import subprocess
    import sys

    from supportctl.desk import store

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    first = store.Store.open("maildir:/x")
    first.db.execute("BEGIN")
    first.db.execute("SELECT count(*) FROM items").fetchall()  # a read under way

    def locked() -> bool:
        return subprocess.run([sys.executable, "-c", PROBE, str(store.path())], check=False).returncode == 1

    assert locked()
    second = store.Store.open("maildir:/x")
    assert locked()  # still held by the first connection
    first.db.execute("COMMIT")
    second.close()
    first.close()
    assert not locked()


def test_an_item_whose_message_row_is_gone_is_a_damaged_state_not_a_traceback(tmp_path: Path, monkeypatch: Any) -> None:
    from supportctl.desk import store
    from supportctl.errors import SupportctlError

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    s = store.Store.open("maildir:/x")
    item = '{"facts": null, "status": "invalid", "reasons": [], "class": null, "due": null, "clock_starts": null,'
    item += ' "form": null, "done": null, "claimed_by": []}'
    with s:
        s.put_items([("a1b2c3d4e5f6", "a1b2c3d4e5f6", None, 1e300, 3, "", "k", "invalid", None, "[]", item, "{}")])
    result = triage.Triage("maildir:/x", None, {}, store=s, engine=ENGINE, now=NOW)
    with pytest.raises(SupportctlError, match="is damaged"):
        result.items  # noqa: B018
    s.close()


def test_rows_made_while_reading_give_way_to_a_reply_and_a_claim(tmp_path: Path, monkeypatch: Any) -> None:
    """A message alone (no form) gets its work-list row while the mail is read; a reply recorded for it, or a
    desk member's claim in the mailbox, is still what the list shows (the row is made again at the end)."""
    from supportctl.desk.shared import KW_CLAIM

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for n, name in enumerate(("nothing", "claimed", "answered")):
        flags = "a" if name == "claimed" else ""  # keyword a: the claim (dovecot-keywords below)
        mail = message(subject=name, msgid=f"<{name}@example.org>")
        (root / "cur" / f"17640{n:05d}.M{n}P1.{name}:2,S{flags}").write_bytes(mail)
    (root / "dovecot-keywords").write_text(f"0 {KW_CLAIM}anna\n")
    src = sources.MaildirSource(root, LIMITS.max_message_bytes)

    def listed(persist: bool) -> dict[str, dict[str, Any]]:
        result = triage.triage(src, PKG, ENGINE, NOW, limits=LIMITS, persist=persist, validator=StandInValidator())
        try:
            return {r["subject"]: r for r in map(json.loads, (r.line for r in result.records(NOW)))}
        finally:
            result.close()

    ids = {subject: r["id"] for subject, r in listed(False).items()}
    triage.mark_done(ids["answered"], {"action": "reject", "at": "2026-11-25T09:00:00+01:00"})
    made: list[str] = []
    real = triage._item_row

    def counted(item: triage.Item, own: bool) -> Any:
        made.append(item.facts.subject)
        return real(item, own)

    monkeypatch.setattr(triage, "_item_row", counted)
    for persist in (True, False):
        made.clear()
        got = listed(persist)
        # Each made while reading; the claimed and the answered one made again at the end.
        assert sorted(made) == ["answered", "answered", "claimed", "claimed", "nothing"]
        assert got["nothing"]["status"] == "invalid" and got["nothing"]["claimed_by"] == []
        assert got["claimed"]["status"] == "invalid" and got["claimed"]["claimed_by"] == ["anna"]
        assert got["answered"]["status"] == "done"


def test_form_cache_stops_asking_the_store_for_forms_it_does_not_hold(tmp_path: Path, monkeypatch: Any) -> None:
    """A first look at a large mailbox asks for every new form: after a few misses the cache knows the store's
    keys and answers misses itself, and still finds the forms stored before and those judged in this run."""
    from supportctl.desk import store as state

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    db = state.Store.open("maildir:x")
    db.put_forms({"pkg/old": {"ok": True}})
    asked: list[object] = []
    real = db.forms
    monkeypatch.setattr(db, "forms", lambda keys=None: asked.append(keys) or real(keys))
    cache = triage.FormCache(db)
    for n in range(100):
        assert cache.get(f"pkg/new-{n}") is None
    assert len(asked) == 32  # then the keys, once
    assert cache.get("pkg/old") == {"ok": True}
    cache["pkg/new-5"] = {"ok": False}
    assert cache.get("pkg/new-5") == {"ok": False} and "pkg/new-6" not in cache
    db.close()
