"""Issue 16, item 17: shell completion of values — document ids, --class, outbox and inbox ids — through the
real completion protocol (`_SUPPORTCTL_COMPLETE=complete_bash`, as the installed bash script calls it)."""

from __future__ import annotations

import json
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
    assert complete("supportctl outbox show ") == []
    root = isolated / ".local" / "state" / "supportctl" / "outbox"
    for name in ("20261125-101500-aaaa0001", "20261126-090000-bbbb0002", ".keys", ".tmp-x"):
        (root / name).mkdir(parents=True)
    assert complete("supportctl outbox show ") == ["20261126-090000-bbbb0002", "20261125-101500-aaaa0001"]
    assert complete("supportctl outbox retry 20261125") == ["20261125-101500-aaaa0001"]
    assert complete("supportctl outbox resolve 2026112") == ["20261126-090000-bbbb0002", "20261125-101500-aaaa0001"]


def test_inbox_ids_from_the_last_runs(isolated: Path) -> None:
    state = isolated / ".local" / "state" / "supportctl" / "inbox" / "0123abcd" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"messages": {"k1": {"id": "3f2a9c01b7de"}, "k2": {"id": "9d81c2aa0e13"}}}))
    (state.parent.parent / "broken").mkdir()
    (state.parent.parent / "broken" / "state.json").write_text("{not json")
    assert complete("supportctl inbox reply ") == ["3f2a9c01b7de", "9d81c2aa0e13"]
    assert complete("supportctl inbox reply 9d") == ["9d81c2aa0e13"]
