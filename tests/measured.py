"""Run `python -m supportctl …` as a process and measure it: exit code, output, seconds and peak RSS.

The peak comes from a small parent that forks the command and reports wait4's ru_maxrss: forked straight from
pytest, Linux would count pytest's own memory at fork time (ru_maxrss survives exec), and every child would
"peak" at pytest's 400 MB. Used by the red-team tests, which hold time and memory to bounds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

_MEASURE = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_pid, status, usage = os.wait4(pid, 0)
with open(os.environ["REDTEAM_RSS_FILE"], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    rss_kb: int

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def talk(self) -> list[str]:
        return [x for x in self.stderr.splitlines() if x.strip() and not x.startswith("Using the bundled package")]


def supportctl(*args: str, timeout: float = 60, env: dict[str, str] | None = None, stdin: Any = None) -> Run:
    full = dict(os.environ)
    full["PYTHONPATH"] = str(ROOT) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env or {})
    fd, rss_file = tempfile.mkstemp(prefix="supportctl-rss-")
    os.close(fd)
    full["REDTEAM_RSS_FILE"] = rss_file
    start = time.monotonic()
    p = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "supportctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        start_new_session=True,  # on a timeout the whole group goes, supportctl and its workers too
    )
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"supportctl {' '.join(args[:2])} did not finish within {timeout} s")
    finally:
        rss = Path(rss_file).read_text() or "0"
        os.unlink(rss_file)
    r = Run(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), 0.0, int(rss))
    r.seconds = time.monotonic() - start
    return r
