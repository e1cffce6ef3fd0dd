"""Printing on Windows: the shell's print verb, as Explorer's "Print" does.

`os.startfile(path, "print")` hands the PDF to the program registered for printing PDFs (Edge, Acrobat,
SumatraPDF…) and the default printer; `"printto"` with a printer name prints to that printer. The shell
gives no job id, so a job is reported as `sent`. Pages (the terms page only) are cut into a copy first,
because the verb always prints the whole file. The printer list comes from PowerShell's `Get-Printer`.

The Windows calls are parameters (`startfile`, `run`), so the tests run all of this on Linux.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supportctl.errors import NoSuchPrinterError, PrintSystemDownError, SupportctlError
from supportctl.i18n import _
from supportctl.package.printing import Job, PrinterInfo, PrintItem, PrintSystem

_LIST = (
    "Get-CimInstance -ClassName Win32_Printer | "
    "Select-Object Name,Default,WorkOffline,PrinterStatus | ConvertTo-Json -Compress"
)


def _startfile(path: str, operation: str, arguments: str = "") -> None:  # pragma: no cover - Windows only
    startfile: Any = getattr(os, "startfile", None)
    if startfile is None:
        raise OSError("os.startfile exists only on Windows")
    if arguments:
        startfile(path, operation, arguments)
    else:
        startfile(path, operation)


def _powershell(script: str) -> str:  # pragma: no cover - Windows only
    done = subprocess.run(
        ["powershell", "-NoProfile", "-NonInteractive", "-Command", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(done.stderr.strip() or f"powershell exit status {done.returncode}")
    return done.stdout


def parse_printers(text: str) -> list[PrinterInfo]:
    """`Get-CimInstance Win32_Printer | ConvertTo-Json` (one object, or a list of them) as printers."""
    text = text.strip()
    if not text:
        return []
    data = json.loads(text)
    rows = data if isinstance(data, list) else [data]
    found = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("Name"), str):
            continue
        offline = bool(row.get("WorkOffline"))
        found.append(
            PrinterInfo(
                name=row["Name"],
                state="stopped" if offline else "idle",
                accepting=True,
                default=bool(row.get("Default")),
                message=_("offline") if offline else "",
            )
        )
    return sorted(found, key=lambda p: p.name.lower())


class WindowsShellSystem(PrintSystem):
    name = "windows"

    def __init__(
        self,
        startfile: Callable[..., None] = _startfile,
        run: Callable[[str], str] = _powershell,
        spool: Path | None = None,
    ) -> None:
        self.startfile = startfile
        self.run = run
        self.spool = spool

    def printers(self) -> list[PrinterInfo]:
        try:
            return parse_printers(self.run(_LIST))
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise PrintSystemDownError(
                _("cannot list the printers: {reason}").format(reason=exc),
                _("open Settings > Printers & scanners to see them"),
            ) from None

    def default_printer(self) -> str | None:
        return next((p.name for p in self.printers() if p.default), None)

    def check(self, printer: str | None) -> None:
        if printer is None:
            return
        names = [p.name for p in self.printers()]
        if printer not in names and printer.lower() not in (n.lower() for n in names):
            raise NoSuchPrinterError(
                _("there is no printer {name!r}").format(name=printer),
                _("`supportctl print --list-printers` shows the printers; choose one with --printer"),
            )

    def _pages_copy(self, item: PrintItem) -> Path:
        """A copy of just `item.pages` (the shell verb prints whole files)."""
        from pypdf import PdfReader, PdfWriter

        from supportctl import paths
        from supportctl.fsutil import atomic_write

        reader = PdfReader(item.file)
        writer = PdfWriter()
        for n in item.pages:
            writer.add_page(reader.pages[n - 1])
        import io

        buf = io.BytesIO()
        writer.write(buf)
        spool = self.spool or paths.cache_dir() / "print"
        target = spool / f"{item.file.stem}-pages-{'-'.join(str(p) for p in item.pages)}.pdf"
        atomic_write(target, buf.getvalue(), mode=0o600)
        return target

    def submit(self, item: PrintItem, printer: str | None) -> Job:
        path = self._pages_copy(item) if item.pages else item.file
        try:
            if printer:
                self.startfile(str(path), "printto", f'"{printer}"')
            else:
                self.startfile(str(path), "print")
        except OSError as exc:
            raise SupportctlError(
                _("printing {path} failed: {reason}").format(path=item.file, reason=exc.strerror or exc),
                _("no program is registered to print PDFs; open the file and print it from there"),
            ) from None
        verb = "printto" if printer else "print"
        return Job(item, printer, None, "sent", command=f"os.startfile({verb})")
