"""Printing: a package's documents or a filled form, sent to the print system, and what became of the jobs.

The print system is chosen once (`choose_system`): CUPS (`lp` to submit, IPP to ask the same server about
printers and jobs), a bare `lpr` (submit only), or Windows' shell print verb (see `winprint`). Every one is
plain code that the tests drive on Linux; only `choose_system` looks at the platform.

Nothing is printed twice on a retry: each submitted job is recorded (`$XDG_STATE_HOME/supportctl/
print-jobs.json`), and the same document (same bytes, same pages) to the same printer is not sent again
while its earlier job is queued or once it was printed, unless `again`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from supportctl import paths
from supportctl.errors import (
    ConfigError,
    ExitCode,
    NoSuchPrinterError,
    PrinterDisabledError,
    PrintSystemDownError,
    SupportctlError,
)
from supportctl.fsutil import atomic_write_text
from supportctl.i18n import _
from supportctl.package.manifest import Package

TIMEOUT = 60.0
DEFAULT_WAIT = 30.0
POLL = 0.25
JOURNAL_LIMIT = 500

FINAL = ("completed", "canceled", "aborted")
QUEUED = ("pending", "held", "processing", "stopped")


@dataclass(frozen=True)
class PrintItem:
    id: str
    file: Path
    pages: tuple[int, ...]  # empty: all pages

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "file": str(self.file), "pages": list(self.pages)}


@dataclass(frozen=True)
class Job:
    """One document's job: `sent` is False when an earlier job for it was found and nothing was sent."""

    item: PrintItem
    printer: str | None
    job: str | None  # the print system's id (CUPS: PRINTER-N); None where it gives none
    state: str  # sent | pending | held | processing | stopped | completed | canceled | aborted
    sent: bool = True
    command: str = ""
    message: str = ""
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.item.to_dict(),
            "printer": self.printer,
            "job": self.job,
            "state": self.state,
            "sent": self.sent,
            "command": self.command,
            "message": self.message,
        }

    def line(self) -> str:
        """The job in one line for the person: sent now, or found from before and not sent again."""
        from supportctl.output import format_iso

        if not self.sent and self.state == "completed":
            text = _("{file}: already printed as {job} ({when}); not sent again (--again prints another copy)")
        elif not self.sent:
            text = _("{file}: already sent as {job} ({state}); not sent again (--again prints another copy)")
        elif self.job:
            text = _("{file}: job {job} {state}")
        else:
            text = _("{file}: {state}")
        when = format_iso(self.at, None, "?")
        return text.format(file=self.item.file.name, job=self.job or "-", state=state_word(self.state), when=when)


@dataclass(frozen=True)
class PrinterInfo:
    name: str
    state: str  # idle | processing | stopped | unknown
    accepting: bool
    default: bool
    info: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "accepting": self.accepting,
            "default": self.default,
            "info": self.info,
            "message": self.message,
        }


@dataclass(frozen=True)
class PrintResult:
    system: str
    printer: str | None
    printer_source: str  # flag | env | file (print.printer) | PRINTER | LPDEST | default
    jobs: list[Job] = field(default_factory=list)
    waited: float = 0.0
    exit_code: ExitCode = ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "printer": self.printer,
            "printer_source": self.printer_source,
            "jobs": [j.to_dict() for j in self.jobs],
            "waited": round(self.waited, 2),
        }

    def lines(self) -> list[str]:
        """What `print` tells the person (stderr): the printer and print system, each job, and the jobs still
        queued when the wait ran out."""
        from supportctl.output import error_line

        if self.printer:
            where = _("Printing on {printer} ({source}) with {system}")
            lines = [where.format(printer=self.printer, source=source_words(self.printer_source), system=self.system)]
        else:
            lines = [_("Printing on the default printer with {system}").format(system=self.system)]
        lines += [j.line() for j in self.jobs]
        if self.exit_code:
            pending = [j.job or j.item.file.name for j in self.jobs if j.state in QUEUED]
            lines.append(
                error_line(
                    _("still queued after {n} s: {jobs}").format(n=round(self.waited), jobs=", ".join(pending)),
                    _("they print when the printer takes them; running print again does not send them twice"),
                )
            )
        return lines


# ---------------------------------------------------------------- what to print


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
            from supportctl.package.documents import unknown_document

            raise unknown_document(w, ["terms", *ids])
    return items


