"""IMAP triage fetches only the parts that can hold a form, and still gives the Maildir's answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supportctl.desk import imapparts
from tests import dovecotserver as ds
from tests import realmail as rm
from tests.test_inbox_realmail import NOW

pytestmark = pytest.mark.slow


def test_bodystructure_sections_follow_rfc3501() -> None:
    # The RFC's own example shape: a multipart with a nested message/rfc822 that is itself multipart.
    raw = (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "PDF" ("NAME" "a.pdf") NIL NIL "BASE64" 400 NIL ("ATTACHMENT" ("FILENAME" "a.pdf")) NIL NIL)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 ("date" "subj" NIL NIL NIL NIL NIL NIL NIL "<m@x>")'
        b' (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" ("NAME" {5}\r\nb.pdf) NIL NIL "BASE64" 300 NIL NIL NIL NIL) "MIXED")'
        b" 20 NIL NIL NIL NIL)"
        b' "MIXED" ("BOUNDARY" "zz") NIL NIL NIL)'
    )
    parts = imapparts.leaves(imapparts.parse_sexp(raw)[0])
    assert [(p.section, p.type) for p in parts] == [
        ("1", "text/plain"),
        ("2", "application/pdf"),
        ("3.1", "text/plain"),
        ("3.2", "application/octet-stream"),
    ]
    assert parts[1].disposition == "attachment" and dict(parts[3].params)["name"] == "b.pdf"
    assert [p.section for p in parts if imapparts.may_hold_form(p, uuencode=False)] == ["2", "3.2"]
    with pytest.raises(imapparts.Unparsable):
        imapparts.parse_sexp(b"(" * 100)


def _office_and_zip() -> list[bytes]:
    """A zip and a Word file to the desk: over IMAP only their first 2 KiB are fetched, and must say what they are."""
    import base64
    import os

    out = []
    for name, ctype in (("form.zip", "application/zip"), ("letter.docx", "application/octet-stream")):
        b = "b0und"
        data = b"PK\x03\x04" + os.urandom(40_000)
        head = rm._head("Anna <anna@example.org>", f"files {name}", f"<{name}@example.org>", "X-Mailer: t")
        body = f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nsee\r\n'
        body += f'--{b}\r\nContent-Type: {ctype}; name="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        out.append((head + body + base64.encodebytes(data).decode() + f"\r\n--{b}--\r\n").encode())
    # A small uuencoded file in a short text body: looked for in the fetched text, not by a server search.
    import binascii

    lines = [binascii.b2a_uu(b"notes for the desk %d\n" % i).decode().rstrip("\n") for i in range(3)]
    uu = "Hello,\r\nmy notes:\r\n\r\nbegin 644 notes.txt\r\n" + "\r\n".join(lines) + "\r\n`\r\nend\r\n"
    out.append(
        (
            rm._head("Old Client <old@example.org>", "notes", "<uu-small@example.org>", "X-Mailer: t") + "\r\n" + uu
        ).encode()
    )
    return out


def _disguised() -> list[bytes]:
    """A form sent as a zip (found by the 2 KiB probe, then fetched whole) and one whose file name is raw UTF-8
    (Dovecot sends such a name as a literal inside BODYSTRUCTURE)."""
    import base64

    out = []
    for name, ctype, extra in (
        ("form.zip", "application/zip", ""),
        ("Anmeldung Müller.pdf", "application/pdf", "8bit-name"),
    ):
        b = "d1sguise"
        head = rm._head("Anna <anna@example.org>", "Registrierung", f"<{ctype}-{extra}@example.org>", "X-Mailer: t")
        body = f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nform\r\n'
        body += f'--{b}\r\nContent-Type: {ctype}; name="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        out.append((head + body + base64.encodebytes(rm.form()).decode() + f"\r\n--{b}--\r\n").encode())
    return out


def test_imap_and_maildir_give_the_same_records_fetching_only_candidate_parts(
    dovecot: ds.Dovecot, cli: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    for n, data in enumerate([*rm.corpus().values(), *_office_and_zip(), *_disguised()]):
        dovecot.deliver(f"1764061200.M{n}P1.desk", data)
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", ds.PASSWORD)
    local = cli("inbox", str(dovecot.maildir), "--now", NOW, "--json")
    remote = cli("inbox", dovecot.url, "--ca-bundle", dovecot.ca, "--now", NOW, "--json")
    assert local.exit_code == remote.exit_code == 0, remote.stderr

    def essence(out: str) -> list[tuple[Any, ...]]:
        recs = [json.loads(x) for x in out.splitlines()]
        return sorted(
            (r["id"], r["status"], r["class"], r["attachment"], r["sha256"], tuple(r["reasons"])) for r in recs
        )

    assert essence(remote.stdout) == essence(local.stdout)
    notes = [
        [
            a["name"]
            for rec in map(json.loads, out.splitlines())
            if rec["subject"] == "notes"
            for a in rec["attachments"]
        ]
        for out in (local.stdout, remote.stdout)
    ]
    assert notes == [["notes.txt"], ["notes.txt"]]  # the uuencoded file in a short text body, found both ways
    found = {r["attachment"] for r in map(json.loads, remote.stdout.splitlines()) if r["sender"].startswith("Anna")}
    assert {"form.zip", "Anmeldung Müller.pdf"} <= found  # the zip's probe showed %PDF-; the literal name parsed
    # A rerun with nothing new answers the same from the store and writes nothing to it.
    from supportctl.desk import store

    before = store.path().read_bytes()
    again = cli("inbox", dovecot.url, "--ca-bundle", dovecot.ca, "--now", NOW, "--json")
    assert essence(again.stdout) == essence(remote.stdout)
    assert store.path().read_bytes() == before and not store.path().with_name("inbox.sqlite-wal").exists()


@pytest.mark.parametrize("condstore", [True, False], ids=["condstore", "no-condstore"])
def test_a_rerun_streams_the_stored_list_until_a_desk_flag_moves(condstore: bool, cli: Any, monkeypatch: Any) -> None:
    import imaplib
    import ssl

    from supportctl.desk import store

    try:
        srv = ds.start(condstore=condstore)
    except ds.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        for n, data in enumerate(rm.corpus().values()):
            srv.deliver(f"1764061200.M{n}P1.desk", data)
        monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", ds.PASSWORD)

        def look(now: str = NOW) -> dict[str, dict[str, Any]]:
            r = cli("inbox", srv.url, "--ca-bundle", srv.ca, "--now", now, "--json")
            assert r.exit_code == 0, r.stderr
            return {rec["id"]: rec for rec in map(json.loads, r.stdout.splitlines())}

        first = look()
        key = "imap:" + srv.url
        modseq = store.Store.open(key).meta().get("modseq")
        assert (modseq is not None) == condstore
        conn = imaplib.IMAP4_SSL("127.0.0.1", srv.port, ssl_context=ssl.create_default_context(cafile=srv.ca))
        conn.login(ds.USER, ds.PASSWORD)
        conn.select("INBOX")
        # Someone reads every message: \Seen is no desk flag, the list is the stored one.
        conn.uid("STORE", "1:*", "+FLAGS", "(\\Seen)")
        assert look() == first
        if condstore:  # the flags were asked for once, and no more until they move again
            assert store.Store.open(key).meta()["modseq"] > modseq
        # A later look: the same stored list, the time-dependent fields computed for the new time.
        later = look("2026-12-24T10:30+01:00")
        dated = [i for i, rec in first.items() if rec["due"]]
        assert dated and all(later[i]["status"] == "overdue" for i in dated)
        assert all(later[i]["seconds_until_due"] < first[i]["seconds_until_due"] for i in dated)
        # Another member claims a registration: the next look shows it (only the changed flags are asked for).
        uid = next(k for k, rec in first.items() if rec["due"])
        conn.uid("STORE", first[uid]["key"].split(":")[1], "+FLAGS", "($SupportctlClaim_ben)")
        conn.logout()
        now = look()
        assert now[uid]["claimed_by"] == ["ben"]
        assert {i: r for i, r in now.items() if i != uid} == {i: r for i, r in first.items() if i != uid}
    finally:
        srv.stop()


@pytest.mark.parametrize("reader", ["thread", "process"])
def test_examining_in_a_worker_process_gives_the_same_records(
    reader: str, dovecot: ds.Dovecot, monkeypatch: Any
) -> None:
    from datetime import datetime

    from supportctl.desk import sources, triage
    from supportctl.package import manifest
    from supportctl.schedule import eta

    mails = [*rm.corpus().values(), *_office_and_zip()]
    for n, data in enumerate(mails * 2):  # every form twice: the second copy's bytes stay in the worker
        dovecot.deliver(f"1764061200.M{n}P1.desk", data)
    pkg = manifest.load(manifest.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    now = datetime.fromisoformat(NOW)

    def records(workers: int) -> list[dict[str, Any]]:
        src = sources.ImapSource(sources.parse_imap_url(dovecot.url), ds.PASSWORD, 25 << 20, None, dovecot.ca)
        try:
            result = triage.triage(src, pkg, engine, now, persist=False, workers=workers)
            return [json.loads(r.line) for r in result.records(now)]
        finally:
            src.close()

    alone = records(workers=1)
    from supportctl.desk import workers

    monkeypatch.setattr(workers.Judge, "POOL_AFTER_MESSAGES", 3)
    monkeypatch.setattr(workers.Judge, "CHUNK", 2)
    monkeypatch.setattr(sources, "IMAP_BATCH", 5)  # several batches: read ahead, workers running
    # Ahead in a thread, or in a process (its own IMAP session; a copy's parts travel without their bytes).
    monkeypatch.setattr(sources, "READ_ELSEWHERE_AFTER", 10**9 if reader == "thread" else 2)
    ahead: list[int] = []
    name = "_ahead" if reader == "thread" else "_read_elsewhere"
    real_ahead = getattr(sources, name)
    monkeypatch.setattr(sources, name, lambda work, jobs: ahead.append(len(jobs)) or real_ahead(work, jobs))
    sent: list[int] = []
    real = workers.Judge._send_chunk

    def counted(self: Any) -> None:
        sent.append(len(self.chunk))
        real(self)

    monkeypatch.setattr(workers.Judge, "_send_chunk", counted)
    copies: list[Any] = []
    real_examine = workers.Judge.examine

    def examined(self: Any, env: Any, **kwargs: Any) -> Any:
        if getattr(env.files, "copy", False):
            copies.append(env.files)
        return real_examine(self, env, **kwargs)

    monkeypatch.setattr(workers.Judge, "examine", examined)
    assert records(workers=2) == alone
    assert 0 < sum(sent) < len(mails)  # scanned by the workers, each distinct set of parts once
    assert ahead == [-(-len(mails) * 2 // 5)]  # and read ahead (after the workers were started)
    if reader == "process":
        # A copy seen before by the same reading process (two take the batches in turn) came without bytes.
        assert copies and not any(data for d in copies for _p, data, _w in d.parts)
    else:
        assert copies == []
    assert len(alone) == len(mails) * 2 + 2  # both copies of the two-forms mail give two registrations


def test_read_ahead_keeps_order_raises_in_order_and_stops_with_its_caller() -> None:
    import threading

    from supportctl.desk.sources import _ahead

    done: list[int] = []

    def work(job: list[int]) -> Any:
        assert threading.current_thread() is not threading.main_thread()  # the server works while we examine
        if job == [3]:
            raise OSError("connection reset")
        done.append(job[0])
        return [job[0] * 10]

    got = []
    with pytest.raises(OSError, match="connection reset"):
        for r in _ahead(work, [[1], [2], [3], [4]]):
            got.append(r)
    assert got == [[10], [20]] and 4 not in done
    done.clear()
    gen = _ahead(work, [[5], [6], [7], [8], [9]])
    assert next(gen) == [50]
    gen.close()  # the caller stops: the thread ends after at most the job in hand and the one queued
    assert not any(t.name == "imap-read-ahead" for t in threading.enumerate()) and len(done) <= 3


def test_the_reading_process_raises_in_order_stops_with_its_caller_and_leaves_nothing(
    dovecot: ds.Dovecot, monkeypatch: Any
) -> None:
    import multiprocessing
    import os

    from supportctl.desk import sources
    from supportctl.errors import TransferError

    for n in range(30):
        dovecot.deliver(f"1764061200.M{n}P1.desk", rm.plain(f"q {n}", f"<q{n}@example.org>"))
    monkeypatch.setattr(sources, "IMAP_BATCH", 5)
    monkeypatch.setattr(sources, "READ_ELSEWHERE_AFTER", 2)
    real = sources.ImapSource._batch

    def source() -> sources.ImapSource:
        src = sources.ImapSource(sources.parse_imap_url(dovecot.url), ds.PASSWORD, 25 << 20, None, dovecot.ca)
        src.plan = lambda n: True  # workers running: a process may read
        return src

    def read(fail: str | None) -> tuple[list[str], BaseException | None]:
        def batch(self: Any, uids: list[int]) -> Any:
            if fail is not None and uids[0] > 10:
                if fail == "die":
                    os._exit(3)  # killed, out of memory: nothing said
                raise OSError("connection reset by peer")
            return real(self, uids)

        monkeypatch.setattr(sources.ImapSource, "_batch", batch)
        src, keys = source(), []
        try:
            for env in src.messages():
                keys.append(env.key)
        except TransferError as exc:
            return keys, exc
        finally:
            src.close()
        return keys, None

    keys, error = read(None)
    assert keys == [f"uid:{n}" for n in range(1, 31)] and error is None
    keys, error = read("reset")  # what was read before arrives in order, then the server's failure
    assert keys == [f"uid:{n}" for n in range(1, 11)]
    assert error is not None and "connection reset by peer" in error.message
    keys, error = read("die")
    assert keys == [f"uid:{n}" for n in range(1, 11)]
    assert error is not None and "stopped unexpectedly" in error.message
    # A caller that stops early stops the process; the main session still works afterwards (its own).
    monkeypatch.setattr(sources.ImapSource, "_batch", real)
    src = source()
    try:
        first = next(iter(src.messages()))
        assert first.key == "uid:1"
        assert src._conn.noop()[0] == "OK"
    finally:
        src.close()
    import gc

    gc.collect()  # the abandoned generator's finally runs
    assert [p for p in multiprocessing.active_children() if p.name == "imap-reader"] == []


def test_a_caller_stopped_by_ctrl_c_or_sigterm_stops_the_reading_processes_at_once(
    dovecot: ds.Dovecot, monkeypatch: Any
) -> None:
    # The CLI turns SIGTERM into an exception (so that every `finally` runs); a forked reader inherits that.
    # A reader blocked sending a batch (larger than a pipe holds) must die when stopped, not take the
    # exception, try to send it through the same full pipe and hold its caller until the kill after 5 s.
    import multiprocessing
    import signal
    import time

    from supportctl.cli._startup import _terminate_like_interrupt
    from supportctl.desk import sources

    padding = "X-Padding: " + "p" * 900 + "\r\n"
    for n in range(120):
        mail = rm.plain(f"q {n}", f"<q{n}@example.org>")
        dovecot.deliver(f"1764061200.M{n}P1.desk", padding.encode() * 20 + mail)
    monkeypatch.setattr(sources, "IMAP_BATCH", 20)  # 20 heads of 18 KB: more than a pipe holds
    monkeypatch.setattr(sources, "READ_ELSEWHERE_AFTER", 2)
    before = signal.getsignal(signal.SIGTERM)
    _terminate_like_interrupt()
    try:
        src = sources.ImapSource(sources.parse_imap_url(dovecot.url), ds.PASSWORD, 25 << 20, None, dovecot.ca)
        src.plan = lambda n: True  # workers running: a process may read
        try:
            reading = src.messages()
            assert next(reading).key == "uid:1"
            time.sleep(0.5)  # both readers have the next batches ready and wait for the pipe
            started = time.monotonic()
            reading.close()  # Ctrl-C in the caller: the readers are terminated
            took = time.monotonic() - started
        finally:
            src.close()
    finally:
        signal.signal(signal.SIGTERM, before)
    assert took < 2, f"stopping the readers took {took:.1f} s"
    assert [p for p in multiprocessing.active_children() if p.name == "imap-reader"] == []


def test_a_server_that_allows_one_session_is_read_by_the_main_session_alone(
    cli: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    from supportctl.desk import sources

    try:
        srv = ds.start(sessions=1)
    except ds.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        mails = [*rm.corpus().values(), *_office_and_zip()]
        for n, data in enumerate(mails):
            srv.deliver(f"1764061200.M{n}P1.desk", data)
        monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", ds.PASSWORD)
        monkeypatch.setattr(sources, "IMAP_BATCH", 3)
        monkeypatch.setattr(sources, "READ_ELSEWHERE_AFTER", 2)
        from supportctl.desk import workers

        monkeypatch.setattr(workers.Judge, "POOL_AFTER_MESSAGES", 3)  # workers running: processes would read
        tried: list[int] = []
        real = sources._read_elsewhere
        monkeypatch.setattr(sources, "_read_elsewhere", lambda s, b: tried.append(len(b)) or real(s, b))
        remote = cli("inbox", srv.url, "--ca-bundle", srv.ca, "--now", NOW, "--json")
        assert remote.exit_code == 0, remote.stderr
        local = cli("inbox", str(srv.maildir), "--now", NOW, "--json")
        key = lambda out: sorted((r["id"], r["status"], r["sha256"]) for r in map(json.loads, out.splitlines()))  # noqa: E731
        assert tried == [-(-len(mails) // 3)]  # reading processes were started, could not log in, and
        assert key(remote.stdout) == key(local.stdout)  # the main session read every batch itself
        assert "Maximum number of connections" in (srv.dir / "dovecot.log").read_text()
    finally:
        srv.stop()


def test_text_mail_is_read_with_its_headers_in_one_command(dovecot: ds.Dovecot, monkeypatch: Any) -> None:
    """A text body (section 1) comes with the headers: no second FETCH for plain mail, and a uuencoded file
    in it is still found. The server reads each message once, where a command for the texts read it again."""
    from supportctl.desk import sources, triage
    from supportctl.package import manifest as package
    from supportctl.schedule import eta
    from tests.inbox_corpus import StandInValidator

    mails = [rm.plain(f"question {i}", f"<q{i}@example.org>") for i in range(5)] + _office_and_zip()[2:]
    for n, data in enumerate(mails):
        dovecot.deliver(f"1764061200.M{n}P1.desk", data)
    dovecot.own()
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    src = sources.ImapSource(sources.parse_imap_url(dovecot.url), ds.PASSWORD, 200_000, None, dovecot.ca)
    sent: list[str] = []
    real = src._conn._command
    monkeypatch.setattr(src._conn, "_command", lambda *a: sent.append(" ".join(map(str, a))) or real(*a))
    try:
        result = triage.triage(
            src,
            pkg,
            engine,
            __import__("datetime").datetime.fromisoformat(NOW),
            limits=triage.Limits(max_message_bytes=200_000),
            validator=StandInValidator(),
        )
    finally:
        src.close()
    fetches = [c for c in sent if c.startswith("UID FETCH")]
    assert len(fetches) == 1 and "BODY.PEEK[1]<0.65536>" in fetches[0], sent
    notes = [i for i in result.items if i.facts.subject == "notes"]
    assert [a["name"] for a in notes[0].facts.attachments] == ["notes.txt"]
    assert len(result.items) == len(mails)


def _quoted_first(session: Any, seq: int, mail: Any, items: str) -> bytes:
    """Section 1 as a quoted string (legal for a body without CR and LF), sent before every other item."""
    import re

    from tests import hostileimap as hi

    raw = hi.honest_fetch(session, seq, mail, items)
    m = re.search(rb" BODY\[1\]<0> \{(\d+)\}\r\n", raw)
    if m is None:
        return raw
    data = raw[m.end() : m.end() + int(m.group(1))]
    if b"\r" in data or b"\n" in data:
        return raw
    quoted = b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    rest = raw[: m.start()] + raw[m.end() + len(data) :]
    return rest.replace(b"FETCH (", b"FETCH (BODY[1]<0> " + quoted + b" ", 1)


def _uid_last(session: Any, seq: int, mail: Any, items: str) -> bytes:
    """The header command's items in another order: the UID last, after the structure and its file names."""
    import re

    from tests import hostileimap as hi

    raw = hi.honest_fetch(session, seq, mail, items)
    uid = re.search(rb"UID \d+ ", raw)
    if "BODY.PEEK[HEADER]" not in items or uid is None or not raw.endswith(b")\r\n"):
        return raw
    return raw[: uid.start()] + raw[uid.end() : -3] + b" " + uid.group(0).strip() + b")\r\n"


