"""Red team: `inbox` on local mailboxes (Maildir, mbox, stdin), hostile MIME, hostile PDFs for `validate`.

Each case runs the real `python -m supportctl …` as a process (the autouse fixture's XDG dirs), measured from a
small parent (`tests.measured`: forked from pytest, Linux would count pytest's RSS), and holds
it to the README: a documented exit code, one stderr line per problem and never a traceback, bounded time and
memory, nothing raw on the terminal, every other message still listed. The IMAP side is tests/test_inbox_redteam.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from supportctl.errors import ExitCode
from tests import realmail as rm
from tests.measured import Run, supportctl

NOW = "2026-11-25T10:30:00+01:00"
RSS_LIMIT_KB = 250_000  # a run over these mailboxes takes ~50 MB
GOOD_ID = "ac8d576f6341"  # the id of rm.thunderbird(…, msgid="<tb@example.org>")


def inbox(source: str, *args: str, **kw: Any) -> Run:
    return supportctl("inbox", source, "--now", NOW, "--json", *args, **kw)


def clean_text(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127 or 0x202A <= ord(c) <= 0x202E]
    bad += [c for c in text if 0x2066 <= ord(c) <= 0x2069 or 0x80 <= ord(c) < 0xA0]
    assert not bad, f"raw control characters on the terminal: {bad!r}"


def bounded(r: Run) -> None:
    assert "Traceback" not in r.stderr, r.stderr
    assert r.rss_kb < RSS_LIMIT_KB, f"peak RSS {r.rss_kb} kB"
    clean_text(r.stdout + r.stderr)


def good_mail() -> bytes:
    return rm.thunderbird([("registration.pdf", rm.form())], msgid="<tb@example.org>")


def maildir(root: Path, files: dict[str, bytes]) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    for name, data in files.items():
        (root / "new" / name).write_bytes(data)
    return root


def by_key(r: Run) -> dict[str, dict[str, Any]]:
    return {x["key"]: x for x in r.records()}


# ---------------------------------------------------------------- mailboxes


def test_special_files_and_hostile_names_in_a_maildir_are_skipped_and_the_rest_listed(tmp_path: Path) -> None:
    """Handled fine on main: links (to /etc/shadow, a FIFO, /dev/zero, a directory), a FIFO, a directory."""
    md = maildir(tmp_path / "md", {"1.good": good_mail()})
    new = md / "new"
    os.mkfifo(new / "2.fifo\x1b[2J\u202e")
    os.symlink("/etc/shadow", new / "3.shadow")
    os.symlink("/dev/zero", new / "4.zero")
    os.symlink(tmp_path, new / "5.dir")
    os.symlink(new / "2.fifo\x1b[2J\u202e", new / "6.fifolink")
    (new / "7.realdir").mkdir()
    r = inbox(str(md), timeout=30)
    bounded(r)
    assert r.code == ExitCode.PARTIAL, r.stderr
    recs = by_key(r)
    assert recs["new/1.good"]["status"] == "due-soon"
    skipped = sorted(k for k, v in recs.items() if v["status"] == "skipped")
    assert len(skipped) == 6, recs.keys()
    assert sum(1 for line in r.talk() if line.startswith("skipped ")) == 6
    assert recs["new/3.shadow"]["reasons"] == ["a symbolic link; not followed"]


def test_endless_stdin_is_skipped_in_bounded_time() -> None:
    """`yes | supportctl inbox -`: the message is over the limit; draining the rest must not last forever."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        r = inbox("-", env={"SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES": str(1 << 20)}, stdin=yes.stdout, timeout=30)
    finally:
        yes.kill()
        yes.wait()
    bounded(r)
    assert r.code == ExitCode.PARTIAL, r.stderr
    [rec] = r.records()
    assert rec["status"] == "skipped"
    assert "inbox.max_message_bytes" in rec["reasons"][0]


def test_binary_stdin_is_listed_not_fatal() -> None:
    """Handled fine: an executable on stdin is one message that is not a registration."""
    with open(sys.executable, "rb") as fh:
        r = inbox("-", stdin=fh, timeout=30)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    assert [x["status"] for x in r.records()] == ["not-a-registration"]


