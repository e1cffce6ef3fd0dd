"""Portable primitives: every back-end's code runs here on Linux, chosen explicitly (not by faking the platform).

Locks (fcntl and msvcrt), the PDF time limit (watchdog and deadline), directories (XDG, macOS, Windows),
private files, failpoints and the print systems (CUPS is tested for real in test_print.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from supportctl import fsutil, locks, paths, timelimit
from tests.conftest import ROOT

# ---------------------------------------------------------------- locks


def _holder(path: Path, ready: Path, release: Path) -> subprocess.Popen[str]:
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom supportctl.locks import file_lock\n"
        f"with file_lock(Path({str(path)!r})):\n"
        f"    Path({str(ready)!r}).touch()\n"
        f"    while not Path({str(release)!r}).exists(): time.sleep(0.01)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True)


def test_fcntl_lock_excludes_another_process(tmp_path: Path) -> None:
    lock, ready, release = tmp_path / "lock", tmp_path / "ready", tmp_path / "release"
    p = _holder(lock, ready, release)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with locks.file_lock(lock, blocking=False, backend="fcntl") as got:
            assert got is False
        release.touch()
        with locks.file_lock(lock, blocking=True, backend="fcntl") as got:
            assert got is True
    finally:
        release.touch()
        p.wait(20)
    assert lock.stat().st_mode & 0o777 == 0o600


class FakeMsvcrt:
    """msvcrt.locking's contract on Windows: a locked byte range refuses a second locker with OSError."""

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}  # (inode, offset) -> fd
        self.calls: list[tuple[int, int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        self.calls.append((fd, mode, nbytes))
        key = (os.fstat(fd).st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        if mode == locks.LK_UNLCK:
            if self.held.get(key) != fd:
                raise OSError(13, "not locked by this handle")
            del self.held[key]
        elif key in self.held:
            raise OSError(36, "Resource deadlock avoided")
        else:
            self.held[key] = fd


def test_msvcrt_lock_logic(tmp_path: Path) -> None:
    fake = FakeMsvcrt()
    lock = tmp_path / "lock"
    with locks.file_lock(lock, backend="msvcrt", locking=fake.locking) as got:
        assert got is True
        with locks.file_lock(lock, blocking=False, backend="msvcrt", locking=fake.locking) as second:
            assert second is False
    assert fake.held == {}  # unlocked before closing
    assert [c[1:] for c in fake.calls] == [(2, 1), (2, 1), (0, 1)]
    # A blocking locker waits until the holder lets go.
    got_it = threading.Event()
    with locks.file_lock(lock, backend="msvcrt", locking=fake.locking):
        t = threading.Thread(target=lambda: _take(lock, fake, got_it))
        t.start()
        time.sleep(0.2)
        assert not got_it.is_set()
    t.join(5)
    assert got_it.is_set()


def _take(lock: Path, fake: FakeMsvcrt, event: threading.Event) -> None:
    with locks.file_lock(lock, backend="msvcrt", locking=fake.locking) as got:
        if got:
            event.set()


# ---------------------------------------------------------------- the time limit


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        timelimit.check()


@pytest.mark.parametrize("backend", ["async-exc", "deadline"])
def test_time_limit_stops_a_long_parse_in_any_thread(backend: str) -> None:
    outcome: list[str] = []

    def work() -> None:
        start = time.monotonic()
        try:
            with timelimit.time_limit(0.3, backend=backend):
                if backend == "async-exc":
                    while True:  # pure Python without checks: only the watchdog can stop it
                        pass
                _spin(10)
        except timelimit.TimeLimitExceeded:
            outcome.append(f"stopped after {time.monotonic() - start:.1f}")

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert outcome and float(outcome[0].split()[-1]) < 2


def test_time_limit_does_not_fire_after_the_block() -> None:
    with timelimit.time_limit(0.2, backend="async-exc"):
        pass
    time.sleep(0.4)  # a late watchdog must not raise here


def test_pdf_time_limit_off_the_main_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from supportctl.errors import InvalidInputError
    from supportctl.form import pdfutil

    monkeypatch.setattr(pdfutil, "TIME_LIMIT_S", 0.3)
    errors: list[str] = []

    def work() -> None:
        try:
            with pdfutil.guarded("slow.pdf"):
                while True:
                    pass
        except InvalidInputError as exc:
            errors.append(exc.message)

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert errors == ["slow.pdf: reading it took longer than 0.3 s; it is not a usable PDF form"]


# ---------------------------------------------------------------- directories


def test_linux_nothing_moves(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var)
    assert paths.config_file("linux") == isolated / ".config" / "supportctl" / "config.toml"
    assert paths.state_dir("linux") == isolated / ".local" / "state" / "supportctl"
    assert paths.cache_dir("linux") == isolated / ".cache" / "supportctl"


def test_macos_directories(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var)
    support = isolated / "Library" / "Application Support" / "supportctl"
    assert paths.config_file("darwin") == support / "config.toml"
    assert paths.state_dir("darwin") == support
    assert paths.cache_dir("darwin") == isolated / "Library" / "Caches" / "supportctl"


def test_windows_directories(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs.windows as win

    # The Known Folder API exists only on Windows; the environment gives the same folders.
    monkeypatch.setattr(win, "get_win_folder", win.get_win_folder_from_env_vars)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("APPDATA", "/c/Users/ana/AppData/Roaming")
    monkeypatch.setenv("LOCALAPPDATA", "/c/Users/ana/AppData/Local")
    assert paths.config_file("win32") == Path("/c/Users/ana/AppData/Roaming/supportctl/config.toml")
    assert paths.state_dir("win32") == Path("/c/Users/ana/AppData/Local/supportctl")
    assert paths.cache_dir("win32") == Path("/c/Users/ana/AppData/Local/supportctl/Cache")


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_xdg_and_supportctl_config_override_everywhere(
    platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("SUPPORTCTL_CONFIG", str(tmp_path / "my.toml"))
    assert paths.config_file(platform) == tmp_path / "my.toml"
    assert paths.state_dir(platform) == tmp_path / "state" / "supportctl"
    assert paths.cache_dir(platform) == tmp_path / "cache" / "supportctl"


def test_config_path_shows_all_three(cli: Any, isolated: Path) -> None:
    r = cli("config", "path")
    assert r.stdout.strip() == str(isolated / ".config" / "supportctl" / "config.toml")
    assert f"state: {isolated / '.local' / 'state' / 'supportctl'}" in r.stderr
    assert f"cache: {isolated / '.cache' / 'supportctl'}" in r.stderr
    data = cli("config", "path", "--json").json()["data"]
    assert data["state"] == str(isolated / ".local" / "state" / "supportctl")
    assert data["cache"] == str(isolated / ".cache" / "supportctl")


# ---------------------------------------------------------------- files saved on Windows

BOM = "\ufeff"


def _windows_text(path: Path, text: str) -> Path:
    """As Notepad (before Windows 10 1903) and PowerShell 5's `Out-File -Encoding utf8` save it: BOM and CRLF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((BOM + text).replace("\n", "\r\n").encode("utf-8"))
    return path


def test_a_config_file_with_a_bom_is_read_and_rewritten(cli: Any, isolated: Path) -> None:
    _windows_text(paths.config_file(), 'lang = "de"\n[profile]\ncompany = "Müller GmbH"\n')
    r = cli("config", "show", "--lang", "en")
    assert r.exit_code == 0, r.stderr
    rows = dict(line.split("\t")[:2] for line in r.stdout.splitlines())
    assert rows["lang"] == "de" and rows["profile.company"] == "Müller GmbH"
    r = cli("config", "smtp", "--host", "smtp.example.org", "--no-test")
    assert r.exit_code == 0, r.stderr
    assert 'company = "Müller GmbH"' in paths.config_file().read_text("utf-8")


def test_data_and_batch_input_with_a_bom_are_read(cli: Any, tmp_path: Path) -> None:
    import json

    from tests import formkit

    if not (formkit.package_root() / "registration-form.pdf").exists():
        pytest.skip("the default form PDF is not built")
    values = json.dumps(formkit.GOOD, ensure_ascii=False, indent=2)
    r = cli("fill", "--data", str(_windows_text(tmp_path / "me.json", values)), "--no-input", "--out", "a.pdf")
    assert r.exit_code == 0, r.stderr
    r = cli("fill", "--data", "-", "--no-input", "--out", "b.pdf", input=BOM + values)
    assert r.exit_code == 0, r.stderr
    r = cli("eta", "--batch", "--class", "critical", input=BOM + "2026-11-27 17:30+01:00\r\n")
    assert r.exit_code == 0, r.stdout
    assert json.loads(r.stdout)["due"] == "2026-11-30T09:30:00+01:00"


def test_a_package_manifest_with_a_bom_is_read(cli: Any, tmp_path: Path) -> None:
    import shutil

    from supportctl.package import manifest

    root = tmp_path / "pkg"
    shutil.copytree(manifest.bundled_root(), root)
    _windows_text(root / "package.toml", (root / "package.toml").read_text("utf-8"))
    r = cli("show", "fields", "--package", str(root))
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("program\t")


# ---------------------------------------------------------------- private files


@pytest.mark.parametrize(
    ("backend", "mode", "expected"), [("posix", 0o600, 0o600), ("posix", 0o644, 0o644), ("windows", 0o644, 0o600)]
)
def test_file_modes(tmp_path: Path, backend: str, mode: int, expected: int) -> None:
    """POSIX: the mode asked for. Windows: no chmod (the profile's ACL decides); the file keeps mkstemp's 0600."""
    target = tmp_path / "files" / "secret.json"
    fsutil.atomic_write(target, b"{}", mode=mode, backend=backend)
    assert target.read_bytes() == b"{}"
    assert target.stat().st_mode & 0o777 == expected
    assert [p.name for p in target.parent.iterdir()] == ["secret.json"]  # no temporary file left


# ---------------------------------------------------------------- failpoints


@pytest.mark.parametrize(("backend", "status"), [("posix", -9), ("windows", 137)])
def test_failpoint_ends_the_process_at_once(backend: str, status: int, tmp_path: Path) -> None:
    code = (
        "from supportctl.mail import outbox\n"
        "try:\n"
        f"    outbox.failpoint('here', backend={backend!r})\n"
        "finally:\n"
        "    print('cleanup ran')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), SUPPORTCTL_FAILPOINT="here")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == status and "cleanup ran" not in p.stdout


# ---------------------------------------------------------------- print systems (CUPS itself: test_print.py)


def test_print_system_per_platform(tmp_path: Path) -> None:
    from supportctl.errors import SupportctlError
    from supportctl.package import printing
    from supportctl.package.winprint import WindowsShellSystem

    tools = {"lp": "/usr/bin/lp", "lpstat": "/usr/bin/lpstat", "lpr": "/usr/bin/lpr"}
    assert isinstance(printing.choose_system("win32", tools.get), WindowsShellSystem)
    mac = printing.choose_system("darwin", tools.get)  # macOS ships CUPS: lp
    assert isinstance(mac, printing.CupsSystem) and mac.lp == "/usr/bin/lp"
    assert isinstance(printing.choose_system("linux", {"lpr": "/usr/bin/lpr"}.get), printing.LprSystem)
    with pytest.raises(SupportctlError, match="no print system"):
        printing.choose_system("linux", {}.get)


class Shell:
    """Records os.startfile calls; `Get-CimInstance Win32_Printer | ConvertTo-Json` output for the list."""

    def __init__(self, printers: str) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.printers = printers

    def startfile(self, *args: str) -> None:
        self.calls.append(args)

    def run(self, script: str) -> str:
        assert "Win32_Printer" in script
        return self.printers


PRINTERS_JSON = (
    '[{"Name":"Microsoft Print to PDF","Default":true,"WorkOffline":false,"PrinterStatus":3},'
    '{"Name":"Büro HP LaserJet","Default":false,"WorkOffline":true,"PrinterStatus":7}]'
)


def test_windows_prints_with_the_shell_verb(tmp_path: Path) -> None:
    from supportctl.errors import NoSuchPrinterError
    from supportctl.package import printing
    from supportctl.package.winprint import WindowsShellSystem
    from tests import pkgtools as pt

    pkg_root = pt.make_package(tmp_path / "pkg")
    from supportctl.package import manifest

    pkg = manifest.load(pkg_root)
    shell = Shell(PRINTERS_JSON)
    system = WindowsShellSystem(shell.startfile, shell.run, spool=tmp_path / "spool")
    result = printing.print_items(printing.select(pkg, ["service-description"]), None, "default", system=system)
    assert shell.calls == [(str(pkg_root / "service-description.pdf"), "print")]
    assert (result.system, result.printer, result.exit_code) == ("windows", None, 0)
    assert result.jobs[0].state == "sent" and result.jobs[0].job is None
    # A named printer: the "printto" verb; the terms page alone is cut into a copy first.
    result = printing.print_items(printing.select(pkg, ["terms"]), "Büro HP LaserJet", "flag", system=system)
    path, verb, arg = shell.calls[-1]
    assert (verb, arg) == ("printto", '"Büro HP LaserJet"')
    from pypdf import PdfReader

    copy = PdfReader(path)
    assert len(copy.pages) == 1 and pt.TERMS_MARKER in copy.pages[0].extract_text()
    with pytest.raises(NoSuchPrinterError):
        printing.print_items(printing.select(pkg, ["terms"]), "Nope", "flag", system=system)
    # A retry sends nothing twice here either.
    again = printing.print_items(printing.select(pkg, ["service-description"]), None, "default", system=system)
    assert again.jobs[0].sent is False and len(shell.calls) == 2


def test_windows_printer_list() -> None:
    from supportctl.package.winprint import WindowsShellSystem, parse_printers

    found = WindowsShellSystem(run=Shell(PRINTERS_JSON).run).printers()
    assert [(p.name, p.state, p.default) for p in found] == [
        ("Büro HP LaserJet", "stopped", False),
        ("Microsoft Print to PDF", "idle", True),
    ]
    assert [p.name for p in parse_printers('{"Name":"Only","Default":true}')] == ["Only"]
    assert parse_printers("") == []


# ---------------------------------------------------------------- start-up


PORTABILITY = ["platformdirs", "ctypes", "supportctl.locks", "supportctl.timelimit", "supportctl.package.printing"]


@pytest.mark.parametrize("args", [["--help"], ["eta", "--at", "2026-11-30T10:00+01:00", "--json"], ["config", "path"]])
def test_portability_layer_stays_off_the_start_up_path(args: list[str]) -> None:
    code = (
        "import sys, json\n"
        f"sys.argv = ['supportctl', *{args!r}]\n"
        "from supportctl.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"loaded = [m for m in {PORTABILITY!r} if m in sys.modules]\n"
        "sys.stderr.write('LOADED=' + json.dumps(loaded))\n"
    )
    import json

    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"}
    )
    assert json.loads(p.stderr.rsplit("LOADED=", 1)[1]) == [], p.stderr