@pytest.mark.parametrize("reply", [_quoted_first, _uid_last], ids=["section-1-quoted-first", "uid-last"])
def test_what_a_mail_says_never_passes_for_the_servers_items(reply: Any) -> None:
    """Items a server may send in any order, section 1 as a quoted string: the text a sender wrote (a body of one
    line, a file name) is never taken for the UID, the size or the structure. Such a mail took another's UID,
    and it (or the other) was never listed while the watermark moved past it."""
    from supportctl.desk import sources
    from tests import hostileimap as hi

    forged = 'UID 1 RFC822.SIZE 1 BODYSTRUCTURE ("APPLICATION" "PDF" NIL NIL NIL "BASE64" 10 NIL NIL NIL NIL) FLAGS'
    mails = [
        rm.plain("question", "<q@example.org>"),
        rm._head("Eve <eve@example.org>", "one line", "<eve@example.org>", "X-Mailer: t").encode()
        + b"Content-Type: text/plain\r\n\r\n"
        + forged.encode(),
        rm.thunderbird([("x UID 1 RFC822.SIZE 1.pdf", rm.form())], "<name@example.org>"),
        rm.uuencoded("form.pdf", rm.form(), "<uu@example.org>"),
    ]

    def read(srv: hi.HostileImap) -> list[tuple[Any, ...]]:
        src = sources.ImapSource(sources.parse_imap_url(srv.url), hi.PASSWORD, 25 << 20, None, srv.ca)
        try:
            return [
                (
                    e.key,
                    e.size,
                    e.head,
                    e.error,
                    [(p.section, p.type, d) for p, d, _w in e.files.parts] if e.files else e.read(),
                )
                for e in src.messages()
            ]
        finally:
            src.close()

    honest, hostile = hi.HostileImap(mails), hi.HostileImap(mails)
    hostile.fetch_reply = reply
    try:
        expected = read(honest)
        assert [k for k, *_rest in expected] == ["uid:1", "uid:2", "uid:3", "uid:4"]
        assert read(hostile) == expected
    finally:
        honest.stop()
        hostile.stop()