@pytest.mark.slow
def test_a_sparse_2gb_mbox_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """A 2 GB mbox of one line (a hole of zeros): reading it line by line held the whole line (4 GB RSS)."""
    path = tmp_path / "sparse.mbox"
    with path.open("wb") as f:
        f.write(b"From a@b Wed Nov 25 10:00:00 2026\nFrom: a@b\nSubject: x\n\n")
        f.truncate(2 << 30)
    with path.open("ab") as f:
        f.write(b"\n\nFrom a@b Wed Nov 25 10:00:00 2026\n" + good_mail().replace(b"\r\n", b"\n"))
    r = inbox(str(path), timeout=60)
    bounded(r)
    assert r.code == ExitCode.PARTIAL, r.stderr
    recs = r.records()
    assert [x["status"] for x in recs] == ["due-soon", "skipped"]
    assert "inbox.max_message_bytes" in recs[1]["reasons"][0]


def test_mbox_line_ends_crlf_cr_and_a_from_line_in_a_body(tmp_path: Path) -> None:
    """Handled fine: CRLF mbox, a bare-CR message, an escaped >From line; the form is found in each."""
    note = rm.plain("Lunch?", "<n@example.org>")
    sep = b"From a@b Wed Nov 25 10:00:00 2026\r\n"
    data = sep + good_mail() + b"\r\n" + sep + note.replace(b"\r\n", b"\r") + b"\r\n>From me: hi\r\n"
    path = tmp_path / "crlf.mbox"
    path.write_bytes(data)
    r = inbox(str(path), timeout=30)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    assert r.records()[0]["status"] == "due-soon"


@pytest.mark.slow
def test_many_messages_without_a_message_id_are_read_in_linear_time(tmp_path: Path) -> None:
    """20,000 tiny messages without a Message-ID share an id: finding a free `-N` was quadratic (140 s)."""
    path = tmp_path / "many.mbox"
    path.write_bytes(b"From a@b Wed Nov 25 10:00:00 2026\nFrom: a@b\nSubject: x\n\nhi\n\n" * 20_000)
    r = inbox(str(path), timeout=45)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    ids = [x["id"] for x in r.records()]
    assert len(ids) == len(set(ids)) == 20_000
    assert f"{ids[0]}-20000" in set(ids)


# ---------------------------------------------------------------- MIME and headers


def _head(date: str) -> bytes:
    return (
        f"Received: from x by mx; {date}\r\nFrom: a@example.org\r\nTo: {rm.DESK}\r\nSubject: r\r\n"
        f"Date: {date}\r\nMessage-ID: <d@example.org>\r\n\r\nhi\r\n"
    ).encode()


@pytest.mark.parametrize(
    "date",
    ["Sat, 01 Jan 0000 00:00:00 +0000", "Mon, 01 Jan 0001 00:00:00 -2359", "Fri, 31 Dec 0099 12:00:00 +0100"],
)
def test_a_four_digit_year_below_1000_is_not_read_as_20xx(tmp_path: Path, date: str) -> None:
    """`0000` is not the two-digit year `00`: it was read as 2000 (overdue for ever); it is not plausible."""
    md = maildir(tmp_path / "md", {"1.x": _head(date)})
    r = inbox(str(md), timeout=30)
    bounded(r)
    [rec] = r.records()
    assert rec["received_from"] == "arrival", rec
    assert not rec["received"].startswith(("2000", "2001", "2099")), rec


