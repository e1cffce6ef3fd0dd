"""`print` against a real CUPS: a private cupsd with cups-pdf queues; what comes out is read back.

Page counts come from `pdfinfo` and text from `pdftotext` (poppler), run on the PDFs cups-pdf wrote after
the job went through CUPS' filters (pdftopdf, pdftops) and Ghostscript.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl.errors import ExitCode
from supportctl.package import ipp
from tests import formkit
from tests import pkgtools as pt
from tests.cupsserver import CupsServer, unavailable

# Resolved once: some tests narrow PATH to choose the print command.
TOOLS = {t: shutil.which(t) or t for t in ("pdfinfo", "pdftotext", "pdftoppm")}


@pytest.fixture(scope="module")
def server() -> Iterator[CupsServer]:
    why = unavailable() or (None if shutil.which("pdftotext") else "poppler-utils is not installed")
    if why:
        pytest.skip(why)
    s = CupsServer().start()
    yield s
    s.cleanup()


@pytest.fixture
def cups(server: CupsServer, monkeypatch: pytest.MonkeyPatch) -> CupsServer:
    monkeypatch.setenv("CUPS_SERVER", server.address)
    for var in ("PRINTER", "LPDEST"):
        monkeypatch.delenv(var, raising=False)
    return server


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pt.make_package(tmp_path_factory.mktemp("print") / "pkg")


def pages(pdf: Path) -> int:
    info = subprocess.run([TOOLS["pdfinfo"], str(pdf)], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^Pages:\s+(\d+)", info, re.M)
    assert m, info
    return int(m.group(1))


def text(pdf: Path) -> str:
    return subprocess.run([TOOLS["pdftotext"], str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def jobs_on(server: CupsServer, printer: str) -> list[str]:
    env = {**os.environ, "CUPS_SERVER": server.address, "LC_ALL": "C"}
    out = subprocess.run(["lpstat", "-W", "all", "-o", printer], capture_output=True, text=True, env=env).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


# ---------------------------------------------------------------- documents of the package


def test_package_documents_come_out_of_the_printer(cli: Any, cups: CupsServer, pkg: Path) -> None:
    r = cli("print", "--package", str(pkg), "--printer", "PDF", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["system"] == "cups" and data["printer"] == "PDF" and data["printer_source"] == "flag"
    jobs = data["jobs"]
    assert [j["id"] for j in jobs] == ["service-description", "registration-form"]
    assert all(j["state"] == "completed" and j["sent"] and re.fullmatch(r"PDF-\d+", j["job"]) for j in jobs)
    service, form = (cups.output(j["job"]) for j in jobs)
    assert pages(service) == 1 and pt.SERVICE_MARKER in text(service)
    assert pages(form) == 2 and "Registration form" in text(form) and pt.TERMS_MARKER in text(form)
    assert "Printing on PDF (--printer) with cups" in r.stderr
    assert f"service-description.pdf: job {jobs[0]['job']} printed" in r.stderr


def test_terms_prints_only_the_terms_page(cli: Any, cups: CupsServer, pkg: Path) -> None:
    r = cli("print", "terms", "--package", str(pkg), "--json")
    assert r.exit_code == 0, r.stderr
    (job,) = r.json()["data"]["jobs"]
    out = cups.output(job["job"])
    assert pages(out) == 1
    assert pt.TERMS_MARKER in text(out) and "Registration form" not in text(out)


def test_the_system_default_printer_when_nothing_is_chosen(cli: Any, cups: CupsServer, pkg: Path) -> None:
    r = cli("print", "service-description", "--package", str(pkg), "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert (data["printer"], data["printer_source"]) == ("PDF", "default")


@pytest.mark.parametrize(
    ("env", "config", "expected"),
    [
        ({"PRINTER": "Paused", "LPDEST": "PDF"}, None, "Paused"),  # PRINTER before LPDEST
        ({"LPDEST": "Closed"}, None, "Closed"),
        ({"PRINTER": "PDF"}, "Paused", "Paused"),  # the config before PRINTER
    ],
)
def test_printer_precedence(
    cli: Any,
    cups: CupsServer,
    pkg: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated: Path,
    env: dict[str, str],
    config: str | None,
    expected: str,
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if config:
        cfg = isolated / ".config" / "supportctl" / "config.toml"
        cfg.parent.mkdir(parents=True)
        cfg.write_text(f'[print]\nprinter = "{config}"\n')
    r = cli("print", "service-description", "--package", str(pkg))
    # Paused and Closed refuse: which one refused shows which printer was chosen.
    assert r.exit_code == ExitCode.PRINTER_DISABLED
    assert f"printer {expected!r}" in r.stderr


# ---------------------------------------------------------------- failures: one line, own exit code


def test_unknown_printer(cli: Any, cups: CupsServer, pkg: Path) -> None:
    before = cups.outputs()
    r = cli("print", "--package", str(pkg), "--printer", "Nope", "--json")
    assert r.exit_code == ExitCode.NO_SUCH_PRINTER
    assert r.json()["errors"][0]["code"] == "no-such-printer"
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: there is no printer 'Nope' (`supportctl print --list-printers` shows the printers; "
        "choose one with --printer)"
    ]
    assert cups.outputs() == before


@pytest.mark.parametrize(("printer", "words"), [("Paused", "is disabled"), ("Closed", "is not accepting jobs")])
def test_disabled_queue_gets_nothing(cli: Any, cups: CupsServer, pkg: Path, printer: str, words: str) -> None:
    r = cli("print", "--package", str(pkg), "--printer", printer)
    assert r.exit_code == ExitCode.PRINTER_DISABLED
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: printer {printer!r} {words}") and "nothing was printed" in line
    assert jobs_on(cups, printer) == []  # nothing waits there to come out later


def test_stopped_scheduler(cli: Any, server: CupsServer, pkg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = CupsServer().start()
    try:
        monkeypatch.setenv("CUPS_SERVER", s.address)
        s.stop()
        r = cli("print", "--package", str(pkg), "--printer", "PDF")
    finally:
        s.cleanup()
    assert r.exit_code == ExitCode.PRINT_SYSTEM_DOWN
    assert r.stderr.count("error:") == 1 and "Traceback" not in r.stderr
    assert f"the print system (CUPS) is not running at {s.address}" in r.stderr


def test_still_queued_is_reported_and_not_sent_twice(cli: Any, cups: CupsServer, pkg: Path) -> None:
    r = cli("print", "terms", "--package", str(pkg), "--printer", "Held", "--wait", "0.5", "--json")
    assert r.exit_code == ExitCode.PRINT_QUEUED, r.stderr
    (job,) = r.json()["data"]["jobs"]
    assert job["state"] == "held" and job["sent"] is True
    assert "still queued after" in r.stderr and job["job"] in r.stderr
    again = cli("print", "terms", "--package", str(pkg), "--printer", "Held", "--wait", "0.5", "--json")
    assert again.exit_code == ExitCode.PRINT_QUEUED
    (same,) = again.json()["data"]["jobs"]
    assert same["job"] == job["job"] and same["sent"] is False
    assert jobs_on(cups, "Held").count(job["job"]) == 1 and len(jobs_on(cups, "Held")) == 1
    env = {**os.environ, "CUPS_SERVER": cups.address}
    subprocess.run(["cancel", "-a", "Held"], env=env, check=True)
    # Its job was canceled: a retry sends it again.
    third = cli("print", "terms", "--package", str(pkg), "--printer", "Held", "--wait", "0", "--json")
    assert third.exit_code == 0
    assert third.json()["data"]["jobs"][0]["sent"] is True and third.json()["data"]["jobs"][0]["job"] != job["job"]
    subprocess.run(["cancel", "-a", "Held"], env=env, check=True)


def test_retry_after_success_prints_nothing_twice(cli: Any, cups: CupsServer, pkg: Path, tmp_path: Path) -> None:
    own = pt.make_package(tmp_path / "own", service_extra="\nretry")
    first = cli("print", "service-description", "--package", str(own), "--json")
    assert first.exit_code == 0, first.stderr
    before = cups.outputs()
    second = cli("print", "service-description", "--package", str(own), "--json")
    assert second.exit_code == 0
    (job,) = second.json()["data"]["jobs"]
    assert job["sent"] is False and job["job"] == first.json()["data"]["jobs"][0]["job"]
    assert "already printed as" in second.stderr and "--again" in second.stderr
    assert not re.search(r"\d\dT\d\d:\d\d|\+00:00", second.stderr), second.stderr  # a time as people read it
    assert cups.outputs() == before
    third = cli("print", "service-description", "--package", str(own), "--again", "--json")
    (new,) = third.json()["data"]["jobs"]
    assert new["sent"] is True and new["job"] != job["job"]
    assert "retry" in text(cups.output(new["job"]))


# ---------------------------------------------------------------- a filled form


def ink(pdf: Path, rect: tuple[float, ...], tmp: Path) -> int:
    """Dark pixels inside `rect` (PDF points, origin bottom left) of page 1, rendered by pdftoppm at 72 dpi."""
    base = tmp / f"ink-{pdf.stem}"
    subprocess.run([TOOLS["pdftoppm"], "-gray", "-r", "72", "-f", "1", "-l", "1", str(pdf), str(base)], check=True)
    (pgm,) = tmp.glob(f"{base.name}*.pgm")
    raw = pgm.read_bytes()
    pgm.unlink()
    # P5 header: magic, width, height, maxval, then one byte per pixel.
    head = raw.split(maxsplit=4)
    width, height = int(head[1]), int(head[2])
    pixels = head[4]
    x0, y0, x1, y1 = (round(v) for v in rect)
    return sum(1 for y in range(height - y1, height - y0) for x in range(x0 + 2, x1 - 2) if pixels[y * width + x] < 128)


def test_print_a_filled_form(cli: Any, cups: CupsServer, tmp_path: Path) -> None:
    """The printout shows the values: the field boxes carry ink that the blank form's printout does not.

    (The text of the values cannot be read back: CUPS' pdftops turns the fields' subset fonts into Type 3
    fonts without a usable text mapping, so the test looks at the rendered pages instead.)
    """
    from pypdf import PdfReader

    from supportctl.form import pdfform

    filled = tmp_path / "registration-form-filled.pdf"
    filled.write_bytes(pdfform.fill_pdf(formkit.pkg(), formkit.GOOD))
    r = cli("print", str(filled), "--package", str(formkit.package_root()), "--json")
    assert r.exit_code == 0, r.stderr
    (job,) = r.json()["data"]["jobs"]
    assert job["file"] == str(filled) and job["state"] == "completed"
    out = cups.output(job["job"])
    assert pages(out) == pages(filled)
    blank = cli("print", "registration-form", "--package", str(formkit.package_root()), "--again", "--json")
    blank_out = cups.output(blank.json()["data"]["jobs"][0]["job"])
    rects = {
        a.get_object()["/T"]: tuple(float(v) for v in a.get_object()["/Rect"])
        for a in PdfReader(filled).pages[0]["/Annots"]
        if a.get_object().get("/T") in ("membership_id", "company", "city", "email")
    }
    assert len(rects) == 4
    for name, rect in rects.items():
        assert ink(out, rect, tmp_path) > ink(blank_out, rect, tmp_path) + 20, name


def test_an_invalid_form_is_refused_with_its_findings(cli: Any, cups: CupsServer, tmp_path: Path) -> None:
    from supportctl.form import pdfform

    bad = tmp_path / "bad.pdf"

    def break_email(writer: Any) -> None:
        from pypdf.generic import NameObject, TextStringObject

        formkit.field_obj(writer, "email")[NameObject("/V")] = TextStringObject("lukasz at example")

    bad.write_bytes(formkit.rewrite(pdfform.fill_pdf(formkit.pkg(), formkit.GOOD), break_email))
    before = cups.outputs()
    r = cli("print", str(bad), "--package", str(formkit.package_root()))
    assert r.exit_code == ExitCode.FORM_INVALID
    assert '"email"' in r.stderr and "--force" in r.stderr and "Traceback" not in r.stderr
    assert cups.outputs() == before
    forced = cli("print", str(bad), "--package", str(formkit.package_root()), "--force", "--json")
    assert forced.exit_code == 0, forced.stderr
    assert "printing it anyway (--force)" in forced.stderr
    assert forced.json()["data"]["jobs"][0]["state"] == "completed"
    no_copy = cli("print", str(bad), "--canonical", "--force", "--package", str(formkit.package_root()))
    assert no_copy.exit_code == ExitCode.FORM_INVALID and "no canonical copy" in no_copy.stderr


def test_print_the_canonical_copy(cli: Any, cups: CupsServer, tmp_path: Path, isolated: Path) -> None:
    from supportctl.form import pdfform

    # The applicant's form as another program saved it (pypdf rewrites the whole file).
    filled = tmp_path / "resaved.pdf"
    filled.write_bytes(formkit.rewrite(pdfform.fill_pdf(formkit.pkg(), formkit.GOOD), lambda w: None))
    r = cli("print", "--canonical", str(filled), "--package", str(formkit.package_root()), "--json")
    assert r.exit_code == 0, r.stderr
    (job,) = r.json()["data"]["jobs"]
    copy = Path(job["file"])
    assert copy == isolated / ".cache" / "supportctl" / "print" / "resaved-canonical.pdf"
    report = pdfform.validate_pdf(formkit.pkg(), filled.read_bytes())
    assert copy.read_bytes() == pdfform.canonical_pdf(formkit.pkg(), report) != filled.read_bytes()
    assert job["state"] == "completed" and pages(cups.output(job["job"])) == 2
    bad = cli("print", "--canonical", "terms", "--package", str(formkit.package_root()))
    assert bad.exit_code == ExitCode.USAGE and "--canonical goes with a filled form" in bad.stderr


def test_a_file_that_is_not_a_pdf(cli: Any, cups: CupsServer, tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_text("not a pdf")
    r = cli("print", "notes.pdf", "--package", str(formkit.package_root()))
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert r.stderr.count("error:") == 1


# ---------------------------------------------------------------- listing, lpr, no print system


def test_list_printers(cli: Any, cups: CupsServer) -> None:
    r = cli("print", "--list-printers", "--json")
    assert r.exit_code == 0, r.stderr
    found = {p["name"]: p for p in r.json()["data"]["printers"]}
    assert set(found) == {"PDF", "Paused", "Closed", "Held"}
    assert found["PDF"]["default"] is True and found["PDF"]["state"] in ("idle", "processing")
    assert found["Paused"]["state"] == "stopped" and found["Closed"]["accepting"] is False
    plain = cli("print", "--list-printers")
    rows = {line.split("\t")[0]: line.split("\t") for line in plain.stdout.splitlines()}
    assert rows["PDF *"][1:3] == ["idle", "yes"] and rows["Paused"][1] == "disabled" and rows["Closed"][2] == "no"


def test_lpr_when_there_is_no_lp(
    cli: Any, cups: CupsServer, pkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only `lpr` on PATH (the real one, from cups-bsd): the job is handed over and comes out."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    lpr = shutil.which("lpr")
    if lpr is None:
        pytest.skip("lpr (cups-bsd) is not installed")
    (bindir / "lpr").symlink_to(lpr)
    monkeypatch.setenv("PATH", str(bindir))
    before = set(cups.outputs())
    r = cli("print", "terms", "--package", str(pkg), "--printer", "PDF", "--json")
    assert r.exit_code == 0, r.stderr
    (job,) = r.json()["data"]["jobs"]
    assert r.json()["data"]["system"] == "lpr" and job["state"] == "sent" and job["job"] is None
    import time

    deadline = time.monotonic() + 30
    while not set(cups.outputs()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    (out,) = set(cups.outputs()) - before
    cups.output("PDF-" + out.name.split("_")[1].split("-")[0])  # complete
    assert pages(out) == 1 and pt.TERMS_MARKER in text(out)


def test_no_print_system_names_the_files(cli: Any, pkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = cli("print", "--package", str(pkg))
    assert r.exit_code == ExitCode.ERROR
    line = r.stderr.strip().splitlines()[-1]
    assert "no print system" in line
    assert str(pkg / "service-description.pdf") in line and str(pkg / "registration-form.pdf") in line


def test_fetch_print_without_a_print_system_reports_both_outcomes(
    cli: Any, pkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, item 15: the fetch worked; only the printing did not, and both are said."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    dest = tmp_path / "registration-package"
    r = cli("fetch", str(pkg), "--print")
    assert r.exit_code == ExitCode.ERROR
    assert f"Fetched package supportctl-default 2026.11 into {dest}" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: no print system found")
    assert (dest / "registration-form.pdf").is_file()
    r = cli("fetch", str(pkg), "--print", "--json")
    body = r.json()
    assert r.exit_code == ExitCode.ERROR and body["ok"] is False
    assert body["data"]["dest"] == str(dest) and body["data"]["printed"] == []
    assert body["errors"][0]["message"] == "no print system found (neither lp nor lpr is installed)"
    assert body["data"]["bytes"] == sum(f.stat().st_size for f in dest.iterdir() if not f.name.startswith("."))


def test_fetch_print_with_the_scheduler_down_keeps_print_exit_code(
    cli: Any, pkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit: the README said a failed print after a good fetch is exit 1; it is print's own code (12 here),
    which says what to fix, with the fetched package in `data`."""
    import socket

    if shutil.which("lp") is None:
        pytest.skip("no CUPS client (lp) installed")
    with socket.socket() as s:  # a loopback port nobody listens on: the scheduler is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CUPS_SERVER", f"127.0.0.1:{port}")
    r = cli("fetch", str(pkg), "--print", "--json")
    body = r.json()
    assert r.exit_code == ExitCode.PRINT_SYSTEM_DOWN
    assert body["ok"] is False and body["errors"][0]["code"] == "print-system-down"
    assert body["data"]["dest"] == str(tmp_path / "registration-package") and body["data"]["printed"] == []