def _section_one_shapes() -> list[bytes]:
    """Mail whose section 1 is each thing it can be: a PDF (inline, first), the whole body of a single PDF, text
    with a uuencoded form just under, at and over 64 KiB (what comes with the headers), text sent as base64 or
    quoted-printable with uuencode in it, a multipart/alternative holding it, a forwarded message, nothing."""
    import base64
    import binascii

    form, small = rm.form(), b"notes for the desk\n" * 3

    def uu(name: str, data: bytes) -> str:
        lines = [binascii.b2a_uu(data[i : i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)]
        return f"begin 644 {name}\r\n" + "\r\n".join(lines) + "\r\n`\r\nend\r\n"

    def mail(subject: str, body: str | bytes, ctype: str = "text/plain", cte: str | None = None) -> bytes:
        head = rm._head("Old Client <old@example.org>", subject, f"<{subject}@example.org>", "X-Mailer: t")
        head += f"Content-Type: {ctype}\r\n" + (f"Content-Transfer-Encoding: {cte}\r\n" if cte else "") + "\r\n"
        return head.encode() + (body if isinstance(body, bytes) else body.encode())

    def mixed(subject: str, *parts: str) -> bytes:
        body = "".join(f"--mx\r\n{p}\r\n" for p in parts) + "--mx--\r\n"
        return mail(subject, body, 'multipart/mixed; boundary="mx"')

    out = []
    pdf = 'Content-Type: application/pdf; name="Reg.pdf"\r\nContent-Disposition: inline; filename="Reg.pdf"\r\n'
    out.append(
        mixed(
            "pdf-first",
            pdf + "Content-Transfer-Encoding: base64\r\n\r\n" + rm._b64(form),
            "Content-Type: text/plain\r\n\r\nHi",
        )
    )
    out.append(mail("single-pdf", rm._b64(form), 'application/pdf; name="f.pdf"', "base64"))
    notes = "Hello\r\n\r\n" + uu("notes.txt", small)
    for size in (65535, 65536, 65537):  # the uuencoded file at the end, behind what a partial fetch would see
        out.append(mail(f"text-{size}", "x" * (size - len(notes) - 2) + "\r\n" + notes))
    for cte, text in (
        ("base64", rm._b64(notes.encode())),
        ("quoted-printable", binascii.b2a_qp(notes.encode()).decode()),
    ):
        out.append(mail(f"text-{cte}", text, "text/plain; charset=utf-8", cte))
    out.append(
        mail("form-in-base64-text", base64.encodebytes(("Hi\r\n" + uu("form.pdf", form)).encode()), cte="base64")
    )
    alternative = f"--alt\r\nContent-Type: text/plain\r\n\r\n{notes}\r\n"
    alternative += "--alt\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>\r\n--alt--"
    out.append(
        mixed(
            "alternative-first",
            'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n' + alternative,
            "Content-Type: text/plain\r\n\r\nPS",
        )
    )
    inner = mail("inner", notes).decode()
    out.append(
        mixed(
            "forwarded-first",
            "Content-Type: message/rfc822\r\n\r\n" + inner,
            "Content-Type: text/plain\r\n\r\nsee above",
        )
    )
    out.append(mail("forwarded-only", inner, "message/rfc822"))
    out.append(mail("empty", ""))
    return out


def _records_both_ways(dovecot: ds.Dovecot, cli: Any, monkeypatch: Any, mails: list[bytes]) -> dict[str, Any]:
    """The records of `mails` read from the Maildir, by subject, after checking IMAP gives the same."""
    for n, data in enumerate(mails):
        dovecot.deliver(f"1764061200.M{n}P1.desk", data)
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", ds.PASSWORD)
    local = cli("inbox", str(dovecot.maildir), "--now", NOW, "--json")
    remote = cli("inbox", dovecot.url, "--ca-bundle", dovecot.ca, "--now", NOW, "--json")
    assert local.exit_code == remote.exit_code == 0, remote.stderr

    def essence(out: str) -> dict[str, tuple[Any, ...]]:
        return {
            r["subject"]: (
                r["id"],
                r["status"],
                r["class"],
                r["attachment"],
                r["sha256"],
                tuple(r["reasons"]),
                tuple((a["name"], a["type"]) for a in r["attachments"]),
            )
            for r in map(json.loads, out.splitlines())
        }

    mine = essence(local.stdout)
    assert len(mine) == len(mails) and essence(remote.stdout) == mine
    return mine


def test_every_shape_of_section_one_gives_the_maildirs_records(dovecot: ds.Dovecot, cli: Any, monkeypatch: Any) -> None:
    """Section 1 comes with the headers (whole only when shorter than 64 KiB): whatever it is, the records are the
    Maildir's, uuencoded files found in the same texts (a text sent as base64 too: it was missed in a Maildir)."""
    mine = _records_both_ways(dovecot, cli, monkeypatch, _section_one_shapes())
    found = {s: tuple(n for n, _t in files) for s, (*_r, files) in mine.items()}
    assert found["text-65537"] == found["text-base64"] == found["alternative-first"] == ("notes.txt",)
    assert mine["form-in-base64-text"][3] == "form.pdf" and mine["pdf-first"][3] == "Reg.pdf"


def test_a_file_sent_as_named_text_is_seen_over_imap_as_in_a_maildir(
    dovecot: ds.Dovecot, cli: Any, monkeypatch: Any
) -> None:
    """A part typed text/* with a file name is a file: the form a mail program sent as `text/plain; name=form.pdf`
    (found in a Maildir, missed over IMAP, which fetched text only to look for uuencode), and a notes.txt or
    a.csv listed among the attachments, in a short message or in one whose long text the server searches."""
    form, long_text = rm.form(), "Hello,\r\n" + "words " * 12_000 + "\r\n"

    def mail(subject: str, *parts: str, ctype: str = "multipart/mixed") -> bytes:
        head = rm._head("Anna <anna@example.org>", subject, f"<{subject}@example.org>", "X-Mailer: t")
        if not ctype.startswith("multipart/"):
            return (head + f"Content-Type: {ctype}\r\n{parts[0]}").encode()
        body = "".join(f"--nt\r\n{p}\r\n" for p in parts) + "--nt--\r\n"
        return (head + f'Content-Type: {ctype}; boundary="nt"\r\n\r\n' + body).encode()

    def named(ctype: str, name: str, body: str, cte: str = "7bit") -> str:
        return (
            f'Content-Type: {ctype}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n\r\n{body}"
        )

    pdf_as_text = named("text/plain", "form.pdf", rm._b64(form), "base64")
    mails = [
        mail("pdf-as-text", "Content-Type: text/plain\r\n\r\nHi", pdf_as_text),
        mail("pdf-as-text-first", pdf_as_text, "Content-Type: text/plain\r\n\r\nHi"),
        mail("pdf-as-text-long", "Content-Type: text/plain\r\n\r\n" + long_text, pdf_as_text),
        mail("notes", "Content-Type: text/plain\r\n\r\nHi", named("text/plain", "notes.txt", "some notes\r\n")),
        mail("csv-long", "Content-Type: text/plain\r\n\r\n" + long_text, named("text/csv", "a.csv", "a,b\r\n")),
        mail("named-alone", "\r\nnotes\r\n", ctype='text/plain; name="n.txt"'),
    ]
    mine = _records_both_ways(dovecot, cli, monkeypatch, mails)
    assert {s: r[3] for s, r in mine.items() if s.startswith("pdf-as-text")} == {
        "pdf-as-text": "form.pdf",
        "pdf-as-text-first": "form.pdf",
        "pdf-as-text-long": "form.pdf",
    }
    assert mine["notes"][-1] == (("notes.txt", "text/plain"),) and mine["csv-long"][-1] == (("a.csv", "text/csv"),)
