"""Send a package's printable documents to the print system: CUPS `lp`, else BSD/CUPS `lpr`.

Without a print system the error names the files, so they can be printed by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportctl.errors import SupportctlError, UsageError
from supportctl.i18n import _
from supportctl.package.manifest import Package

TIMEOUT = 60.0


@dataclass(frozen=True)
class PrintItem:
    id: str
    file: Path
    pages: tuple[int, ...]  # empty: all pages

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "file": str(self.file), "pages": list(self.pages)}


@dataclass(frozen=True)
class PrintJob:
    item: PrintItem
    command: str
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.item.to_dict(), "command": self.command, "output": self.output}


def select(pkg: Package, wanted: list[str]) -> list[PrintItem]:
    """The documents to print: the given ids (`terms` = the terms pages), else every `print = true` document."""
    if not wanted:
        return [PrintItem(d.id, pkg.root / d.file, ()) for d in pkg.documents if d.print]
    items = []
    ids = [d.id for d in pkg.documents]
    for w in wanted:
        if w == "terms":
            items.append(PrintItem("terms", pkg.root / pkg.document(pkg.terms_document).file, pkg.terms_pages))
        elif w in ids:
            items.append(PrintItem(w, pkg.root / pkg.document(w).file, ()))
        else:
            raise UsageError(
                _("the package has no document {id!r}").format(id=w),
                _("choose one of: {ids}").format(ids=", ".join(["terms", *ids])),
            )
    return items


def _by_hand(items: list[PrintItem]) -> str:
    return _("print these files by hand: {files}").format(files=", ".join(str(i.file) for i in items))


def command_for(item: PrintItem, printer: str | None) -> list[str]:
    """The lp (or lpr) command line for one document; raises when there is no print system."""
    # CUPS' lp, else BSD lpr: the same job with each one's flags (printer, title, end of options).
    for name, printer_flag, title_flag, end in (("lp", "-d", "-t", ["--"]), ("lpr", "-P", "-T", [])):
        exe = shutil.which(name)
        if not exe:
            continue
        cmd = [exe]
        if printer:
            cmd += [printer_flag, printer]
        cmd += [title_flag, item.file.name]
        if item.pages:
            cmd += ["-o", "page-ranges=" + ",".join(str(p) for p in item.pages)]
        return [*cmd, *end, str(item.file)]
    raise SupportctlError(_("no print system found (neither lp nor lpr is installed)"), _by_hand([item]))


def print_documents(items: list[PrintItem], printer: str | None) -> list[PrintJob]:
    if not (shutil.which("lp") or shutil.which("lpr")):
        raise SupportctlError(_("no print system found (neither lp nor lpr is installed)"), _by_hand(items))
    jobs = []
    for n, item in enumerate(items):
        if not item.file.is_file():
            raise SupportctlError(_("{path} does not exist").format(path=item.file), _("fetch the package again"))
        cmd = command_for(item, printer)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SupportctlError(
                _("printing {path} failed: {reason}").format(path=item.file, reason=exc), _by_hand(items[n:])
            ) from None
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise SupportctlError(
                _("printing {path} failed: {reason}").format(
                    path=item.file, reason=reason[-1] if reason else _("exit status {n}").format(n=done.returncode)
                ),
                _by_hand(items[n:]),
            )
        jobs.append(PrintJob(item, Path(cmd[0]).name, done.stdout.strip()))
    return jobs
