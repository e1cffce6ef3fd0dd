"""`inbox`: triage of Maildir, mbox, .eml directories and stdin; statuses at a fixed time; hostile mail; replies.

The hostile-mail corpus carries stand-in PDFs (a `%PDF` line, then JSON) judged by a stand-in validator
passed to `inbox.triage`: the statuses depend only on the report's shape, and the corpus stays small and
fast. The CLI then works from the validation cache those runs leave. Real forms (`form.fill_pdf`) through
the real validator: `test_real_forms_are_validated_by_the_cli` here and tests/test_end_to_end.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import mailbox
import re
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportctl.desk import sources as mailsource
from supportctl.desk import store
from supportctl.desk import triage as inbox
from supportctl.errors import ExitCode
from supportctl.package import manifest as package
from supportctl.schedule import eta
from tests.inbox_corpus import EXPECTED, StandInValidator, corpus, write_maildir

NOW = "2026-11-25T10:30:00+01:00"
LIMITS = inbox.Limits(max_message_bytes=200_000, max_parts=100, max_depth=10)


@pytest.fixture
def pkg() -> package.Package:
    return package.load(package.bundled_root())


@pytest.fixture
def engine(pkg: package.Package) -> eta.Engine:
    return eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")


def statuses(result: inbox.Triage, keys: dict[str, str]) -> dict[str, str]:
    by_key = {i.facts.key: i.status for i in result.items}
    return {name: by_key[k] for name, k in keys.items()}


def run(src: mailsource.Source, pkg: Any, engine: Any, now: str = NOW, **kw: Any) -> inbox.Triage:
    kw.setdefault("validator", StandInValidator())
    return inbox.triage(src, pkg, engine, datetime.fromisoformat(now), limits=LIMITS, **kw)


def test_maildir_statuses_at_a_fixed_time(tmp_path: Path, pkg: Any, engine: Any) -> None:
    keys = write_maildir(tmp_path / "Maildir", corpus())
    result = run(mailsource.MaildirSource(tmp_path / "Maildir", LIMITS.max_message_bytes), pkg, engine)
    assert statuses(result, keys) == EXPECTED
    items = {i.facts.key: i for i in result.items}
    crit = items[keys["critical"]]
    assert crit.activation_class == "critical" and crit.facts.received_from == "received"
    assert crit.due is not None and crit.due.isoformat() == "2026-11-25T11:00:00+01:00"
    std = items[keys["standard"]]
    assert std.due is not None and std.due.isoformat() == "2026-11-25T18:00:00+01:00"
    assert items[keys["no-dates"]].facts.received_from == "arrival"
    # Sorted by due time: the standard registration (due tomorrow) after the critical one.
    order = [i.facts.key for i in result.items]
    assert order.index(keys["critical"]) < order.index(keys["standard"])
    # Reasons in plain words, and hostile header text made safe for a terminal.
    assert items[keys["invalid"]].reasons == (
        "field last_name: contains U+0416 'Ж', which is not Latin script; suggestion: Zhukova",
    )
    assert items[keys["zip"]].reasons == ("attachment form.zip is a zip archive, not the PDF form",)
    assert items[keys["many-parts"]].reasons == ("more than inbox.max_parts (100) MIME parts",)
    assert items[keys["deep"]].reasons == ("MIME parts nested deeper than inbox.max_depth (10)",)
    (huge,) = items[keys["huge"]].reasons
    assert re.fullmatch(r"message is \d{6} bytes, more than inbox.max_message_bytes \(200000\)", huge), huge
    assert items[keys["bad-charset"]].facts.subject == "=?utf-8?Q?=E2=82?= ?[31mred"  # ESC shown as ?
    assert items[keys["duplicate"]].reasons == (f"the same form as message {crit.facts.id}",)


def test_later_now_makes_overdue_and_cache_avoids_revalidation(tmp_path: Path, pkg: Any, engine: Any) -> None:
    keys = write_maildir(tmp_path / "M", corpus())
    v = StandInValidator()
    src = mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes)
    first = run(src, pkg, engine, validator=v)
    assert first.stats["validated"] == 3 and v.calls == 3  # critical (= duplicate), standard, invalid
    second = run(src, pkg, engine, "2026-11-25T11:30:00+01:00", validator=v)
    assert v.calls == 3 and second.stats["cached"] == 4 and second.stats["validated"] == 0
    got = statuses(second, keys)
    assert got["critical"] == "overdue" and got["standard"] == "open"
    # The user's mail files are untouched; the state lives in XDG_STATE_HOME.
    assert sorted(p.name for p in (tmp_path / "M").rglob("*") if p.is_file()) == sorted(
        k.split("/")[1] for k in keys.values()
    )
    assert store.path().exists()


def test_unchanged_files_are_not_read_again(tmp_path: Path, pkg: Any, engine: Any) -> None:
    """A file with the same name, size and mtime as last run is the same message: its body is not re-read."""
    import os

    from tests.inbox_corpus import fake_pdf, message

    keys = write_maildir(tmp_path / "M", corpus())
    src = mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes)
    run(src, pkg, engine)
    path = tmp_path / "M" / keys["standard"]
    st = path.stat()
    # Same size and mtime, other bytes (a Cyrillic name: invalid if it were read): the last verdict stands.
    other = message(
        pdf=fake_pdf(support="standard", membership_id="777", last_name="Жукова"),
        msgid="<standard@example.org>",
        received="Wed, 25 Nov 2026 09:00:00 +0100",
    )
    assert len(other) != st.st_size  # made the same size below
    other = other[: st.st_size] if len(other) > st.st_size else other + b" " * (st.st_size - len(other))
    path.write_bytes(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    v = StandInValidator()
    again = run(src, pkg, engine, validator=v)
    assert statuses(again, keys) == EXPECTED and v.calls == 0 and again.stats["cached"] == 4
    # A new mtime: read and judged again (the file changed).
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = run(src, pkg, engine, validator=v)
    assert v.calls == 1 and third.stats["validated"] == 1
    # Other limits decide differently what is skipped: nothing is reused then.
    wider = inbox.triage(
        src, pkg, engine, datetime.fromisoformat(NOW), limits=inbox.Limits(200_000, 200, 10), validator=v
    )
    # 150 parts: within 200, read again; text files only, to the registration address: the form is missing.
    assert statuses(wider, keys)["many-parts"] == "invalid"
    assert store.Store.open(src.key).meta()["limits"] == [200_000, 200, 10]


def test_mbox_eml_dir_and_stdin_agree_with_maildir(tmp_path: Path, pkg: Any, engine: Any) -> None:
    msgs = corpus()
    box = mailbox.mbox(tmp_path / "box.mbox")
    for data in msgs.values():
        box.add(data)
    box.flush()
    box.close()
    (tmp_path / "eml").mkdir()
    for name, data in msgs.items():
        (tmp_path / "eml" / f"{name}.eml").write_bytes(data)
    want = sorted(EXPECTED[n] for n in msgs if n != "no-dates")
    for src in (
        mailsource.MboxSource(tmp_path / "box.mbox", LIMITS.max_message_bytes),
        mailsource.EmlDirSource(tmp_path / "eml", LIMITS.max_message_bytes),
    ):
        got = sorted(i.status for i in run(src, pkg, engine).items if i.facts.id != _id_of(msgs["no-dates"]))
        assert got == want, src.kind
    one = mailsource.StdinSource(io.BytesIO(msgs["critical"]), LIMITS.max_message_bytes)
    (item,) = run(one, pkg, engine).items
    assert item.status == "due-soon" and item.activation_class == "critical"


def _id_of(data: bytes) -> str:
    return inbox.message_key(message_from_bytes(data), mailsource.split_head(data))


def test_cli_ndjson_plain_and_fail_on(tmp_path: Path, pkg: Any, engine: Any, cli: Any) -> None:
    keys = write_maildir(tmp_path / "M", corpus())
    run(mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes), pkg, engine)  # fills the cache
    env = {"SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES": "200000"}
    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json", env=env)
    assert r.exit_code == ExitCode.PARTIAL, r.stderr  # three messages could not be read: listed, and said
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert {rec["key"]: rec["status"] for rec in records} == {keys[n]: s for n, s in EXPECTED.items()}
    crit = next(rec for rec in records if rec["key"] == keys["critical"])
    assert crit["due"] == "2026-11-25T11:00:00+01:00" and crit["class"] == "critical"
    assert crit["seconds_until_due"] == 1800 and crit["received_from"] == "received"
    assert "skipped new/" in r.stderr and "2 due-soon" not in r.stderr
    r = cli("inbox", str(tmp_path / "M"), "--now", "2026-11-25T11:30+01:00", "--fail-on", "overdue", env=env)
    assert r.exit_code == ExitCode.OVERDUE, r.stderr
    assert "1 registration(s) overdue" in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[1] == "overdue" and len(lines) == len(EXPECTED)
    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--status", "invalid", "--json", env=env)
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()} == {"invalid"}
    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--status", "open", "--json", "--fail-on", "overdue", env=env)
    assert r.exit_code == ExitCode.PARTIAL
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()} == {"open", "due-soon"}


def test_cli_stdin_and_missing_source(cli: Any, tmp_path: Path) -> None:
    from tests.inbox_corpus import message

    r = cli("inbox", "-", "--now", NOW, "--json", input=message(subject="Hello").decode())
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["type"], rec["status"], rec["reasons"]) == (
        "registration",
        "invalid",
        ["no registration form attached"],
    )
    r = cli("inbox", "-", "--now", NOW, "--json", input=message(subject="Hello", to="x@example.com").decode())
    assert json.loads(r.stdout)["status"] == "not-a-registration"
    r = cli("inbox", str(tmp_path / "nope"), "--json")
    # One NDJSON stream for a script: an error is a record of it too.
    err = json.loads(r.stdout)
    assert r.exit_code == ExitCode.INVALID_INPUT and (err["type"], err["exit_code"]) == ("error", 3)
    assert "no such mailbox" in r.stderr


def test_reply_contract_reject_and_done(tmp_path: Path, pkg: Any, engine: Any, cli: Any) -> None:
    msgs = corpus()
    keys = write_maildir(tmp_path / "M", msgs)
    result = run(mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes), pkg, engine)
    ids = {i.facts.key: i.facts.id for i in result.items}
    crit, bad = ids[keys["critical"]], ids[keys["invalid"]]
    r = cli("inbox", "reply", crit, "--contract", "V-2026-0042", "--note", "Welcome!", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.endswith("Dry run: nothing was sent or marked.\n"), r.stderr  # as submit --dry-run says it
    reply = message_from_bytes(r.stdout.encode())
    assert reply["In-Reply-To"] == "<critical@example.org>" and "<critical@example.org>" in reply["References"]
    assert reply["To"] == "anna@example.org"
    body = reply.get_payload(decode=True).decode()
    assert "V-2026-0042" in body and "Vertragsnummer" in body and "Contract number" in body
    assert body.index("Vertragsnummer") < body.index("Contract number")  # the form asked for German
    assert "Geschäftskritischer Telefonsupport" in body and "Welcome!" in body
    r = cli("inbox", "reply", bad, "--contract", "1", "--dry-run")
    assert r.exit_code == ExitCode.USAGE and "--reject" in r.stderr
    out_file = tmp_path / "reject.eml"
    r = cli("inbox", "reply", bad, "--reject", "--eml", str(out_file))
    assert r.exit_code == 0, r.stderr
    body = message_from_bytes(out_file.read_bytes()).get_payload(decode=True).decode()
    # Each language part names the field by its label in that language, never the internal name.
    assert "field Last name: contains U+0416" in body and "suggestion: Zhukova" in body
    assert "Feld Nachname:" in body and "last_name" not in body
    again = run(mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes), pkg, engine)
    # Done by its id; the shared Maildir's file now carries the replied flag (R) in cur/.
    assert {i.facts.id: i.status for i in again.items}[bad] == "done"
    assert [p.name for p in (tmp_path / "M" / "cur").iterdir() if ":2,R" in p.name] != []
    # A message file works as MESSAGE too (here: one without a form, rejected for the missing PDF).
    (tmp_path / "zip.eml").write_bytes(msgs["zip"])
    r = cli("inbox", "reply", str(tmp_path / "zip.eml"), "--reject", "--dry-run")
    assert r.exit_code == 0 and "zip archive" in r.stdout
    r = cli("inbox", "reply", "0123456789ab", "--reject", "--dry-run")
    assert r.exit_code == ExitCode.USAGE  # an unknown id: exit 2, as for `outbox show` (issue 16)


def _triaged_ids(tmp_path: Path, pkg: Any, engine: Any) -> dict[str, str]:
    keys = write_maildir(tmp_path / "M", corpus())
    result = run(mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes), pkg, engine)
    by_key = {i.facts.key: i.facts.id for i in result.items}
    return {name: by_key[k] for name, k in keys.items()}


def test_reply_without_smtp_is_a_config_error_and_marks_nothing(
    tmp_path: Path, pkg: Any, engine: Any, cli: Any
) -> None:
    from supportctl.mail import outbox

    crit = _triaged_ids(tmp_path, pkg, engine)["critical"]
    r = cli("inbox", "reply", crit, "--contract", "V-1", "--json")
    assert r.exit_code == ExitCode.CONFIG, r.stderr
    assert "no SMTP server configured" in r.stderr and r.json()["ok"] is False
    assert outbox.entries() == [] and inbox.load_done() == {}


def test_reply_queue_only_marks_done_and_refuses_a_second_reply(
    tmp_path: Path, pkg: Any, engine: Any, cli: Any
) -> None:
    from supportctl.mail import outbox

    crit = _triaged_ids(tmp_path, pkg, engine)["critical"]
    r = cli("inbox", "reply", crit, "--contract", "V-1", "--queue-only", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    (entry,) = outbox.entries()
    assert entry.state == "queued" and data["outbox"] == entry.id and data["sent"] is False
    assert entry.recipients == ("anna@example.org",) and entry.message_id == data["message_id"]
    assert "outbox flush" in r.stderr
    assert inbox.load_done()[crit]["outbox"] == entry.id
    # The same message again: refused (exit 2) and nothing queued, unless --again.
    r = cli("inbox", "reply", crit, "--contract", "V-2", "--queue-only")
    assert r.exit_code == ExitCode.USAGE and "answered already" in r.stderr and "--again" in r.stderr
    # Queued is not sent: the refusal says where the reply is (it said "contract V-1 was sent at …").
    assert "contract V-1 is in the outbox, not sent yet (queued), since " in r.stderr, r.stderr
    assert len(outbox.entries()) == 1
    r = cli("inbox", "reply", crit, "--contract", "V-1", "--queue-only", "--again")
    assert r.exit_code == 0, r.stderr
    assert len(outbox.entries()) == 2
    r = cli("inbox", "reply", crit, "--contract", "V-1", "--queue-only", "--eml", "x.eml")
    assert r.exit_code == ExitCode.USAGE


def test_reply_sent_at_once_deferred_is_exit_7_then_retry_delivers_once(
    tmp_path: Path, pkg: Any, engine: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from supportctl.mail import outbox
    from tests import smtpserver

    ids = _triaged_ids(tmp_path, pkg, engine)
    srv = smtpserver.start(tmp_path)
    try:
        for k, v in srv.env().items():
            monkeypatch.setenv(k, v)
        srv.mode = "rcpt451"
        r = cli("inbox", "reply", ids["critical"], "--contract", "V-7")
        assert r.exit_code == ExitCode.QUEUED, r.stderr
        assert "451" in r.stderr and "outbox flush" in r.stderr
        (entry,) = outbox.entries()
        assert entry.state == "deferred" and ids["critical"] in inbox.load_done()  # safely queued: done
        srv.mode = "ok"
        r = cli("outbox", "retry", entry.id)
        assert r.exit_code == 0, r.stderr
        assert srv.count() == 1 and srv.handler.messages[0]["to"] == ["anna@example.org"]
        # A run that queued the reply but stopped before marking the message done: the next run sends
        # that same entry, it does not queue a second reply.
        r = cli("inbox", "reply", ids["standard"], "--contract", "V-8", "--queue-only")
        assert r.exit_code == 0, r.stderr
        done = inbox.load_done()
        del done[ids["standard"]]
        (inbox.inbox_dir() / "done.json").write_text(json.dumps(done))
        # ... and before the replied flag reached the shared Maildir (the file back without R).
        (flagged,) = [p for p in (tmp_path / "M" / "cur").iterdir() if b"<standard@example.org>" in p.read_bytes()]
        flagged.rename(tmp_path / "M" / "new" / flagged.name.split(":2,")[0])
        r = cli("inbox", "reply", ids["standard"], "--contract", "V-8", "--json")
        assert r.exit_code == 0, r.stderr
        assert "queued before" in r.stderr and r.json()["data"]["sent"] is True
        assert len(outbox.entries()) == 2 and srv.count() == 2
        srv.mode = "rcpt550"
        r = cli("inbox", "reply", ids["invalid"], "--reject")
        assert r.exit_code == ExitCode.MAIL_REFUSED and "reply again with --again" in r.stderr
    finally:
        srv.stop()


def test_real_forms_are_validated_by_the_cli(tmp_path: Path, pkg: Any, cli: Any) -> None:
    """No cache, no stand-in: the CLI validates a real filled form, and a fake PDF is invalid, not a crash."""
    from supportctl.form import pdfform as form
    from tests.inbox_corpus import VALID, fake_pdf, message

    good = form.fill_pdf(pkg, VALID)
    msgs = {
        "good": message(pdf=good, msgid="<good@example.org>"),
        "fake": message(pdf=fake_pdf(), msgid="<fake@example.org>", sender="Eve <eve@example.org>"),
    }
    keys = write_maildir(tmp_path / "M", msgs)
    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json")
    assert r.exit_code == 0, r.stderr
    recs = {json.loads(x)["key"]: json.loads(x) for x in r.stdout.splitlines()}
    assert recs[keys["good"]]["status"] == "due-soon" and recs[keys["good"]]["class"] == "critical"
    assert recs[keys["good"]]["company"] == "Acme GmbH" and recs[keys["good"]]["findings"] == []
    assert recs[keys["fake"]]["status"] == "invalid" and recs[keys["fake"]]["findings"][0]["code"] == "unreadable"
    assert "2 message(s), 2 in the list: 1 due-soon, 1 invalid; 2 PDF(s) checked in this run" in r.stderr
    assert "cannot validate" not in r.stderr
    r = cli("inbox", str(tmp_path / "M"), "--now", NOW, "--json")
    assert "2 message(s), 2 in the list: 1 due-soon, 1 invalid; 0 PDF(s) checked in this run" in r.stderr


def test_package_reply_templates_are_optional_and_checked(tmp_path: Path) -> None:
    src = (package.bundled_root() / "package.toml").read_text()
    base = src.split("[process.reply]")[0]
    (tmp_path / "package.toml").write_text(base)
    assert package.load(tmp_path).process.reply == package.DEFAULT_REPLY
    (tmp_path / "package.toml").write_text(base + '[process.reply]\ncontract_subject = { en = "No {secret}" }\n')
    with pytest.raises(Exception, match=r"process.reply.contract_subject.en: unknown placeholder \{secret\}"):
        package.load(tmp_path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    raw = b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" + data
    env = mailsource.Envelope("k", len(raw), mailsource.split_head(raw), None, lambda: raw)
    facts, pdfs = inbox.examine(env, LIMITS)
    assert facts.kind in ("pdf", "no-pdf", "zip", "bad-attachment", "skipped")
    assert facts.sender_address == "a@b.c"
    # Every PDF comes with its own hash; a message with PDFs is a "pdf" one, named by its first.
    assert all(sha == hashlib.sha256(body).hexdigest() for sha, body in pdfs)
    assert bool(pdfs) == (facts.kind == "pdf")
    assert facts.sha256 == (pdfs[0][0] if pdfs else None)
    # Whatever is refused or skipped says why.
    assert facts.kind not in ("zip", "bad-attachment", "skipped") or facts.reason
    env = mailsource.Envelope("k", len(data), mailsource.split_head(data), None, lambda: data)
    facts, pdfs = inbox.examine(env, LIMITS)
    assert facts.kind in ("pdf", "no-pdf", "zip", "bad-attachment", "skipped")
    assert bool(pdfs) == (facts.kind == "pdf")
    assert not any(c in text for text in (facts.sender, facts.subject) for c in "\r\n\x1b\u202e")


def test_an_answered_registration_keeps_its_class(tmp_path: Path, pkg: Any, engine: Any, cli: Any) -> None:
    # A reply does not change which class a registration asked for: the list, `--json` and `inbox show` keep
    # saying it (as `inbox report` counts it), only the due time is gone.
    crit = _triaged_ids(tmp_path, pkg, engine)["critical"]
    r = cli("inbox", "reply", crit, "--contract", "V-1", "--eml", str(tmp_path / "reply.eml"))
    assert r.exit_code == 0, r.stderr
    again = run(mailsource.MaildirSource(tmp_path / "M", LIMITS.max_message_bytes), pkg, engine)
    item = {i.facts.id: i for i in again.items}[crit]
    assert (item.status, item.activation_class, item.due) == ("done", "critical", None)
    r = cli("inbox", "show", crit, "--json")
    assert r.exit_code == 0, r.stderr
    assert (r.json()["data"]["status"], r.json()["data"]["class"]) == ("done", "critical")
    r = cli("inbox", str(tmp_path / "M"), "--status", "all")
    (line,) = [x for x in r.stdout.splitlines() if x.startswith(crit)]
    assert line.split("\t")[1:4] == ["done", "", "critical"]


def test_a_reject_for_the_file_as_a_whole_names_no_field(tmp_path: Path, pkg: Any, cli: Any) -> None:
    """A finding about the whole file (data after its end) is its message alone in the reject mail, in each
    language: never "field None: …" (seen in a trial of the desk's replies)."""
    from supportctl.form import pdfform as form
    from tests.inbox_corpus import VALID, message

    pdf = form.fill_pdf(pkg, dict(VALID)) + b"\nappended junk\n"
    (tmp_path / "tail.eml").write_bytes(message(pdf=pdf, msgid="<tail@example.org>"))
    r = cli("inbox", "reply", str(tmp_path / "tail.eml"), "--reject", "--dry-run")
    assert r.exit_code == 0, r.stderr
    body = r.stdout.split("\n\n", 1)[1]
    assert "None" not in body
    assert "\n  - the file has 14 bytes of other data after the PDF ends\n" in body, body
    assert "\n  - die Datei enthält nach dem Ende des PDF 14 Bytes anderer Daten\n" in body, body