def items_for(pkg: Package, wanted: list[str], filled: Callable[[Path], PrintItem]) -> list[PrintItem]:
    """What `print` prints for its arguments, in their order: document ids (through `select`) and filled forms
    (`filled(path)`); no argument: every printable document."""
    if not wanted:
        return select(pkg, [])
    ids = [w for w in wanted if not is_file_argument(w)]
    by_id = iter(select(pkg, ids) if ids else ())
    return [filled(Path(w)) if is_file_argument(w) else next(by_id) for w in wanted]


def is_file_argument(arg: str) -> bool:
    """`print FILE.pdf` names a file; document ids never end in .pdf nor hold a path separator."""
    return arg.lower().endswith(".pdf") or "/" in arg or os.sep in arg


def filled_form(pkg: Package, path: Path, force: bool, canonical: bool = False) -> tuple[PrintItem, Any]:
    """A filled form to print, validated first: an invalid one raises `FormFindingsError` unless `force`.

    With `canonical` the item is the form's canonical copy (`pdfform.canonical_pdf`: the package's template
    re-filled with the validated values), written to the cache; an invalid form has none, even with `force`.
    Returns the item and the validation report (the CLI warns about findings printed with --force).
    """
    from supportctl.errors import InvalidInputError, os_reason
    from supportctl.form import pdfform, pdfutil

    try:
        with open(path, "rb") as fh:
            data = fh.read(pdfutil.MAX_PDF_BYTES + 1)
    except OSError as exc:
        raise InvalidInputError(
            _("cannot read {path}: {reason}").format(path=path, reason=os_reason(exc)),
            _("check the file name"),
        ) from None
    report = pdfform.validate_pdf(pkg, data, name=str(path))
    if not report.ok and (canonical or not force):
        err = pdfform.FormFindingsError(list(report.findings))
        err.hint = (
            _("an invalid form has no canonical copy; correct it (supportctl fill) and print it then")
            if canonical
            else _("correct the form (supportctl fill) and print it then, or print it as it is with --force")
        )
        raise err
    if canonical:
        copy = paths.cache_dir() / "print" / f"{path.stem}-canonical.pdf"
        pdfform.write_atomic(copy, pdfform.canonical_pdf(pkg, report))
        return PrintItem(path.name, copy, ()), report
    return PrintItem(path.name, path, ()), report


def reported_form(pkg: Package, path: Path, force: bool, canonical: bool, say: Callable[[str], None]) -> PrintItem:
    """`filled_form` for `print FILE.pdf`, telling the person (`say`) about its findings: each one when the form
    is refused, a warning when --force prints an invalid form anyway."""
    from supportctl.form.pdfform import FormFindingsError
    from supportctl.form.validation import finding_line
    from supportctl.package.documents import sanitize

    try:
        item, report = filled_form(pkg, path, force, canonical)
    except FormFindingsError as exc:
        for f in exc.findings:
            say("  " + sanitize(finding_line(f, label=False)))
        raise
    if not report.ok:
        say(
            _("warning: {path} is not valid ({n} problem(s)); printing it anyway (--force)").format(
                path=path, n=len(report.findings)
            )
        )
    return item


# ---------------------------------------------------------------- print systems


class PrintSystem(ABC):
    """What `print` needs from a print system. The base knows nothing: a system must submit; questions are optional."""

    name = "none"

    def default_printer(self) -> str | None:
        return None

    def printers(self) -> list[PrinterInfo]:
        return []

    def check(self, printer: str | None) -> None:  # noqa: B027 - optional: a system that cannot tell accepts
        """Raise the matching error when `printer` cannot take a job now (before anything is sent)."""

    @abstractmethod
    def submit(self, item: PrintItem, printer: str | None) -> Job:
        """Hand `item` to the print system; the job as far as it is known."""

    def status(self, job: Job) -> Job:
        """The job with its current state; a system that cannot tell returns it unchanged."""
        return job

    def server(self) -> str:
        return ""


