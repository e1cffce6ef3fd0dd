"""Start-up measures of the entry point (`supportctl.__main__`): deferred standard-library modules, the collector.

The figures are in `benchmarks/bench_eta.py`; these tests check that the measures take effect and change nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    import bz2, fnmatch, ipaddress, linecache, lzma, ntpath, subprocess, token, tokenize
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
        fnmatch.fnmatch("form.pdf", "*.pdf"),
        ntpath.join("C:\\\\", "x"),
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
    names = ["bz2", "fnmatch", "ipaddress", "linecache", "lzma", "ntpath", "subprocess", "token", "tokenize"]
    # Imported (by Click, Typer, shutil, pathlib, inspect) but not run: the start-up did not pay for them.
    assert report["before"] == dict.fromkeys(names, "_Deferred")
    # Used from four threads at once: each loaded once, whole, and behaving as usual.
    assert report["after"] == dict.fromkeys(names, "module")
    assert report["results"] == [["42", True, True, "::1", True, "NAME", "TokenInfo", True, "C:\\x"]] * 4
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


# ---------------------------------------------------------------- the sanitiser without a regular expression

# The definition: what `output` matched with two regular expressions compiled at import (6 M instructions on every
# start); ASCII text now goes through str.translate and `isprintable`, other text through the same expressions.
_UNSAFE_TEXT = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
_UNSAFE_LINE = "[\t\n" + _UNSAFE_TEXT[1:]

_interesting = st.sampled_from(["\t", "\n", "\x1b", "\x7f", "\x85", "\u2028", "\u202e", "\u2069", "ä", "€", "]", "\\"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.characters(), _interesting, st.text(alphabet=st.characters(max_codepoint=127)))))
def test_sanitizer_agrees_with_its_definition(parts: list[str]) -> None:
    import re

    from supportctl import output

    for text in ("".join(parts), "".join(p for p in parts if p.isascii())):
        escaped = lambda m: f"\\u{ord(m.group(0)):04x}"  # noqa: E731
        assert output.sanitize(text) == re.sub(_UNSAFE_LINE, escaped, text)
        assert output.sanitize(text, multiline=True) == re.sub(_UNSAFE_TEXT, escaped, text)
        assert output.strip_unsafe(text) == re.sub(_UNSAFE_LINE, "", text)
        assert output.strip_unsafe(text, multiline=True) == re.sub(_UNSAFE_TEXT, "", text)
        assert output.has_unsafe(text) is (re.search(_UNSAFE_LINE, text) is not None)
