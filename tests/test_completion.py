"""Issue 16, item 17: shell completion of values — document ids, --class, outbox and inbox ids — through the
real completion protocol (`_SUPPORTCTL_COMPLETE=complete_bash`, as the installed bash script calls it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def complete(line: str) -> list[str]:
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    env = dict(os.environ, PYTHONPATH=str(ROOT), _SUPPORTCTL_COMPLETE="complete_bash", COMP_WORDS=line)
    env["COMP_CWORD"] = str(cword)
    p = subprocess.run([sys.executable, "-m", "supportctl"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    return p.stdout.split()


def test_document_ids_for_show_and_print() -> None:
    assert complete("supportctl show ") == ["terms", "fields", "service-description", "registration-form"]
    assert complete("supportctl show reg") == ["registration-form"]
    assert complete("supportctl print ") == ["terms", "service-description", "registration-form"]


def test_activation_classes() -> None:
    assert complete("supportctl eta --class ") == ["critical", "standard", "all"]
    assert complete("supportctl eta -c s") == ["standard"]


def test_outbox_ids(isolated: Path) -> None:
    import json

    from supportctl.mail.outbox import Entry

    assert complete("supportctl outbox show ") == []
    root = isolated / ".local" / "state" / "supportctl" / "outbox"
    states = {
        "20261125-101500-aaaa0001": "deferred",
        "20261126-090000-bbbb0002": "sent",
        "20261127-080000-c3": "failed",
    }
    for name in (*states, ".keys", ".tmp-x"):
        (root / name).mkdir(parents=True)
    for name, state in states.items():
        e = Entry(name, state, "2026-11-25T10:15:00+00:00", "2026-11-25T10:15:00+00:00", "<m@x>", "a@b", ("c@d",), "s")
        (root / name / "state.json").write_text(json.dumps(e.to_dict()))
    everything = ["20261127-080000-c3", "20261126-090000-bbbb0002", "20261125-101500-aaaa0001"]
    assert complete("supportctl outbox show ") == everything
    assert complete("supportctl outbox resolve 2026112") == everything
    # retry sends only what is queued, deferred or waits for credentials: not what was sent or failed
    assert complete("supportctl outbox retry ") == ["20261125-101500-aaaa0001"]
    assert complete("supportctl outbox retry 20261126") == []


def test_inbox_ids_from_the_last_runs(isolated: Path) -> None:
    from supportctl.desk import store

    db = isolated / ".local" / "state" / "supportctl" / "inbox" / "inbox.sqlite"
    db.parent.mkdir(parents=True, mode=0o700)
    db.write_text("not a database")
    assert complete("supportctl inbox reply ") == []
    db.unlink()
    listed = {
        "maildir:/a": [("9d81c2aa0e13", "invalid"), ("9d81c2aa0e14", "duplicate")],
        "imap:imaps://d@h/INBOX": [("3f2a9c01b7de", "due-soon"), ("3f2a9c01b7df", "not-a-registration")],
    }
    for source, items in listed.items():
        s = store.Store.open(source)
        with s:
            s.put_items([(i, i, None, 1e300, 3, "", i, st, None, "[]", "{}", "{}") for i, st in items])
        s.close()
    # reply refuses duplicates and mail that is no registration: it is not offered them; show takes every id
    assert complete("supportctl inbox reply ") == ["3f2a9c01b7de", "9d81c2aa0e13"]
    assert complete("supportctl inbox reply 9d") == ["9d81c2aa0e13"]
    assert complete("supportctl inbox show 9d") == ["9d81c2aa0e13", "9d81c2aa0e14"]


def test_inbox_subcommands() -> None:
    """`inbox <Tab>` offered nothing: its SOURCE argument took the word. Now the subcommands; for anything else
    (a path) nothing, so the shell completes file names itself (`complete -o default`)."""
    assert complete("supportctl inbox ") == ["claim", "release", "reply", "report", "show"]
    assert complete("supportctl inbox re") == ["release", "reply", "report"]
    assert complete("supportctl inbox ./Mail") == []
