"""`heap.keep_freed_memory`: a process scanning mail after mail stops faulting in fresh pages for each one.

Run in a child process each, so that this test process's allocator keeps its defaults: the same 40 mails (each
with a 130 KB PDF, as a mail program attaches it) are scanned as a worker scans them, read from their files,
and the minor page faults per mail are counted, with glibc's defaults and with the memory kept. The children
import supportctl from a copy with its byte code written, as pip installs it: compiling modules from source
frees large buffers, which raises glibc's own mmap threshold, and a child importing from source (a clone run
under PYTHONDONTWRITEBYTECODE, as CI runs) would then keep the memory without being told.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supportctl.desk import heap

ROOT = Path(__file__).resolve().parent.parent

_SCAN = """
import json, os, resource, sys
from pathlib import Path
from supportctl.desk import triage
from supportctl.desk.heap import keep_freed_memory
from supportctl.desk.sources import FileBody

kept = keep_freed_memory() if sys.argv[2] == "keep" else None
limits = triage.Limits()
files = sorted(Path(sys.argv[1]).iterdir())
found = triage.scan_body(triage.scan_message(FileBody(files[0], limits.max_message_bytes)(), limits))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
shas = []
for f in files:
    kind, _reason, parts, _pdfs = triage.scan_body(triage.scan_message(FileBody(f, limits.max_message_bytes)(), limits))
    shas.append([kind, [sha for _n, _t, sha in parts]])
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / len(files)
print(json.dumps({"kept": kept, "faults": faults, "shas": shas}))
"""


def _installed(tmp_path: Path) -> Path:
    """A copy of the package with its byte code, where a child imports it as an installed one."""
    import compileall
    import shutil

    site = tmp_path / "site"
    shutil.copytree(ROOT / "supportctl", site / "supportctl", ignore=shutil.ignore_patterns("__pycache__"))
    assert compileall.compile_dir(site / "supportctl", quiet=1)
    return site


def _scan(folder: Path, mode: str, site: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(site))
    done = subprocess.run([sys.executable, "-c", _SCAN, str(folder), mode], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_kept_memory_spares_the_page_faults_and_changes_no_result(tmp_path: Path) -> None:
    from tests.inbox_corpus import message

    mails = tmp_path / "mails"
    mails.mkdir()
    for i in range(40):
        pdf = b"%PDF-1.7\n" + os.urandom(130_000) + b"\n%%EOF\n"
        (mails / f"{i:03d}.eml").write_bytes(message(pdf=pdf, msgid=f"<m{i}@example.org>"))
    site = _installed(tmp_path)
    default, kept = _scan(mails, "default", site), _scan(mails, "keep", site)
    if kept["kept"] is not True:
        pytest.skip("no glibc mallopt here (musl)")
    assert kept["shas"] == default["shas"]  # the same files found, the same PDFs
    assert all(kind == "pdf" and len(shas) == 1 and shas[0] for kind, shas in kept["shas"])  # each mail's PDF
    if default["faults"] < 5:
        pytest.skip(f"this allocator keeps the memory by itself ({default['faults']:.1f} faults a mail)")
    assert kept["faults"] < default["faults"] / 4, (default, kept)
    assert kept["faults"] < 10


def test_does_nothing_where_there_is_no_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert heap.keep_freed_memory() is False
    monkeypatch.setattr(sys, "platform", "linux")

    def no_mallopt(_name: object) -> object:
        raise OSError("no C library")

    import ctypes

    monkeypatch.setattr(ctypes, "CDLL", no_mallopt)
    assert heap.keep_freed_memory() is False