def test_hostile_mime_is_listed_and_the_good_mail_beside_it_too(tmp_path: Path) -> None:
    """Handled fine on main: each hostile message is listed, never fatal, nothing raw reaches the terminal."""
    import base64

    head = rm._head("Eve <eve@example.org>", "Registrierung", "<m@example.org>", "X-Mailer: t")
    pdf = 'Content-Type: application/pdf; name="r.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    ew = "=?UTF-8?B?" + base64.b64encode("\x1b[2J\u202eé".encode()).decode() + "?="
    bomb = " ".join([ew] * 20_000)
    mails = {
        "nest1000": head
        + "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(1000))
        + "Content-Type: text/plain\r\n\r\nx\r\n",
        "noclose": head + 'Content-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\n' + pdf + rm._b64(rm.form()),
        "b64garbage": head
        + 'Content-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\n'
        + pdf
        + "!!@@\x1b[2J===" * 2000
        + "\r\n--z--\r\n",
        "uu-noend": head + "Content-Type: text/plain\r\n\r\nbegin 644 r.pdf\r\n" + ("M" + "B" * 60 + "\r\n") * 20_000,
        "uu-huge": head + "Content-Type: text/plain\r\n\r\nbegin 644 r.pdf\r\n~" + "A" * 60 + "\r\n`\r\nend\r\n",
        "rfc2231": head
        + 'Content-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\nContent-Type: application/pdf\r\n'
        + "Content-Disposition: attachment"
        + "".join(f";\r\n filename*{i}*=%1B%E2%80%AE{i}" for i in range(10_000))
        + "\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + rm._b64(rm.form(last_name="Other"))
        + "\r\n--z--\r\n",
        "ewbomb": f"From: {bomb} <eve@example.org>\r\nTo: {bomb}\r\nSubject: {bomb}\r\nMessage-ID: <e@x>\r\n\r\nhi\r\n",
        "recv100k": "".join(f"Received: from h{i} by y; Wed, 25 Nov 2026 09:00:00 +0100\r\n" for i in range(100_000))
        + "From: a@b\r\nSubject: r\r\nMessage-ID: <r@x>\r\n\r\nhi\r\n",
        "hdr10mb": "From: a@b\r\nSubject: " + "A" * 10_000_000 + "\r\nX-Long: " + "B " * 2_000_000 + "\r\n\r\nhi\r\n",
    }
    md = maildir(tmp_path / "md", {**{f"1.{k}": v.encode() for k, v in mails.items()}, "2.good": good_mail()})
    r = inbox(str(md), timeout=40)
    bounded(r)
    assert r.code == ExitCode.PARTIAL, r.stderr
    status = {k.split(".", 1)[1]: v["status"] for k, v in by_key(r).items()}
    assert status == {
        "good": "duplicate",  # noclose (an unclosed boundary) carries the same form and sorts first
        "nest1000": "skipped",
        "noclose": "due-soon",
        "b64garbage": "invalid",
        "uu-noend": "invalid",
        "uu-huge": "invalid",
        "rfc2231": "due-soon",
        "ewbomb": "not-a-registration",
        "recv100k": "not-a-registration",
        "hdr10mb": "not-a-registration",
    }
    assert len(r.stdout) < 200_000  # a header of 10 MB is not copied whole into the list
    assert [x for x in r.talk() if x.startswith("skipped ")] == [
        "skipped new/1.nest1000: malformed MIME: nested too deeply to read"
    ]


# ---------------------------------------------------------------- PDFs for validate


def _pikepdf(change: Any) -> bytes:
    pikepdf = pytest.importorskip("pikepdf")
    pdf = pikepdf.open(io.BytesIO(rm.form()))
    change(pdf, pikepdf)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _validate(tmp_path: Path, pdf: bytes, timeout: float = 30) -> Run:
    """`supportctl validate` on `pdf`, with the checks every hostile input passes (no traceback, bounded)."""
    path = tmp_path / "f.pdf"
    path.write_bytes(pdf)
    r = supportctl("validate", str(path), timeout=timeout)
    bounded(r)
    return r


def _flate_bomb(pdf: Any, pikepdf: Any) -> None:
    z = zlib.compressobj(9)
    data = b"".join(z.compress(b"\0" * (1 << 24)) for _ in range(64)) + z.flush()  # 1 GiB inflated
    s = pikepdf.Stream(pdf, b"x")
    s.write(data, filter=pikepdf.Name.FlateDecode)
    pdf.pages[0].obj.Contents = s


