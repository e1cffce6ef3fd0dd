"""A private CUPS scheduler for the print tests: its own configuration, spool and port; cups-pdf queues.

`CupsServer.start()` writes a cupsd configuration into a fresh directory, starts `cupsd -f` on a free
loopback port and waits until it answers; `stop()` ends that process by its PID. Clients find it through
`CUPS_SERVER`. The system's cupsd (if any) and its files are never touched.

cups-pdf reads `/etc/cups/cups-pdf.conf` and then the queue's PPD; the PPD here points its output, spool
and log at *relative* directories, which cups-pdf resolves against the backend's working directory, i.e.
cupsd's, i.e. our temporary directory (a PPD default cannot hold a `/`). Four queues:
`PDF` (the default), `Paused` (disabled), `Closed` (not accepting jobs) and `Held` (holds every job, so
it stays queued).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CUPSD = shutil.which("cupsd") or ("/usr/sbin/cupsd" if os.path.exists("/usr/sbin/cupsd") else None)
CUPS_PDF = Path("/usr/lib/cups/backend/cups-pdf")
PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_noopt.ppd")


def unavailable() -> str | None:
    """Why a private cupsd with a cups-pdf queue cannot run here, or None."""
    if CUPSD is None or not shutil.which("lp"):
        return "CUPS is not installed (apt-get install cups cups-bsd cups-pdf)"
    if not CUPS_PDF.exists() or not PPD.exists():
        return "cups-pdf is not installed (apt-get install printer-driver-cups-pdf)"
    if os.geteuid() != 0:
        return "the cups-pdf backend runs only as root (mode 0700); CI runs as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_CUPS_PDF_SETTINGS = {
    "Out": "out",
    "Spool": "cpspool",
    "Log": "cplog",
    "AnonDirName": "anon",
    "Label": "1",  # output files are job_<id>-<title>.pdf
    "TitlePref": "1",
    "LogType": "7",
}


class CupsServer:
    def __init__(self) -> None:
        # Short path without "_": cups-pdf limits and rewrites some characters in names.
        self.root = Path(tempfile.mkdtemp(prefix="cups", dir="/tmp"))
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def _configure(self) -> None:
        r = self.root
        os.chmod(r, 0o755)  # filters run as lp and must reach the spool
        for d in (
            "ppd",
            "cache",
            "state",
            "log",
            *(_CUPS_PDF_SETTINGS[k] for k in ("Out", "Spool", "Log", "AnonDirName")),
        ):
            (r / d).mkdir()
        for d, mode in (("spool", 0o710), ("tmp", 0o1770)):
            (r / d).mkdir()
            shutil.chown(r / d, group="lp")
            os.chmod(r / d, mode)
        (r / "cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.port}\n"
            "LogLevel debug\nBrowsing No\nBrowseLocalProtocols none\nDefaultAuthType None\nWebInterface No\n"
            "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
        )
        (r / "cups-files.conf").write_text(
            f"ServerRoot {r}\nRequestRoot {r}/spool\nTempDir {r}/tmp\nCacheDir {r}/cache\nStateDir {r}/state\n"
            f"AccessLog {r}/log/access_log\nErrorLog {r}/log/error_log\nPageLog {r}/log/page_log\n"
            f"Printcap {r}/printcap\nSystemGroup root\n"
        )
        queues = ""
        for name, state, accepting, default in (
            ("PDF", "Idle", "Yes", True),
            ("Paused", "Stopped", "Yes", False),
            ("Closed", "Idle", "No", False),
            ("Held", "Idle", "Yes", False),
        ):
            tag = "DefaultPrinter" if default else "Printer"
            queues += (
                f"<{tag} {name}>\nInfo cups-pdf {name}\nDeviceURI cups-pdf:/\nState {state}\n"
                f"Accepting {accepting}\nShared No\nJobSheets none none\nOpPolicy default\n"
                f"ErrorPolicy abort-job\n"
                + ("Option job-hold-until indefinite\n" if name == "Held" else "")
                + f"</{tag}>\n"
            )
        (r / "printers.conf").write_text(queues)
        ppd = PPD.read_text("latin-1")
        for key, value in _CUPS_PDF_SETTINGS.items():
            ppd += (
                f'*OpenUI *{key}/{key}: PickOne\n*Default{key}: {value}\n*{key} {value}/{value}: ""\n*CloseUI: *{key}\n'
            )
        for name in ("PDF", "Paused", "Closed", "Held"):
            (r / "ppd" / f"{name}.ppd").write_text(ppd, "latin-1")

    def start(self) -> CupsServer:
        assert CUPSD is not None
        self._configure()
        self.proc = subprocess.Popen(
            [CUPSD, "-f", "-c", str(self.root / "cupsd.conf"), "-s", str(self.root / "cups-files.conf")],
            cwd=self.root,  # cups-pdf's relative directories resolve here
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cupsd exited with {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("cupsd did not start listening within 20 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.root / "log" / "error_log").read_text(errors="replace")
        except OSError:
            return ""

    def output(self, job: str, timeout: float = 30) -> Path:
        """The PDF cups-pdf wrote for job `PRINTER-N` (waits for it to be complete)."""
        number = job.rsplit("-", 1)[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = sorted(self.out.glob(f"job_{number}-*.pdf"))
            if found and found[0].stat().st_size > 0:
                size = found[0].stat().st_size
                time.sleep(0.1)
                if found[0].stat().st_size == size:
                    return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no output for job {job} in {self.out}: {os.listdir(self.out)}\n{self.log()[-3000:]}")

    def outputs(self) -> list[Path]:
        return sorted(self.out.glob("*.pdf"))
