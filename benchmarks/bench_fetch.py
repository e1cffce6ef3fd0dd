"""Fetch a 200 MB package over HTTP from 127.0.0.1: supportctl against `curl -o`, and supportctl's peak RSS.

    python benchmarks/bench_fetch.py [--size-mb 200] [--runs 3]

The package (one incompressible random document + manifest, stored uncompressed in a zip) is generated in a
temporary directory and served by http.server in a thread. supportctl runs as a fresh process each time
(`python -m supportctl fetch URL --dest …`): it downloads, hashes, extracts, verifies the document's sha256
and swaps the directory into place — more work than curl, which only writes the file. Targets: throughput
within 2x of curl (ratio printed), peak RSS below 80 MB (from wait4's rusage of the supportctl process).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = """format = 1
[package]
name = "bench"
version = "1"
title = {{ en = "Benchmark package" }}
[[documents]]
id = "big"
file = "big.pdf"
title = {{ en = "Big document" }}
sha256 = "{sha}"
print = true
[terms]
document = "big"
[form]
document = "big"
[[form.fields]]
name = "x"
type = "text"
label = {{ en = "X" }}
[process]
registration_address = "a@example.com"
request_address = "b@example.com"
subject = "s"
[process.schedule]
timezone = "Europe/Berlin"
hours = "09:00-18:00"
[process.classes.standard]
label = {{ en = "Standard" }}
business_days = 1
"""


def build(directory: Path, size_mb: int) -> Path:
    doc = directory / "big.pdf"
    h = hashlib.sha256()
    with open(doc, "wb") as fh:
        for _ in range(size_mb):
            block = os.urandom(1 << 20)
            h.update(block)
            fh.write(block)
    z = directory / "pkg.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("package.toml", MANIFEST.format(sha=h.hexdigest()))
        zf.write(doc, "big.pdf")
    doc.unlink()
    return z


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        # sendfile(2): the server costs (almost) no CPU, as a remote server would; the machine has 2 cores.
        self.request.sendfile(source)


def run_supportctl(url: str, dest: Path, home: Path) -> tuple[float, int]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT),
        HOME=str(home),
        XDG_STATE_HOME=str(home / "state"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(var, None)
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-m", "supportctl", "fetch", url, "--dest", str(dest), "--max-size", "1GB", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _pid, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    err = p.stderr.read().decode() if p.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"supportctl fetch failed: {err}")
    return elapsed, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def run_curl(url: str, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["curl", "-sS", "--noproxy", "*", "-o", str(out), url], check=True)
    return time.perf_counter() - t0


def _fmt(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        base = Path(tmp)
        serve_dir = base / "serve"
        serve_dir.mkdir()
        z = build(serve_dir, args.size_mb)
        size = z.stat().st_size
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(serve_dir)))
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/pkg.zip"
        curl = shutil.which("curl")
        sc_times, curl_times, rss = [], [], []
        try:
            # One untimed warm-up of each, then alternate the order so neither always meets a colder cache.
            for n in range(args.runs + 1):
                order = ["supportctl", "curl"] if n % 2 else ["curl", "supportctl"]
                for who in order:
                    if who == "supportctl":
                        dest = base / f"dest{n}"
                        t, r = run_supportctl(url, dest, base / "home")
                        shutil.rmtree(dest)
                        if n:
                            sc_times.append(t)
                            rss.append(r)
                    elif curl:
                        out = base / "curl.zip"
                        t = run_curl(url, out)
                        out.unlink()
                        if n:
                            curl_times.append(t)
        finally:
            httpd.shutdown()
            httpd.server_close()
        mb = size / 1e6
        best_sc = min(sc_times)
        print(f"package: {mb:.1f} MB zip (incompressible), {args.runs} timed runs after a warm-up, best of each")
        print(f"supportctl fetch: {best_sc:.2f} s  ({mb / best_sc:.0f} MB/s)  runs: {_fmt(sc_times)}")
        print(f"supportctl peak RSS: {max(rss) / 1e6:.1f} MB (target < 80 MB; max over the runs)")
        if curl_times:
            best_curl = min(curl_times)
            print(f"curl -o:          {best_curl:.2f} s  ({mb / best_curl:.0f} MB/s)  runs: {_fmt(curl_times)}")
            print(f"ratio supportctl/curl (wall time, best): {best_sc / best_curl:.2f}x (target <= 2x)")
            med = statistics.median(sc_times) / statistics.median(curl_times)
            print(f"ratio supportctl/curl (wall time, median): {med:.2f}x")
        else:
            print("curl not found: no baseline ratio")


if __name__ == "__main__":
    main()