def _run(cmd: list[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"  # lp's "request id is …" line is parsed: the C locale keeps it English
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def _by_hand(items: list[PrintItem]) -> str:
    return _("print these files by hand: {files}").format(files=", ".join(str(i.file) for i in items))


def _failure(item: PrintItem, done: subprocess.CompletedProcess[str]) -> str:
    reason = (done.stderr or done.stdout).strip().splitlines()
    return _("printing {path} failed: {reason}").format(
        path=item.file, reason=reason[-1] if reason else _("exit status {n}").format(n=done.returncode)
    )


class LprSystem(PrintSystem):
    """BSD `lpr` without CUPS around it: jobs are handed over; there is nobody to ask about them."""

    name = "lpr"

    def __init__(self, lpr: str) -> None:
        self.lpr = lpr

    def command(self, item: PrintItem, printer: str | None) -> list[str]:
        cmd = [self.lpr]
        if printer:
            cmd += ["-P", printer]
        cmd += ["-T", item.file.name]
        if item.pages:
            cmd += ["-o", "page-ranges=" + ",".join(str(p) for p in item.pages)]
        return [*cmd, str(item.file)]

    def submit(self, item: PrintItem, printer: str | None) -> Job:
        done = _run(self.command(item, printer))
        if done.returncode != 0:
            raise SupportctlError(_failure(item, done), _by_hand([item]))
        return Job(item, printer, None, "sent", command="lpr", message=done.stdout.strip())


_REQUEST_ID = re.compile(r"request id is (\S+-\d+)")


class CupsSystem(PrintSystem):
    """CUPS: `lp` submits (it applies the user's lpoptions and authenticates); IPP asks the same server."""

    name = "cups"

    def __init__(self, lp: str, lpstat: str | None) -> None:
        self.lp = lp
        self.lpstat = lpstat
        self._server: Any = None

    def server(self) -> str:
        return str(self._ipp_server())

    def _ipp_server(self) -> Any:
        from supportctl.package import ipp

        if self._server is None:
            text = ""
            if self.lpstat:
                try:
                    text = _run([self.lpstat, "-H"], timeout=10).stdout.strip()
                except (OSError, subprocess.TimeoutExpired):
                    text = ""
            self._server = ipp.Server.parse(text or os.environ.get("CUPS_SERVER") or "localhost:631")
        return self._server

    def _ask(self, fn: Callable[..., Any], *args: Any) -> Any:
        from supportctl.package import ipp

        server = self._ipp_server()
        try:
            return fn(server, *args)
        except ipp.Unreachable:
            raise PrintSystemDownError(
                _("the print system (CUPS) is not running at {server}").format(server=server),
                _("start it (e.g. `sudo systemctl start cups`) and run the command again; nothing was printed"),
            ) from None
        except ipp.IppError as exc:
            raise PrintSystemDownError(
                _("the print system (CUPS) at {server} did not answer properly: {reason}").format(
                    server=server, reason=exc
                ),
                _("check the print system and run the command again"),
            ) from None

    def default_printer(self) -> str | None:
        from supportctl.package import ipp

        name: str | None = self._ask(ipp.default_printer)
        return name

    def printers(self) -> list[PrinterInfo]:
        from supportctl.package import ipp

        default = self.default_printer()
        found: list[ipp.PrinterStatus] = self._ask(ipp.printers)
        return [PrinterInfo(p.name, p.state, p.accepting, p.name == default, p.info, p.message) for p in found]

    def check(self, printer: str | None) -> None:
        from supportctl.package import ipp

        assert printer is not None  # CUPS always gets a name: resolve_printer asks for the default
        status: ipp.PrinterStatus | None = self._ask(ipp.get_printer, printer)
        if status is None:
            raise NoSuchPrinterError(
                _("there is no printer {name!r}").format(name=printer),
                _("`supportctl print --list-printers` shows the printers; choose one with --printer"),
            )
        reason = f" ({status.message})" if status.message else ""
        if status.state == "stopped":
            raise PrinterDisabledError(
                _("printer {name!r} is disabled{reason}; nothing was printed").format(name=printer, reason=reason),
                _("enable it (`cupsenable {name}`) or choose another printer with --printer").format(name=printer),
            )
        if not status.accepting:
            raise PrinterDisabledError(
                _("printer {name!r} is not accepting jobs{reason}; nothing was printed").format(
                    name=printer, reason=reason
                ),
                _("let it accept jobs (`cupsaccept {name}`) or choose another printer with --printer").format(
                    name=printer
                ),
            )

    def command(self, item: PrintItem, printer: str | None) -> list[str]:
        cmd = [self.lp]
        if printer:
            cmd += ["-d", printer]
        cmd += ["-t", item.file.name]
        if item.pages:
            cmd += ["-o", "page-ranges=" + ",".join(str(p) for p in item.pages)]
        return [*cmd, "--", str(item.file)]

    def submit(self, item: PrintItem, printer: str | None) -> Job:
        done = _run(self.command(item, printer))
        if done.returncode != 0:
            raise SupportctlError(_failure(item, done), _by_hand([item]))
        m = _REQUEST_ID.search(done.stdout)
        return Job(item, printer, m.group(1) if m else None, "pending", command="lp", message=done.stdout.strip())

    def status(self, job: Job) -> Job:
        from supportctl.package import ipp

        if not job.job:
            return job
        number = int(job.job.rsplit("-", 1)[1])
        st: ipp.JobStatus | None = self._ask(ipp.job_status, number)
        if st is None:
            return job
        return replace(job, state=st.state, message=st.message or job.message)


def choose_system(platform: str | None = None, which: Callable[[str], str | None] = shutil.which) -> PrintSystem:
    """The print system of this machine: Windows' shell verb, else CUPS (lp), else lpr.

    `platform` and `which` are parameters so that every branch runs in the tests on any machine.
    """
    platform = sys.platform if platform is None else platform
    if platform == "win32":
        from supportctl.package.winprint import WindowsShellSystem

        return WindowsShellSystem()
    lp = which("lp")
    if lp:
        return CupsSystem(lp, which("lpstat"))
    lpr = which("lpr")
    if lpr:
        return LprSystem(lpr)
    raise SupportctlError(_("no print system found (neither lp nor lpr is installed)"))


def resolve_printer(
    configured: str | None, configured_source: str, system: PrintSystem, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The printer and where it came from: --printer / print.printer, then PRINTER, LPDEST, the system default."""
    env = os.environ if environ is None else environ
    if configured:
        return configured, configured_source
    for var in ("PRINTER", "LPDEST"):
        if env.get(var):
            return env[var], var
    if isinstance(system, CupsSystem):
        default = system.default_printer()
        if not default:
            raise ConfigError(
                _("no printer chosen and the print system has no default printer"),
                _("pass --printer NAME or set print.printer; `supportctl print --list-printers` shows the printers"),
            )
        return default, "default"
    return None, "default"  # lpr and Windows print to their own default when given no name


# ---------------------------------------------------------------- the journal: nothing printed twice


def journal_path() -> Path:
    return paths.state_dir() / "print-jobs.json"


def _journal() -> list[dict[str, Any]]:
    try:
        data = json.loads(journal_path().read_text("utf-8"))
    except (OSError, ValueError):
        return []
    jobs = data.get("jobs") if isinstance(data, dict) else None
    return [j for j in jobs if isinstance(j, dict)] if isinstance(jobs, list) else []


def _save_journal(records: list[dict[str, Any]]) -> None:
    body = json.dumps({"version": 1, "jobs": records[-JOURNAL_LIMIT:]}, ensure_ascii=False, indent=1)
    atomic_write_text(journal_path(), body, mode=0o600)


def _key(system: PrintSystem, printer: str | None, item: PrintItem) -> str:
    h = hashlib.sha256()
    with open(item.file, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    pages = ",".join(str(p) for p in item.pages)
    return f"{system.name}|{system.server()}|{printer or ''}|{h.hexdigest()}|{pages}"


def _earlier(records: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((r for r in reversed(records) if r.get("key") == key), None)


def _record(records: list[dict[str, Any]], key: str, job: Job) -> None:
    records[:] = [r for r in records if r.get("key") != key]
    records.append({"key": key, "job": job.job, "state": job.state, "file": str(job.item.file), "at": job.at})


# ---------------------------------------------------------------- the workflow


def print_items(
    items: list[PrintItem],
    configured: str | None = None,
    configured_source: str = "flag",
    *,
    wait: float = DEFAULT_WAIT,
    again: bool = False,
    system: PrintSystem | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PrintResult:
    """Send `items` to one printer and wait (at most `wait` seconds) until the print system has taken them.

    Checked before anything is sent: the files exist, the print system answers, the printer exists and is
    enabled and accepting. A document whose earlier job is still queued or was printed is not sent again
    (unless `again`). The result's exit code is `PRINT_QUEUED` when a job is still waiting at the end.
    """
    if system is None:
        try:
            system = choose_system()
        except SupportctlError as exc:
            raise SupportctlError(exc.message, _by_hand(items)) from None
    for item in items:
        if not item.file.is_file():
            raise SupportctlError(_("{path} does not exist").format(path=item.file), _("fetch the package again"))
    printer, source = resolve_printer(configured, configured_source, system)
    system.check(printer)
    records = _journal()
    jobs: list[Job] = []
    for n, item in enumerate(items):
        key = _key(system, printer, item)
        earlier = None if again else _earlier(records, key)
        if earlier is not None:
            old = Job(item, printer, earlier.get("job"), str(earlier.get("state", "sent")), sent=False)
            old = replace(old, at=str(earlier.get("at", "")))
            current = system.status(old)
            if current.state not in ("canceled", "aborted"):
                jobs.append(current)
                continue
        try:
            job = system.submit(item, printer)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SupportctlError(
                _("printing {path} failed: {reason}").format(path=item.file, reason=exc), _by_hand(items[n:])
            ) from None
        except SupportctlError as exc:
            if jobs:
                exc.hint = _by_hand(items[n:])
            raise
        job = replace(job, at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        jobs.append(job)
        _record(records, key, job)
        _save_journal(records)
    start = clock()
    if wait > 0:
        while True:
            jobs = [system.status(j) if j.state in QUEUED else j for j in jobs]
            for j in jobs:
                if j.sent:
                    _record(records, _key(system, printer, j.item), j)
            if not any(j.state in QUEUED for j in jobs) or clock() - start >= wait:
                break
            sleep(POLL)
        _save_journal(records)
    waited = clock() - start
    failed = [j for j in jobs if j.sent and j.state in ("canceled", "aborted")]
    if failed:
        j = failed[0]
        raise SupportctlError(
            _("print job {job} ({file}) was {state} by the print system{reason}").format(
                job=j.job,
                file=j.item.file.name,
                state=_state_word(j.state),
                reason=f": {j.message}" if j.message else "",
            ),
            _("check the printer and run the command again (what was printed is not printed again)"),
        )
    queued = wait > 0 and any(j.state in QUEUED for j in jobs)
    code = ExitCode.PRINT_QUEUED if queued else ExitCode.OK
    return PrintResult(system.name, printer, source, jobs, waited, code)


def _state_word(state: str) -> str:
    words = {
        "canceled": _("canceled"),
        "aborted": _("aborted"),
        "completed": _("printed"),
        "pending": _("queued"),
        "held": _("held"),
        "processing": _("printing"),
        "stopped": _("stopped"),
        "sent": _("sent"),
    }
    return words.get(state, state)


def source_words(source: str) -> str:
    """Where the printer was chosen (`PrintResult.printer_source`), as the person would set it."""
    where = {
        "flag": "--printer",
        "env": "SUPPORTCTL_PRINT_PRINTER",
        "file": _("print.printer in the config"),
        "default": _("the system default"),
    }
    return where.get(source, source)  # PRINTER, LPDEST: the variable's name


def state_word(state: str) -> str:
    """A job state in words, for the CLI (`completed` → printed)."""
    return _state_word(state)


@dataclass(frozen=True)
class Printers:
    """`print --list-printers`: the print system and its printers."""

    system: str
    printers: list[PrinterInfo]

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "printers": [p.to_dict() for p in self.printers]}

    def none_line(self) -> str:
        """Said instead of the table when the print system has no printer."""
        return _("no printers ({system})").format(system=self.system)

    def table(self) -> tuple[str, list[str], list[list[str]]]:
        """The printers for the person: the table's title, columns and rows (the default marked *)."""
        states = {"idle": _("idle"), "processing": _("printing"), "stopped": _("disabled"), "unknown": _("unknown")}
        rows = [
            [
                p.name + (" *" if p.default else ""),
                states.get(p.state, p.state),
                _("yes") if p.accepting else _("no"),
                p.info,
                p.message,
            ]
            for p in self.printers
        ]
        return (
            _("Printers ({system}; * = default)").format(system=self.system),
            [_("Printer"), _("State"), _("Accepting"), _("Description"), _("Message")],
            rows,
        )


def list_printers(system: PrintSystem | None = None) -> Printers:
    system = system or choose_system()
    return Printers(system.name, system.printers())
