"""Triage with raw messages scanned and judged in worker processes gives exactly the records of the in-process path.

One Maildir of mail as the mail programs build it around real forms (`form.fill_pdf`), judged by the real
validator: valid, invalid and duplicate forms, two forms in one mail, the service description, uuencode, junk
and hostile MIME, a message over the size limit, a FIFO. It is triaged with the pool off (one worker) and
forced on (two workers from the first form, two messages per task, one task in flight per worker), each into
its own state directory, and every record, the stats and the stored state must be the same.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from supportctl.desk import sources as mailsource
from supportctl.desk import triage as inbox
from supportctl.desk import workers
from supportctl.desk.store import Store
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests import formkit
from tests import realmail as rm
from tests.inbox_corpus import corpus, write_maildir

NOW = datetime.fromisoformat("2026-11-25T10:30:00+01:00")
LIMITS = inbox.Limits(max_message_bytes=1_000_000, max_parts=100, max_depth=10)


def _cyrillic_name(writer: Any) -> None:
    from pypdf.generic import NameObject, TextStringObject

    formkit.field_obj(writer, "last_name")[NameObject("/V")] = TextStringObject("Жукова")


def _mailbox(root: Path) -> dict[str, str]:
    good = rm.form()
    forms = [rm.form(membership_id=f"M-{i:03d}-XYZ", support="standard" if i % 2 else "critical") for i in range(6)]
    invalid = formkit.rewrite(rm.form(membership_id="BAD-1-XYZ"), _cyrillic_name)  # changed in a PDF editor
    mails = {
        **rm.corpus(),
        **{f"form-{i}": rm.thunderbird([("f.pdf", f)], f"<f{i}@example.org>") for i, f in enumerate(forms)},
        "invalid": rm.outlook("Registrierung.pdf", invalid, "<inv@example.org>"),
        "again": rm.apple_mail("Registration.pdf", good, "<again@example.org>"),  # a duplicate form
        "same-id": rm.thunderbird([("g.pdf", forms[0])], "<tb1@example.org>"),  # a Message-ID seen before
        "oversized": rm.thunderbird([("big.pdf", good + b"%" * 1_000_000)], "<big@example.org>"),
        **{f"hostile-{k}": v for k, v in corpus().items()},  # stand-in "PDFs" are junk to the real validator
    }
    keys = write_maildir(root, mails)
    os.mkfifo(root / "new" / "1764061299.fifo")
    return keys


def _triage(root: Path, state: Path, monkeypatch: pytest.MonkeyPatch, workers_: int) -> tuple[Any, ...]:
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    src = mailsource.MaildirSource(root, LIMITS.max_message_bytes)
    result = inbox.triage(src, pkg, engine, NOW, limits=LIMITS, workers=workers_)
    items = [i.to_dict(NOW) for i in result.items]
    result.close()
    store = Store.open(src.key)  # what the next run starts from: facts, judged forms, the work list
    try:
        stored = (
            sorted(store.messages(), key=lambda d: d["id"]),
            store.forms(),
            list(store.item_rows("status, due, key, reasons, record, id = message")),
        )
    finally:
        store.close()
    return items, result.stats, stored


@pytest.mark.parametrize("method", ["fork", "spawn"])  # spawn: macOS and Windows (the worker starts afresh)
def test_the_pool_gives_the_records_of_the_in_process_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setattr(workers.Judge, "START_METHOD", method)
    keys = _mailbox(tmp_path / "M")
    alone = _triage(tmp_path / "M", tmp_path / "one", monkeypatch, 1)
    sent: list[int] = []
    send = workers.Judge._send_chunk
    monkeypatch.setattr(workers.Judge, "_send_chunk", lambda self: sent.append(len(self.chunk)) or send(self))
    monkeypatch.setattr(workers.Judge, "POOL_AFTER", 1)
    monkeypatch.setattr(workers.Judge, "CHUNK", 2)
    monkeypatch.setattr(workers.Judge, "TASKS_PER_WORKER", 1)
    pooled = _triage(tmp_path / "M", tmp_path / "two", monkeypatch, 2)
    assert len(sent) >= 8 and max(sent) == 2  # the raw messages went to the workers, two per task
    assert pooled[0] == alone[0]
    assert pooled[1] == alone[1]
    assert pooled[2] == alone[2]
    # Read by a mail client (moved to cur/), and one new form: the forms judged before come from the cache.
    for f in (tmp_path / "M" / "new").iterdir():
        if f.is_file():
            f.rename(tmp_path / "M" / "cur" / (f.name + ":2,S"))
    fresh = rm.thunderbird([("new.pdf", rm.form(membership_id="NEW-1-XYZ"))], "<new@example.org>")
    (tmp_path / "M" / "new" / "1764069999.M1P1.test").write_bytes(fresh)
    pooled_again = _triage(tmp_path / "M", tmp_path / "two", monkeypatch, 2)
    monkeypatch.setattr(workers.Judge, "POOL_AFTER", 8)
    alone_again = _triage(tmp_path / "M", tmp_path / "one", monkeypatch, 1)
    assert pooled_again == alone_again
    # cached: each of the 27 PDFs in the 25 messages read before that carry one (14 PDFs in 12 of rm.corpus).
    assert alone_again[1] == {"messages": len(keys) + 2, "validated": 1, "cached": 27, "skipped": 4}
    # And the records are the ones the desk expects (not merely equal in their mistakes).
    by_key: dict[str, list[dict[str, Any]]] = {}
    for rec in alone[0]:
        by_key.setdefault(rec["key"], []).append(rec)
    # 13 forms: 6 + the invalid one + the 2 of rm.corpus + its service description + 3 stand-ins of `corpus()`;
    # skipped: too many parts, nested too deep, over the size limit, the FIFO.
    assert alone[1] == {"messages": len(keys) + 1, "validated": 13, "cached": 0, "skipped": 4}
    assert {r["form_index"]: r["status"] for r in by_key[keys["two-forms"]]} == {1: "duplicate", 2: "open"}
    assert [r["status"] for r in by_key[keys["form-1"]]] == ["open"]
    assert by_key[keys["again"]][0]["status"] == "duplicate"
    assert by_key[keys["invalid"]][0]["status"] == "invalid"
    assert any("U+0416" in r for r in by_key[keys["invalid"]][0]["reasons"])
    assert by_key[keys["uuencode"]][0]["attachment"] == "form.pdf"
    assert by_key[keys["same-id"]][0]["id"].endswith("-2")
    assert by_key[keys["oversized"]][0]["status"] == "skipped"
    assert by_key["new/1764061299.fifo"][0]["status"] == "skipped"
    assert [a["role"] for a in by_key[keys["description-first"]][0]["attachments"]] == ["pdf", "this-form"]


def _dies(arg: Any) -> Any:
    os._exit(3)  # a worker killed mid-task (out of memory, a signal)


def test_a_dead_worker_loses_no_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The messages of a task whose worker died are scanned here; their forms say they could not be checked."""
    mails = {
        f"f{i}": rm.thunderbird([("f.pdf", rm.form(membership_id=f"D-{i}-XYZ"))], f"<d{i}@x.org>") for i in range(4)
    }
    keys = write_maildir(tmp_path / "M", mails)
    monkeypatch.setattr(workers.Judge, "POOL_AFTER", 1)
    monkeypatch.setattr(workers, "scan_chunk", _dies)
    monkeypatch.setattr(workers, "judge_pdf", _dies)
    items, stats, _state = _triage(tmp_path / "M", tmp_path / "s", monkeypatch, 2)
    assert stats == {"messages": 4, "validated": 4, "cached": 0, "skipped": 0}
    assert sorted(i["key"] for i in items) == sorted(keys.values())
    # The first form is judged here, before the workers are forked (they inherit what it loaded); every other
    # form went to a worker that died.
    judged_here = [i for i in items if i["status"] != "invalid"]
    assert [(i["status"], i["reasons"]) for i in judged_here] == [("due-soon", [])]
    for item in items:
        if item is judged_here[0]:
            continue
        assert (item["status"], item["attachment"], item["form_index"]) == ("invalid", "f.pdf", 1)
        assert item["reasons"] == ["the PDF could not be checked: the checking process failed"]