def _field_cycle(pdf: Any, pikepdf: Any) -> None:
    f = pdf.Root.AcroForm.Fields[0]
    f.Kids = pikepdf.Array([f])


def _page_cycle(pdf: Any, pikepdf: Any) -> None:
    pdf.Root.Pages.Kids.append(pdf.Root.Pages)


def _many_fields(pdf: Any, pikepdf: Any) -> None:
    for i in range(100_000):
        pdf.Root.AcroForm.Fields.append(pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Tx, T=f"f{i}")))


def _javascript(pdf: Any, pikepdf: Any) -> None:
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert(1)")


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        pytest.param(_flate_bomb, ExitCode.INVALID_INPUT, "PDF: a compressed stream inflates", id="flate-bomb"),
        pytest.param(_field_cycle, ExitCode.INVALID_INPUT, "nested too deeply", id="field-kids-cycle"),
        pytest.param(_page_cycle, ExitCode.INVALID_INPUT, "PDF: its structure is broken", id="page-kids-cycle"),
        pytest.param(_many_fields, ExitCode.INVALID_INPUT, "too many objects", id="100k-fields"),
        pytest.param(_javascript, ExitCode.FORM_INVALID, "", id="javascript"),
    ],
)
def test_hostile_pdfs_are_refused_in_one_line_in_bounded_time(
    tmp_path: Path, change: Any, code: ExitCode, words: str
) -> None:
    r = _validate(tmp_path, _pikepdf(change))
    assert r.code == code, r.stderr
    if code == ExitCode.INVALID_INPUT:
        assert len(r.talk()) == 1 and words in r.talk()[0], r.stderr
    else:
        assert "JavaScript" in r.stdout


def test_a_field_value_of_9mb_is_judged_within_the_time_limit(tmp_path: Path) -> None:
    """A 9 MB value: every character went through the Latin-script rule first (~18 s, the limit says 5 s)."""

    def huge(pdf: Any, pikepdf: Any) -> None:
        [f] = [f for f in pdf.Root.AcroForm.Fields if str(f.get("/T")) == "membership_id"]
        f.V = "A" * 9_000_000

    r = _validate(tmp_path, _pikepdf(huge), timeout=60)
    assert r.code == ExitCode.FORM_INVALID, r.stderr
    assert '"membership_id" is 9000000 characters long; at most 32 fit' in r.stdout
    assert r.seconds < 8, r.seconds


def test_a_new_page_text_in_an_incremental_update_is_invalid(tmp_path: Path) -> None:
    """Handled fine: text added to the page (the form's static text) in an update appended to the form."""

    def add_text(pdf: Any, pikepdf: Any) -> None:
        pdf.pages[0].contents_add(pikepdf.Stream(pdf, b"BT /F1 12 Tf 100 700 Td (These terms do not apply) Tj ET"))

    r = _validate(tmp_path, _pikepdf(add_text))
    assert r.code == ExitCode.FORM_INVALID, r.stdout
    assert "page 1: its content differs from the package's form" in r.stdout


def test_an_appearance_that_shows_other_text_is_not_valid(tmp_path: Path) -> None:
    """Handled fine: the value is right, the drawing shows the letters rotated."""
    import re

    def rotate(pdf: Any, pikepdf: Any) -> None:
        [f] = [f for f in pdf.Root.AcroForm.Fields if str(f.get("/T")) == "last_name"]
        ap = f.AP.N if "/AP" in f else f.Kids[0].AP.N
        ap.write(re.sub(rb"<([0-9A-Fa-f]+)>", lambda m: b"<" + m.group(1)[4:] + m.group(1)[:4] + b">", ap.read_bytes()))

    r = _validate(tmp_path, _pikepdf(rotate))
    assert r.code == ExitCode.FORM_INVALID, r.stdout
    assert "\"last_name\" shows 'ılmaz-ȘtefănescuY' but its value is 'Yılmaz-Ștefănescu'" in r.stdout


