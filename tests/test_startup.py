"""Start-up measures of the entry point (`supportctl.__main__`): deferred standard-library modules, the collector.

The figures are in `benchmarks/bench_eta.py`; these tests check that the measures take effect and change nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Runs the entry point in a fresh interpreter, then reports on the deferred modules and the collector; then uses
# every deferred module (from several threads at once) and reports again.
PROBE = """
import gc, json, sys, threading
sys.argv = ["supportctl", *ARGS]
from supportctl.__main__ import DEFERRED, main
try:
    main()
except SystemExit:
    pass
def state():
    return {m: type(sys.modules[m]).__name__ if m in sys.modules else None for m in sorted(DEFERRED)}
before = state()
results, barrier = [], threading.Barrier(4)
def use():
    barrier.wait()
    import bz2, ipaddress, linecache, lzma, subprocess, token, tokenize
    from subprocess import PIPE
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], stdout=PIPE, check=True).stdout
    results.append([
        out.decode().strip(),
        lzma.decompress(lzma.compress(b"x" * 100)) == b"x" * 100,
        bz2.decompress(bz2.compress(b"y")) == b"y",
        str(ipaddress.ip_address("::1")),
        linecache.getline(threading.__file__, 1) != "",
        token.tok_name[token.NAME],
        tokenize.TokenInfo.__name__,
    ])
threads = [threading.Thread(target=use) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
import traceback
try:
    json.loads("{")
except ValueError:
    tb = traceback.format_exc()
sys.stderr.write("PROBE=" + json.dumps({
    "before": before, "after": state(), "gc": gc.isenabled(), "results": results,
    "source_in_traceback": "raise JSONDecodeError" in tb or "obj, end = self.scan_once" in tb,
}))
"""


def probe(args: list[str]) -> dict[str, object]:
    code = PROBE.replace("ARGS", repr(args))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "PROBE=" in p.stderr, p.stderr
    report: dict[str, object] = json.loads(p.stderr.rsplit("PROBE=", 1)[1])
    return report


@pytest.mark.parametrize("args", [["--help"], ["eta", "--at", "2026-11-30T10:00+01:00", "--json"]])
def test_deferred_modules_load_on_first_use_and_work(args: list[str]) -> None:
    report = probe(args)
    names = ["bz2", "ipaddress", "linecache", "lzma", "subprocess", "token", "tokenize"]
    # Imported (by Click, Typer, shutil, pathlib, inspect) but not run: the start-up did not pay for them.
    assert report["before"] == dict.fromkeys(names, "_Deferred")
    # Used from four threads at once: each loaded once, whole, and behaving as usual.
    assert report["after"] == dict.fromkeys(names, "module")
    assert report["results"] == [["42", True, True, "::1", True, "NAME", "TokenInfo"]] * 4
    assert report["source_in_traceback"] is True
    # The collector runs again once the start-up is over (long runs such as `inbox --watch` need it).
    assert report["gc"] is True


def test_a_missing_name_of_a_deferred_module_is_an_attribute_error() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['supportctl', '--version']\n"
        "from supportctl.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import ipaddress\n"
        "try:\n    ipaddress.no_such_name\nexcept AttributeError as e:\n    print('AttributeError', e)\n"
        "print(ipaddress.ip_address('10.0.0.1').is_private)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.stdout.splitlines()[-2:] == [
        "AttributeError module 'ipaddress' has no attribute 'no_such_name'",
        "True",
    ], p.stderr
