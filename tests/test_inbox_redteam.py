"""Red team: `inbox imaps://…` against a server that lies (tests/hostileimap.py) and hostile mail in a real Dovecot.

Every case runs the real `supportctl inbox` as a process and holds it to the README's promises: a documented
exit code, at most one stderr line per problem and never a traceback, bounded time and memory, no raw control
or bidi characters on the terminal, and a later run against an honest server not poisoned by what is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supportctl.errors import ExitCode
from tests import hostileimap as hi
from tests import realmail as rm
from tests.measured import Run, supportctl

pytestmark = pytest.mark.slow  # every test runs the CLI as a process against a server (a second or more)
NOW = "2026-11-25T10:30:00+01:00"
RSS_LIMIT_KB = 250_000  # a run over this mailbox takes ~60 MB; a client that believes the server takes GBs


def run(url: str, *args: str, ca: str, timeout: float = 60, env: dict[str, str] | None = None) -> Run:
    """`supportctl inbox URL --now NOW ARGS…` as a process."""
    return imap_supportctl("inbox", url, "--now", NOW, *args, ca=ca, timeout=timeout, env=env)


def imap_supportctl(*args: str, ca: str, timeout: float = 60, env: dict[str, str] | None = None) -> Run:
    """`supportctl ARGS…` as a process, with the hostile server's password and CA; its peak RSS from wait4 (its
    reader processes' too)."""
    creds = {"SUPPORTCTL_IMAP_PASSWORD": hi.PASSWORD, "SUPPORTCTL_IMAP_CA_BUNDLE": ca}
    return supportctl(*args, timeout=timeout, env={**creds, **(env or {})})


def clean_text(text: str) -> None:
    """No raw control character (but newline and tab) nor bidi override reaches the terminal."""
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127 or 0x202A <= ord(c) <= 0x202E]
    bad += [c for c in text if 0x2066 <= ord(c) <= 0x2069 or 0x80 <= ord(c) < 0xA0]
    assert not bad, f"raw control characters on the terminal: {bad!r} in {text!r}"


def talk(r: Run) -> list[str]:
    """stderr without the package note every run starts with."""
    return [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("Using the bundled package")]