@pytest.mark.slow
def test_hostile_pdfs_in_the_worker_pool_are_listed_and_the_run_goes_on(tmp_path: Path) -> None:
    """Handled fine: more than 8 forms go to worker processes; a bomb, a 5000-deep array, a 9 MB value and a
    truncated form are each `invalid` with a reason, the ten good forms beside them are listed."""

    def deep(pdf: Any, pikepdf: Any) -> None:
        a = pikepdf.Array([])
        for _ in range(5000):
            a = pikepdf.Array([a])
        pdf.Root.AcroForm.Fields[0].Deep = a

    def huge(pdf: Any, pikepdf: Any) -> None:
        [f] = [f for f in pdf.Root.AcroForm.Fields if str(f.get("/T")) == "membership_id"]
        f.V = "A" * 9_000_000

    files = {
        f"{i:02d}.good": rm.thunderbird(
            [("registration.pdf", rm.form(last_name=f"Name{chr(65 + i)}"))], msgid=f"<tb{i}@example.org>"
        )
        for i in range(10)
    }
    hostile = {"bomb": _pikepdf(_flate_bomb), "deep": _pikepdf(deep), "huge": _pikepdf(huge)}
    hostile["truncated"] = rm.form()[:50_000]
    for name, pdf in hostile.items():
        files[f"x.{name}"] = rm.thunderbird([("registration.pdf", pdf)], msgid=f"<{name}@example.org>")
    r = inbox(str(maildir(tmp_path / "md", files)), timeout=60)
    assert "Traceback" not in r.stderr, r.stderr
    clean_text(r.stdout + r.stderr)
    # a 10 MB PDF costs pypdf ~250 MB in one worker; two workers and the parent together stay under this
    assert r.rss_kb < 450_000, r.rss_kb
    assert r.code == ExitCode.OK, r.stderr
    recs = by_key(r)
    assert [recs[f"new/{i:02d}.good"]["status"] for i in range(10)] == ["due-soon"] * 10
    reasons = {k[6:]: v["reasons"] for k, v in recs.items() if k.startswith("new/x.")}
    assert {k: recs[f"new/x.{k}"]["status"] for k in hostile} == dict.fromkeys(hostile, "invalid")
    assert reasons["truncated"] == ["the form is truncated: the PDF has no end marker"]
    assert reasons["deep"] == ["the form is not a readable PDF: its structure is broken"]  # not pypdf's words
    assert reasons["huge"] == ['field membership_id: "membership_id" is 9000000 characters long; at most 32 fit']


def test_a_message_of_exactly_the_limit_is_read_and_one_byte_more_is_skipped(tmp_path: Path) -> None:
    """Handled fine: the boundary holds for a Maildir file and for stdin."""
    mail = good_mail()
    md = maildir(tmp_path / "md", {"1.good": mail})
    for limit, want in ((len(mail), "due-soon"), (len(mail) - 1, "skipped")):
        env = {"SUPPORTCTL_INBOX_MAX_MESSAGE_BYTES": str(limit)}
        r = inbox(str(md), env=env, timeout=30)
        assert [x["status"] for x in r.records()] == [want], r.stderr
        with (md / "new" / "1.good").open("rb") as fh:
            r = inbox("-", env=env, stdin=fh, timeout=30)
        assert [x["status"] for x in r.records()] == [want], r.stderr
    assert f"message is {len(mail)} bytes, more than inbox.max_message_bytes ({len(mail) - 1})" in r.stderr