def test_fetch_print(cli: Any, cups: CupsServer, pkg: Path, tmp_path: Path) -> None:
    r = cli("fetch", str(pkg), "--print", "--json")
    assert r.exit_code == 0, r.stderr
    printed = r.json()["data"]["printed"]
    assert [p["id"] for p in printed] == ["service-description", "registration-form"]
    out = cups.output(printed[1]["job"])
    assert pages(out) == 2 and pt.TERMS_MARKER in text(out)


# ---------------------------------------------------------------- the IPP reader


def test_ipp_reply_round_trip() -> None:
    reply = ipp.decode(
        bytes.fromhex("0200 0000 00000001".replace(" ", ""))
        + b"\x04"
        + b"\x42\x00\x0cprinter-name\x00\x03PDF"
        + b"\x23\x00\x0dprinter-state\x00\x04\x00\x00\x00\x05"
        + b"\x44\x00\x15printer-state-reasons\x00\x04none\x44\x00\x00\x00\x06paused"
        + b"\x03"
    )
    (group,) = reply.group(0x04)
    assert group == {"printer-name": ["PDF"], "printer-state": [5], "printer-state-reasons": ["none", "paused"]}


@given(st.binary(max_size=300))
def test_ipp_decode_never_raises_anything_else(data: bytes) -> None:
    try:
        ipp.decode(data)
    except ipp.IppError:
        pass


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/run/cups/cups.sock", ipp.Server("localhost", 631, "/run/cups/cups.sock")),
        ("localhost:631", ipp.Server("localhost", 631)),
        ("printhost", ipp.Server("printhost", 631)),
        ("[::1]:8631", ipp.Server("::1", 8631)),
        ("127.0.0.1:41234", ipp.Server("127.0.0.1", 41234)),
    ],
)
def test_server_address(text: str, expected: ipp.Server) -> None:
    assert ipp.Server.parse(text) == expected


def test_journal_is_private(cli: Any, cups: CupsServer, pkg: Path, isolated: Path) -> None:
    r = cli("print", "terms", "--package", str(pkg), "--again")
    assert r.exit_code == 0, r.stderr
    journal = isolated / ".local" / "state" / "supportctl" / "print-jobs.json"
    assert journal.stat().st_mode & 0o777 == 0o600
    (record,) = json.loads(journal.read_text())["jobs"]
    assert record["state"] == "completed" and record["job"].startswith("PDF-")