def one_error(r: Run, code: ExitCode, *words: str) -> None:
    assert r.code == code, (r.code, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = talk(r)
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    clean_text(r.stderr)


def corpus() -> list[bytes]:
    """Three mails: a plain note, a Thunderbird registration with a real filled form, an Outlook one."""
    note = rm._head("Anna <anna@example.org>", "Lunch?", "<note@example.org>", "X-Mailer: t", to="anna@example.org")
    note += "Content-Type: text/plain; charset=utf-8\r\n\r\nSee you at noon.\r\n"
    return [
        note.encode(),
        rm.thunderbird([("registration.pdf", rm.form())], msgid="<tb@example.org>"),
        rm.thunderbird([("anmeldung.pdf", rm.form(last_name="Other"))], msgid="<tb2@example.org>"),
    ]


HONEST = [("Registrierung", "due-soon"), ("Registrierung", "due-soon"), ("Lunch?", "not-a-registration")]


@pytest.fixture
def server() -> Iterator[hi.HostileImap]:
    srv = hi.HostileImap(corpus())
    yield srv
    srv.stop()


def honest_records(srv: hi.HostileImap) -> list[dict[str, Any]]:
    r = run(srv.url, "--json", ca=srv.ca)
    assert r.code == ExitCode.OK, r.stderr
    return r.records()


def test_the_honest_server_gives_the_expected_records(server: hi.HostileImap) -> None:
    recs = honest_records(server)
    assert [(x["subject"], x["status"]) for x in recs] == HONEST


def bounded(r: Run) -> None:
    assert "Traceback" not in r.stderr, r.stderr
    assert r.rss_kb < RSS_LIMIT_KB, f"peak RSS {r.rss_kb} kB"
    clean_text(r.stdout + r.stderr)


def not_poisoned(srv: hi.HostileImap) -> None:
    """The server behaves again: the next run lists every message as an honest server's first run does."""
    srv.fetch_reply, srv.structure = hi.honest_fetch, lambda mail: mail.bodystructure
    srv.size_of, srv.on_command = lambda mail: len(mail.raw), None
    srv.fetch_done = lambda s, tag: tag + b" OK FETCH done\r\n"
    r = run(srv.url, "--json", ca=srv.ca)
    assert r.code == ExitCode.OK, r.stderr
    assert [(x["subject"], x["status"]) for x in r.records()] == HONEST


# ---------------------------------------------------------------- BODYSTRUCTURE


@pytest.mark.parametrize(
    "structure",
    [
        pytest.param(b'("APPLICATION" "PDF" ((( NIL "BASE64"', id="malformed"),
        pytest.param(b"(" * 1000 + b'"TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1' + b")" * 1000, id="1000-levels"),
        pytest.param(b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" 1 1 NIL NIL NIL NIL)' * 60_000 + b' "MIXED"', id="4MB-line"),
        pytest.param(
            b'("APPLICATION" "PDF" ("NAME" {3000000}\r\n'
            + b"x" * 3_000_000
            + b') NIL NIL "BASE64" 10 NIL NIL NIL NIL)',
            id="3MB-literal",
        ),
        pytest.param(b'("TEXT" "PLAIN" NIL NIL NIL "7BIT" "\x1b[2J\xff" 1 NIL NIL NIL NIL)', id="garbage-size"),
    ],
)
def test_a_bodystructure_that_cannot_be_used_costs_a_whole_fetch_not_the_run(
    server: hi.HostileImap, structure: bytes
) -> None:
    server.structure = lambda mail: structure if mail.uid == 2 else mail.bodystructure
    r = run(server.url, "--json", ca=server.ca)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    got = [(x["subject"], x["status"]) for x in r.records()]
    # A structure the client cannot use costs a whole fetch (the right answer); one it can parse but that lies
    # (a single PDF part where the message is multipart) may make that message invalid, never valid by mistake.
    assert got[0] == HONEST[0] and got[2] == HONEST[2] and got[1][1] in ("due-soon", "invalid"), got
    names = [a["name"] or "" for x in r.records() for a in x["attachments"]]
    assert all(len(n) <= 255 for n in names), [len(n) for n in names]
    if got[1][1] == "invalid":
        # A UID's message never changes (RFC 3501 2.3.1.1): its verdict is kept until the server says the
        # folder is new (UIDVALIDITY), as a server that repaired its index does.
        server.uidvalidity = lambda session: 8
    not_poisoned(server)


# ---------------------------------------------------------------- literals and sizes


def _huge_literal(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
    """Announces 100 GB for the header and sends 1 MB of it, then closes."""
    if "HEADER" not in items or mail.uid != 2:
        return hi.honest_fetch(session, seq, mail, items)
    session.send(b"* %d FETCH (UID %d BODY[HEADER] {100000000000}\r\n" % (seq, mail.uid) + b"x" * (1 << 20))
    raise OSError("hang up")


def _big_literal(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
    """Sends 40 MB of a header the client asked for: more than any limit of the client's."""
    if "HEADER" not in items or mail.uid != 2:
        return hi.honest_fetch(session, seq, mail, items)
    blob = b"X-Junk: " + b"y" * (40 << 20) + b"\r\n\r\n"
    return b"* %d FETCH (UID %d RFC822.SIZE 100 BODY[HEADER] {%d}\r\n" % (seq, mail.uid, len(blob)) + blob + b")\r\n"


def _absurd_literal(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
    """A literal size of 5000 digits: Python 3.11 refuses to int() it (imaplib did not ask)."""
    if "HEADER" not in items or mail.uid != 2:
        return hi.honest_fetch(session, seq, mail, items)
    return b"* %d FETCH (UID %d BODY[HEADER] {%s}\r\n" % (seq, mail.uid, b"9" * 5000)


@pytest.mark.parametrize(
    "reply", [_huge_literal, _big_literal, _absurd_literal], ids=["100GB-announced", "40MB-sent", "5000-digits"]
)
def test_a_literal_beyond_every_limit_is_refused_in_one_line(server: hi.HostileImap, reply: Any) -> None:
    server.fetch_reply = reply
    r = run(server.url, ca=server.ca, env={"SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES": "1000000"})
    bounded(r)
    one_error(r, ExitCode.TRANSFER, "127.0.0.1")
    not_poisoned(server)


def test_a_size_that_lies_small_does_not_let_a_large_part_in(server: hi.HostileImap) -> None:
    """RFC822.SIZE says 100 bytes; the PDF part the client then asks for is 3 MB, over the 1 MB limit."""
    server.mails[1] = hi.Mail(2, rm.thunderbird([("registration.pdf", rm.form() + b"%" * (3 << 20))]))
    server.size_of = lambda mail: 100
    r = run(server.url, ca=server.ca, env={"SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES": "1000000"})
    bounded(r)
    one_error(r, ExitCode.TRANSFER, "127.0.0.1")
    server.mails[1] = hi.Mail(2, corpus()[1])
    not_poisoned(server)


def test_a_server_that_stalls_mid_literal_is_given_up_on_in_time(server: hi.HostileImap) -> None:
    def stall(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
        if "HEADER" not in items:
            return hi.honest_fetch(session, seq, mail, items)
        session.send(b"* 1 FETCH (UID 1 BODY[HEADER] {5000}\r\nFrom: a")
        session.server.stopping.wait(120)
        raise OSError("stopped")

    server.fetch_reply = stall
    r = run(server.url, ca=server.ca, env={"SUPPORTCTL_IMAP_TIMEOUT": "3"}, timeout=40)
    bounded(r)
    one_error(r, ExitCode.TRANSFER, "127.0.0.1", "did not answer")
    assert r.seconds < 20
    not_poisoned(server)


@pytest.mark.parametrize("how", ["close", "stall"])
def test_a_large_part_cut_off_midway_is_one_line(server: hi.HostileImap, how: str) -> None:
    """A PDF part (large: read from TLS into one buffer) that stops halfway: the server hangs up, or falls silent."""

    def cut(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
        if "HEADER" in items or mail.uid != 2 or "BODY.PEEK[2]" not in items:
            return hi.honest_fetch(session, seq, mail, items)
        data = mail.sections["2"]
        assert len(data) > 100_000  # past the size read in one buffer
        session.send(b"* %d FETCH (UID 2 BODY[2] {%d}\r\n" % (seq, len(data)) + data[: len(data) // 2])
        if how == "stall":
            session.server.stopping.wait(120)
        raise OSError("hang up")

    server.fetch_reply = cut
    r = run(server.url, "--json", ca=server.ca, env={"SUPPORTCTL_IMAP_TIMEOUT": "3"}, timeout=40)
    bounded(r)
    if how == "close":
        one_error(r, ExitCode.TRANSFER, "127.0.0.1", "closed in the middle of a message")
    else:
        one_error(r, ExitCode.TRANSFER, "127.0.0.1", "did not answer")
        assert r.seconds < 20
    not_poisoned(server)


# ---------------------------------------------------------------- UIDs, sessions, hang-ups


def test_uids_not_asked_for_or_sent_twice_are_not_believed(server: hi.HostileImap) -> None:
    def extra(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
        honest = hi.honest_fetch(session, seq, mail, items)
        if mail.uid != 1 or "HEADER" not in items:
            return honest
        ghost = hi.Mail(9999, corpus()[2])
        return honest + honest + hi.honest_fetch(session, 3, ghost, items)

    server.fetch_reply = extra
    r = run(server.url, "--json", ca=server.ca)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    assert [(x["subject"], x["status"]) for x in r.records()] == HONEST
    # UID 9999 was never in the folder: had it been believed, the watermark would skip every UID below it.
    server.mails.append(hi.Mail(4, corpus()[0].replace(b"Lunch?", b"Dinner?").replace(b"<note@", b"<note4@")))
    r = run(server.url, "--json", ca=server.ca)
    assert r.code == ExitCode.OK, r.stderr
    assert "Dinner?" in [x["subject"] for x in r.records()]


@pytest.mark.parametrize(
    "how",
    ["close", "bye", "no", "bad", "no-part"],
)
def test_a_server_failing_mid_batch_is_one_line_and_leaves_nothing_behind(server: hi.HostileImap, how: str) -> None:
    def fail(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
        if "HEADER" in items or mail.uid != 2 or (how == "no-part" and "BODY.PEEK[]" in items):
            return hi.honest_fetch(session, seq, mail, items)
        if how == "close":
            raise OSError("hang up")
        if how == "bye":
            return b"* BYE shutting down\r\n"
        return b""

    def done(session: hi.Session, tag: bytes) -> bytes:
        command = session.server.log[-1][1]
        if how in ("no", "bad", "no-part") and b"BODY.PEEK[" in command and b"HEADER" not in command:
            if how != "no-part" or b"BODY.PEEK[]" not in command:
                return tag + (b" BAD what\r\n" if how == "bad" else b" NO [UNAVAILABLE] try later\r\n")
        return tag + b" OK FETCH done\r\n"

    server.fetch_reply, server.fetch_done = fail, done
    r = run(server.url, "--json", ca=server.ca, timeout=60)
    bounded(r)
    if how == "no-part":  # the parts refused, the whole message sent: judged on what it holds, not as empty
        assert r.code == ExitCode.OK, r.stderr
        assert [(x["subject"], x["status"]) for x in r.records()] == HONEST
        return
    # A part refused (NO) is not judged as empty: the message is asked for whole, and that refused too fails.
    one_error(r, ExitCode.TRANSFER, *(["refused to send message 2"] if how == "no" else ["127.0.0.1"]))
    not_poisoned(server)


def test_a_folder_whose_uidvalidity_changes_for_a_reader_session_is_read_again(server: hi.HostileImap) -> None:
    note = corpus()[0]
    server.mails = [hi.Mail(n, note.replace(b"<note@", b"<note%d@" % n)) for n in range(1, 1101)]
    server.uidvalidity = lambda session: 7 if session.number == 1 else 8
    r = run(server.url, "--json", ca=server.ca, timeout=120)
    bounded(r)
    one_error(r, ExitCode.TRANSFER, "changed while it was read")
    server.uidvalidity = lambda session: 8
    r = run(server.url, "--json", ca=server.ca, timeout=120)
    assert r.code == ExitCode.OK, r.stderr
    assert len(r.records()) == 1100


# ---------------------------------------------------------------- what the server says, on the terminal

EVIL = "\x1b[2J\x1b]0;pwned\x07\u202e\u2066gpj.exe\x9b31m"


def test_control_characters_from_the_server_never_reach_the_terminal(server: hi.HostileImap) -> None:
    evil = EVIL.encode("utf-8")
    server.mails[0].flags = [b"$SupportctlClaim_" + evil.replace(b" ", b""), b"\xff\xfe\x1b", b"\\Seen"]
    server.mails[1].flags = [b"$SupportctlClaim_x%d" % n for n in range(5000)]
    raw = corpus()[0].replace(b"Subject: Lunch?", b"Subject: \x1b[31mLunch\xff\xe2\x80\xae?")
    server.mails[0] = hi.Mail(1, raw, server.mails[0].flags)
    server.folder = EVIL
    for args in ((), ("--json",), ("--status", "all")):
        r = run(server.url, *args, ca=server.ca)
        bounded(r)
        assert r.code == ExitCode.OK, r.stderr
        assert len(r.stdout.splitlines()) == 3
    # A folder name that is not ASCII goes out in modified UTF-7 (imaplib took it for a traceback before).
    r = run(server.url.replace("INBOX", "Anmeldungen/Pr%C3%BCfung%1B%5B2J%E2%80%AE"), ca=server.ca)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    assert b'EXAMINE "Anmeldungen/Pr&APw-fung&ABs-[2J&IC4-"' in b"".join(line for _n, line in server.log)

    def no_such_folder(session: hi.Session, tag: bytes, word: bytes, args: bytes) -> bool:
        if word == b"EXAMINE":
            session.send(tag + b" NO [NONEXISTENT] \x1b[2J no\r\n")
            return True
        return False

    server.on_command = no_such_folder
    r = run(server.url.replace("INBOX", "Pr%C3%BCfung%1B%5B2J%E2%80%AE"), ca=server.ca)
    bounded(r)
    one_error(r, ExitCode.INVALID_INPUT, "does not exist", "Prüfung")


# ---------------------------------------------------------------- hostile mail in a real Dovecot


def _mixed(subject: str, msgid: str, parts: list[str], sender: str = "Eve <eve@example.org>") -> bytes:
    b = "rt-boundary"
    body = rm._head(sender, subject, msgid, "X-Mailer: redteam")
    body += f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'
    body += "".join(f"--{b}\r\n{p}\r\n" for p in parts) + f"--{b}--\r\n"
    return body.encode("utf-8")


def _pdf_part(name: str, data: bytes, ctype: str = "application/pdf", extra: str = "") -> str:
    return (
        f'Content-Type: {ctype}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"{extra}\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{rm._b64(data)}"
    )


def _zip_bomb() -> bytes:
    """200 MB of zeros in a zip of ~200 KB."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("registration.pdf", "w") as f:
            chunk = b"\0" * (1 << 20)
            for _n in range(200):
                f.write(chunk)
    return buf.getvalue()


def _nesting_bomb(levels: int) -> bytes:
    """A form inside `levels` messages each forwarding the one before as its whole body (message/rfc822)."""
    inner = rm.thunderbird([("registration.pdf", rm.form())], msgid="<nest-0@example.org>")
    for n in range(1, levels + 1):
        head = rm._head("Fwd <fwd@example.org>", "Fwd: Registrierung", f"<nest-{n}@example.org>", "X-Mailer: t")
        inner = (head + "Content-Type: message/rfc822\r\n\r\n").encode() + inner
    return inner


ESC_SUBJECT = (
    "=?UTF-8?B?"
    + __import__("base64").b64encode("\x1b]0;pwned\x07\x1b[2J\u202eRegistrierung\u202c \x9b31m".encode()).decode()
    + "?="
)


def hostile_mail() -> dict[str, bytes]:
    big = rm.form() + b"%" * (1200 << 10)  # a form over the 1 MB limit of these tests
    return {
        "forged-size": rm.outlook("registration.pdf", rm.form(), msgid="<forged@example.org>").replace(
            b"; size=", b"; size=1; x-size="
        ),
        "nesting-bomb": _nesting_bomb(40),
        "many-parts": _mixed(
            "Registrierung",
            "<parts@example.org>",
            ["Content-Type: text/plain\r\n\r\nx"] * 10_000 + [_pdf_part("registration.pdf", rm.form())],
        ),
        "zip-bomb": _mixed("Registrierung", "<zip@example.org>", [_pdf_part("registration.pdf", _zip_bomb())]),
        "over-limit": _mixed("Registrierung", "<big@example.org>", [_pdf_part("registration.pdf", big)]),
        "esc-subject": _mixed(
            ESC_SUBJECT,
            "<esc@example.org>",
            ["Content-Type: text/plain\r\n\r\nhi", _pdf_part("registration.pdf", rm.form(last_name="Esc"))],
            sender="=?UTF-8?Q?=1B[31mMallory=E2=80=AE?= <mallory@example.org>",
        ),
        "traversal": _mixed(
            "Registrierung",
            "<dots@example.org>",
            [_pdf_part("../../etc/passwd.pdf", rm.form(last_name="Dots"))],
        ),
        # A header block of 2 MB (no mail server passes one; IMAP APPEND does): read as far as a file's head is
        # read, over IMAP too, where it used to be a literal over the limit that ended the whole run.
        "huge-header": _mixed(
            "Registrierung",
            "<head@example.org>",
            [_pdf_part("registration.pdf", rm.form(last_name="Head"))],
        ).replace(
            b"X-Mailer: redteam\r\n",
            b"X-Mailer: redteam\r\nX-Junk: " + b"j" * 70 + (b"\r\n\t" + b"j" * 70) * 28_000 + b"\r\n",
        ),
    }


LIMIT_1MB = {"SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES": str(1 << 20)}


def _comparable(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What IMAP and a Maildir must agree on (not where the message is: `key`, nor the file's arrival time)."""
    skip = {"key", "received", "received_from", "clock_starts", "due", "seconds_until_due"}
    return {x["id"]: {k: v for k, v in x.items() if k not in skip} for x in records}


def test_hostile_mail_is_listed_the_same_over_imap_and_from_a_maildir(dovecot: Any, tmp_path: Path) -> None:
    mails = hostile_mail()
    local = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (local / sub).mkdir(parents=True)
    for n, (name, raw) in enumerate(mails.items()):
        dovecot.deliver(f"17640000{n:02d}.M{n}P1.{name}", raw)
        (local / "new" / f"17640000{n:02d}.M{n}P1.{name}").write_bytes(raw)
    pw = {"SUPPORTCTL_IMAP_PASSWORD": "s3cret-pw", **LIMIT_1MB}
    imap = run(dovecot.url, "--json", ca=dovecot.ca, env=pw, timeout=120)
    bounded(imap)
    assert imap.code == ExitCode.PARTIAL, imap.stderr
    maildir = run(str(local), "--json", ca=dovecot.ca, env=LIMIT_1MB, timeout=120)
    bounded(maildir)
    assert maildir.code == ExitCode.PARTIAL, maildir.stderr
    assert _comparable(imap.records()) == _comparable(maildir.records())
    got = sorted(
        (x["subject"], x["sender"], x["status"], x["reasons"][:1], [a["name"] for a in x["attachments"]])
        for x in imap.records()
    )
    esc, esc_from = "?]0;pwned??[2J?Registrierung? ?31m", "?[31mMallory? <mallory@example.org>"
    eve = "Eve <eve@example.org>"
    assert got == [
        (esc, esc_from, "due-soon", [], ["registration.pdf"]),
        (
            "Fwd: Registrierung",
            "Fwd <fwd@example.org>",
            "skipped",
            ["MIME parts nested deeper than inbox.max_depth (10)"],
            [],
        ),
        ("Registrierung", eve, "due-soon", [], ["../../etc/passwd.pdf"]),
        (
            "Registrierung",
            eve,
            "invalid",
            ["attachment registration.pdf claims to be a PDF but is not one"],
            ["registration.pdf"],
        ),
        (
            "Registrierung",
            eve,
            "skipped",
            ["message is 1860166 bytes, more than inbox.max_message_bytes (1048576)"],
            [],
        ),
        (
            "Registrierung",
            eve,
            "skipped",
            ["message is 2222525 bytes, more than inbox.max_message_bytes (1048576)"],
            [],
        ),
        ("Registrierung", eve, "skipped", ["more than inbox.max_parts (100) MIME parts"], []),
        ("WG: Registrierung", "Dvořák, Antonín <antonin@example.com>", "due-soon", [], ["registration.pdf"]),
    ]
    # The table in a pipe and `inbox show` say the same, nothing raw; the odd name is a name, never a path.
    table = run(dovecot.url, ca=dovecot.ca, env=pw, timeout=120)
    bounded(table)
    assert table.code == ExitCode.PARTIAL and len(table.stdout.splitlines()) == 8, table.stdout
    dots = next(x["id"] for x in imap.records() if x["attachments"] and x["attachments"][0]["name"].startswith(".."))
    escid = next(x["id"] for x in imap.records() if x["subject"] == esc)
    for rid in (dots, escid):
        for extra in ((), ("--json",)):
            shown = imap_supportctl("inbox", "show", rid, *extra, ca=dovecot.ca, env=pw)
            bounded(shown)
            assert shown.code == ExitCode.OK, shown.stderr
    shown = imap_supportctl("inbox", "show", dots, "--json", ca=dovecot.ca, env=pw)
    assert "../../etc/passwd.pdf" in shown.stdout
    before = sorted(p.name for p in tmp_path.iterdir())
    out = imap_supportctl("inbox", "show", dots, "--pdf", "copy.pdf", ca=dovecot.ca, env=pw)
    assert out.code == ExitCode.OK, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "copy.pdf"])
    assert (tmp_path / "copy.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("answer", [b"* SEARCH 1 2 x3 \xff", b"* SEARCH 1 2 -3", b"* SEARCH " + b"9" * 5000])
def test_a_search_answer_that_is_not_uids_is_one_line(server: hi.HostileImap, answer: bytes) -> None:
    def search(session: hi.Session, tag: bytes, word: bytes, args: bytes) -> bool:
        if word == b"UID SEARCH":
            session.send(answer + b"\r\n" + tag + b" OK done\r\n")
            return True
        return False

    server.on_command = search
    r = run(server.url, ca=server.ca)
    bounded(r)
    one_error(r, ExitCode.TRANSFER, "127.0.0.1")
    not_poisoned(server)


def test_watch_gives_up_on_a_server_that_never_starts_idling(server: hi.HostileImap) -> None:
    def idle(session: hi.Session, tag: bytes, word: bytes, args: bytes) -> bool:
        return word == b"IDLE"  # no continuation, no answer: the client waits for `+` forever

    server.on_command = idle
    r = run(server.url, "--watch", ca=server.ca, env={"SUPPORTCTL_IMAP_TIMEOUT": "2"}, timeout=40)
    bounded(r)
    assert r.code == ExitCode.TRANSFER, r.stderr
    assert "Traceback" not in r.stderr and "did not answer" in talk(r)[-1], r.stderr


def test_a_message_id_that_is_not_ascii_can_be_claimed_and_released(dovecot: Any) -> None:
    raw = rm.thunderbird([("registration.pdf", rm.form())], msgid="<anmeldung-\u00fc\u202e@example.org>")
    dovecot.deliver("1764000001.M1P1.utf8", raw)
    pw = {"SUPPORTCTL_IMAP_PASSWORD": "s3cret-pw", "SUPPORTCTL_INBOX_MEMBER": "anna"}
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    rid = r.records()[0]["id"]
    for verb in ("claim", "release"):
        done = imap_supportctl("inbox", verb, rid, ca=dovecot.ca, env=pw)
        bounded(done)
        assert done.code == ExitCode.OK, done.stderr
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    assert r.records()[0]["claimed_by"] == []
    # Another id with the same ASCII pieces: the search finds both, the UID triage read it from decides.
    other = rm.thunderbird([("registration.pdf", rm.form(last_name="Zwei"))], msgid="<anmeldung-\u00dfX@example.org>")
    dovecot.deliver("1764000002.M2P1.utf8", other)
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    assert r.code == ExitCode.OK and len(r.records()) == 2, r.stderr
    done = imap_supportctl("inbox", "claim", rid, ca=dovecot.ca, env=pw)
    assert done.code == ExitCode.OK, done.stderr
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    assert {x["id"]: x["claimed_by"] for x in r.records()} == {rid: ["anna"], r.records()[1]["id"]: []}


def test_a_mail_reusing_another_registrations_message_id_does_not_take_its_flags(dovecot: Any) -> None:
    """A hostile sender copies a real registration's Message-ID: a claim of the copy lands on the copy."""
    real = rm.thunderbird([("registration.pdf", rm.form())], msgid="<same@example.org>")
    copy = rm.thunderbird([("registration.pdf", rm.form(last_name="Evil"))], msgid="<same@example.org>")
    dovecot.deliver("1764000001.M1P1.real", real)
    dovecot.deliver("1764000002.M2P1.copy", copy.replace(b"lukasz@example.com", b"mallory@example.net"))
    pw = {"SUPPORTCTL_IMAP_PASSWORD": "s3cret-pw", "SUPPORTCTL_INBOX_MEMBER": "anna"}
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    assert r.code == ExitCode.OK, r.stderr
    ids = {x["sender"].split("<")[1]: x["id"] for x in r.records()}
    assert len(set(ids.values())) == 2
    done = imap_supportctl("inbox", "claim", ids["mallory@example.net>"], ca=dovecot.ca, env=pw)
    assert done.code == ExitCode.OK, done.stderr
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    claimed = {x["sender"].split("<")[1]: x["claimed_by"] for x in r.records()}
    assert claimed == {"mallory@example.net>": ["anna"], "lukasz@example.com>": []}
    done = imap_supportctl("inbox", "release", ids["mallory@example.net>"], ca=dovecot.ca, env=pw)
    assert done.code == ExitCode.OK, done.stderr
    r = run(dovecot.url, "--json", ca=dovecot.ca, env=pw)
    assert [x["claimed_by"] for x in r.records()] == [[], []]
    # Without knowing which of the two it read (no UID), the desk guesses neither.
    from supportctl.desk import shared, sources
    from supportctl.errors import InvalidInputError

    conn = sources.imap_login(sources.parse_imap_url(dovecot.url), "s3cret-pw", dovecot.ca)
    try:
        desk = shared.ImapDesk(conn, "INBOX")
        with pytest.raises(InvalidInputError, match="cannot be told apart"):
            desk.uid_of("<same@example.org>")
        assert desk.uid_of("<same@example.org>", 2) == 2
    finally:
        conn.logout()


def test_a_server_that_never_ends_its_answer_is_cut_off(server: hi.HostileImap) -> None:
    def endless(session: hi.Session, seq: int, mail: hi.Mail, items: str) -> bytes:
        if "HEADER" not in items:
            return hi.honest_fetch(session, seq, mail, items)
        line = b"* 1 FETCH (FLAGS (" + b" ".join(b"$k%d" % n for n in range(200)) + b"))\r\n"
        while not session.server.stopping.is_set():
            session.send(line * 100)
        raise OSError("stopped")

    server.fetch_reply = endless
    r = run(server.url, ca=server.ca, env={"SUPPORTCTL_IMAP_TIMEOUT": "3"}, timeout=30)
    bounded(r)
    one_error(r, ExitCode.TRANSFER, "127.0.0.1", "answers to one command")