def test_files_that_vanish_or_change_while_inbox_reads_them(tmp_path: Path) -> None:
    """Handled fine: a thread deletes, rewrites, truncates and grows mail (and the form) during the run."""
    import random
    import threading

    form = good_mail()
    files = {f"{i:04d}": rm.plain(f"x{i}", f"<m{i}@x>", to="a@example.org") + b"x" * (i * 97) for i in range(300)}
    md = maildir(tmp_path / "md", {**files, "zz.form": form})
    stop = threading.Event()
    rnd = random.Random(7)

    def churn() -> None:
        while not stop.is_set():
            name = rnd.choice([*files, "zz.form"])
            path = md / "new" / name
            with contextlib.suppress(FileNotFoundError):
                pick = rnd.random()
                if pick < 0.3:
                    path.unlink()
                elif name == "zz.form":
                    path.write_bytes(form[: rnd.randrange(len(form))] if pick < 0.6 else form + b"y" * 100_000)
                else:
                    path.write_bytes(files[name] * rnd.randint(1, 40))
            time.sleep(0.0005)

    t = threading.Thread(target=churn)
    t.start()
    try:
        r = inbox(str(md), timeout=40)
    finally:
        stop.set()
        t.join()
    bounded(r)
    assert r.code in (ExitCode.OK, ExitCode.PARTIAL), r.stderr
    assert all(x["status"] in ("not-a-registration", "due-soon", "invalid", "skipped") for x in r.records())
    summary = [x for x in r.talk() if "in the list" in x]
    assert len(summary) == 1 and summary[0].startswith(f"{len(r.records())} message(s)"), r.stderr


# ---------------------------------------------------------------- state


HINT = "(it is a cache: remove it and run again, or free space or permissions on that directory)"


def test_a_directory_in_place_of_the_state_file_is_said_in_one_line(tmp_path: Path) -> None:
    """Handled: the run lists the mail and says in one line that it remembers nothing."""
    md = maildir(tmp_path / "md", {"1.good": good_mail()})
    state = Path(os.environ["XDG_STATE_HOME"]) / "supportctl" / "inbox" / "inbox.sqlite"
    state.mkdir(parents=True)
    r = inbox(str(md), timeout=30)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    assert [x["status"] for x in r.records()] == ["due-soon"]
    assert len(r.talk()) == 2 and "this run did not remember anything" in r.talk()[0], r.stderr
    # a lookup says the same, not "no message …" (as if the id were wrong)
    shown = supportctl("inbox", "show", r.records()[0]["id"], timeout=30)
    assert shown.code == ExitCode.ERROR, shown.stderr
    line = shown.talk()
    assert line == [f"error: the desk's state {state} cannot be used: it is not a file {HINT}"], shown.stderr


def test_a_state_directory_that_fills_up_during_the_run_still_gives_the_list(tmp_path: Path) -> None:
    """The store opened, but its write at the end failed (the disk filled up): the run lists the mail without the
    cache and says so in one line, as when the store cannot be opened at all; not exit 1 with no list."""
    import resource
    import signal

    md = maildir(tmp_path / "md", {"1.good": good_mail()})
    assert inbox(str(md), timeout=30).code == ExitCode.OK
    inbox_dir = Path(os.environ["XDG_STATE_HOME"]) / "supportctl" / "inbox"
    room = max(p.stat().st_size for p in inbox_dir.iterdir()) + 8192  # a full disk: no file grows past this
    for n in range(40):
        (md / "new" / f"{n}.more").write_bytes(rm.thunderbird([("f.pdf", rm.form())], f"<more{n}@example.org>"))

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run(
        [sys.executable, "-m", "supportctl", "inbox", str(md), "--now", NOW, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        preexec_fn=full_disk,
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == ExitCode.OK, r.stderr
    assert len(r.stdout.splitlines()) == 41
    assert "this run did not remember anything" in r.stderr, r.stderr


@pytest.mark.parametrize("damage", ["garbage", "symlink"])
def test_a_damaged_state_file_is_moved_aside_and_the_run_reads_afresh(tmp_path: Path, damage: str) -> None:
    md = maildir(tmp_path / "md", {"1.good": good_mail()})
    assert inbox(str(md), timeout=30).code == ExitCode.OK
    state = Path(os.environ["XDG_STATE_HOME"]) / "supportctl" / "inbox" / "inbox.sqlite"
    state.unlink()
    if damage == "garbage":
        state.write_bytes(os.urandom(5000))
    else:
        state.symlink_to("/etc/passwd")
    r = inbox(str(md), timeout=30)
    bounded(r)
    assert r.code == ExitCode.OK, r.stderr
    assert [x["status"] for x in r.records()] == ["due-soon"]
    assert "the desk's state was damaged: moved to" in r.talk()[0]
    assert Path("/etc/passwd").stat().st_size > 0
