"""`inbox imaps://…` against a real Dovecot on 127.0.0.1, side by side with a bare imaplib client.

    python benchmarks/bench_inbox_imap.py [N ...]      (default: 1000 5000)

The mailbox: 20 % registrations (a filled form, 25 distinct forms cycled, so validation is a small, fixed
part), the rest plain text and mails with png/zip/docx attachments. The bare client does the minimum:
EXAMINE, UID SEARCH, header + BODYSTRUCTURE fetches in batches, then the PDF parts of messages that have
one. Printed per N: cold `inbox` vs the bare client, with the distinct forms validated before (the
issue's target, "validation of distinct forms excluded or counted separately": <= 2x at 5,000) and with
their validation included, in paired rounds (BENCH_ROUNDS, default 3: each round's ratio against that
round's bare client, the median round is the figure); a rerun with nothing new (target <= 0.2 s + 10 us x N),
a rerun with 10 new messages, and the peak RSS of warm runs (target: independent of N within 20 %). For
context, not the target: the bare client run as its own process (`bare_imap.py`), as `inbox` is.
Every `inbox` run is a separate process, as a desk's cron job would be.
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# `supportctl` as a desk runs it: the installed command (its code from this tree, PYTHONPATH=ROOT below), else
# `python -m supportctl` (which also imports runpy's machinery, ~5 ms a run).
_SCRIPT = Path(sys.executable).with_name("supportctl.exe" if os.name == "nt" else "supportctl")
SUPPORTCTL = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "supportctl"]

from benchmarks.bare_imap import bare_client as _bare  # noqa: E402
from tests import dovecotserver as ds  # noqa: E402
from tests import realmail as rm  # noqa: E402


def _attachment(name: str, ctype: str, data: bytes, msgid: str) -> bytes:
    b = "b0undary"
    head = rm._head("someone <someone@example.com>", f"files {msgid}", msgid, "X-Mailer: bench")
    body = f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\nContent-Type: text/plain\r\n\r\nsee\r\n'
    body += f'--{b}\r\nContent-Type: {ctype}; name="{name}"\r\nContent-Disposition: attachment; filename="{name}"\r\n'
    body += "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).decode() + f"\r\n--{b}--\r\n"
    return (head + body).encode()


def mailbox(n: int, forms: list[bytes]) -> list[bytes]:
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(20_000)
    zipf = b"PK\x03\x04" + os.urandom(30_000)
    msgs = []
    for i in range(n):
        msgid = f"<bench-{i}@example.org>"
        kind = i % 10
        if kind in (0, 5):
            msgs.append(rm.thunderbird([("registration-form-filled.pdf", forms[i % len(forms)])], msgid))
        elif kind == 1:
            msgs.append(_attachment("photo.png", "image/png", png, msgid))
        elif kind == 2:
            msgs.append(_attachment("files.zip", "application/zip", zipf, msgid))
        elif kind == 3:
            docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            msgs.append(_attachment("letter.docx", docx, zipf, msgid))
        else:
            msgs.append(rm.plain(f"question {i}", msgid, to="team@example.com"))
    return msgs


def bare_client(port: int, ca: str) -> float:
    """The bare client, in this process (its interpreter started and imaplib imported already)."""
    return _bare(port, ca, ds.USER, ds.PASSWORD)


def bare_process(port: int, ca: str) -> float:
    """The bare client as its own process, as `inbox` is: with its interpreter's start and its imports."""
    env = dict(os.environ, BARE_IMAP_PASSWORD=ds.PASSWORD)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bare_imap.py"), str(port), ca, ds.USER], env=env, check=True
    )
    return time.perf_counter() - t


def validated_before(forms: list[bytes], state: Path) -> None:
    """A desk state in which these forms were validated before: `inbox` on a Maildir holding one mail each."""
    box = Path(tempfile.mkdtemp(prefix="bench-imap-judged-"))
    try:
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir()
        for i, pdf in enumerate(forms):
            mail = rm.thunderbird([("form.pdf", pdf)], f"<judged-{i}@example.org>")
            (box / "cur" / f"judged{i}:2,").write_bytes(mail)
        env = dict(os.environ, XDG_STATE_HOME=str(state), PYTHONPATH=str(ROOT))
        cmd = [*SUPPORTCTL, "inbox", str(box), "--json"]
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if done.returncode not in (0, 11):
            raise SystemExit(f"inbox failed: {done.stderr.decode()[-500:]}")
    finally:
        shutil.rmtree(box, ignore_errors=True)


def run_inbox(url: str, env: dict[str, str]) -> tuple[float, int, float]:
    """Wall time, peak RSS (KiB) and CPU seconds (user + system) of one `supportctl inbox` process.

    The peak is read from /proc/PID/status (VmHWM) while it runs: getrusage's ru_maxrss would carry over the
    high-water mark of this (large) benchmark process through fork and exec.
    """
    t = time.perf_counter()
    proc = subprocess.Popen(
        [*SUPPORTCTL, "inbox", url, "--json", "--now", "2026-11-25T10:30+01:00"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = 0
    status = Path(f"/proc/{proc.pid}/status")
    while True:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        pid, wstatus, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        time.sleep(0.005)
    dt = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(wstatus)
    if proc.returncode not in (0, 11):
        raise SystemExit(f"inbox failed: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return dt, peak, usage.ru_utime + usage.ru_stime


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 5000]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "supportctl")], check=True)
    forms = [rm.form(membership_id=f"B-{i}-XYZ", support=("critical", "standard")[i % 2]) for i in range(25)]
    rows = []
    as_processes = []
    for n in sizes:
        try:
            srv = ds.start()
        except ds.Unavailable as exc:
            raise SystemExit(f"cannot benchmark: {exc}") from None
        state = Path(tempfile.mkdtemp(prefix="bench-imap-state-"))
        try:
            for i, data in enumerate(mailbox(n, forms)):
                # Named as Dovecot's own delivery names them: S= the size, W= the size with CRLF line ends.
                wsize = len(data) + data.count(b"\n") - data.count(b"\r\n")
                (srv.maildir / "cur" / f"17640{i:06d}.M{i}P1.bench,S={len(data)},W={wsize}:2,").write_bytes(data)
            srv.own()
            env = dict(os.environ, SUPPORTCTL_IMAP_PASSWORD=ds.PASSWORD, XDG_STATE_HOME=str(state))
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte code cached, not compiled per run
            env.update(SUPPORTCTL_IMAP_CA_BUNDLE=srv.ca, PYTHONPATH=str(ROOT))
            # Dovecot's index and cache warmed for both clients, as a desk's server would be: each asks for
            # fields the other does not (inbox: short text parts, the first 2 KiB of other attachments), and
            # Dovecot adds them to its cache on first request, so the first run after delivery pays for that.
            for _warm in range(2):  # Dovecot keeps a field in its cache for good once asked for it twice
                bare_client(srv.port, srv.ca)
                warmup = tempfile.mkdtemp(prefix="bench-imap-warm-")
                run_inbox(srv.url, dict(env, XDG_STATE_HOME=warmup))
                shutil.rmtree(warmup)
            # Paired rounds (BENCH_ROUNDS, default 3), each: the bare client, then `inbox` cold with the distinct
            # forms validated before (from another folder, a Maildir: the issue's "validation of distinct forms
            # excluded or counted separately"), then `inbox` wholly cold. The machine's speed drifts by a fifth
            # within a minute: each round's ratios are taken against that round's bare client, and the median
            # round is the figure (every round's ratio is printed).
            judged = Path(tempfile.mkdtemp(prefix="bench-imap-forms-"))
            validated_before(forms, judged)
            bares, excluded, colds, procs = [], [], [], []
            for _round in range(int(os.environ.get("BENCH_ROUNDS", "3"))):
                bares.append(bare_client(srv.port, srv.ca))
                procs.append(bare_process(srv.port, srv.ca))
                shutil.rmtree(state)
                shutil.copytree(judged, state)
                excluded.append(run_inbox(srv.url, env)[0])
                shutil.rmtree(state)
                state.mkdir()
                colds.append(run_inbox(srv.url, env))
            shutil.rmtree(judged)
            ratios = [x / b for x, b in zip(excluded, bares, strict=True)]
            proc_ratios = [x / b for x, b in zip(excluded, procs, strict=True)]
            cold_ratios = [c[0] / b for c, b in zip(colds, bares, strict=True)]
            bare, no_validation = statistics.median(bares), statistics.median(excluded)
            cold, cold_rss, cold_cpu = (statistics.median(c[k] for c in colds) for k in range(3))
            warm = [run_inbox(srv.url, env) for _ in range(5)]
            rerun = min(dt for dt, _r, _c in warm)
            rerun_cpu = min(c for _dt, _r, c in warm)
            for j in range(10):
                srv.deliver(f"1799{j:06d}.M{j}P9.new", rm.plain(f"new {j}", f"<new-{j}@example.org>"))
            ten_new, _r, _c = run_inbox(srv.url, env)
            warm_rss = max(r for _dt, r, _c in warm)
            figures = (cold, bare, rerun, ten_new, cold_rss, warm_rss, cold_cpu, rerun_cpu, no_validation)
            rows.append((n, *figures, ratios, cold_ratios))
            as_processes.append((n, statistics.median(procs), proc_ratios))
        finally:
            srv.stop()
            shutil.rmtree(state, ignore_errors=True)
    print(
        "| N | bare imaplib | inbox cold, forms validated before | ratio (target <= 2x at 5,000) | inbox cold (CPU)"
        " | ratio | rerun, nothing new (CPU) | target | rerun, 10 new | peak RSS cold | peak RSS warm |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, cold, bare, rerun, ten_new, cold_rss, warm_rss, cold_cpu, rerun_cpu, no_validation, rs, crs in rows:
        target = 0.2 + 10e-6 * n
        print(
            f"| {n:,} | {bare:.2f} s | {no_validation:.2f} s | {statistics.median(rs):.2f}x"
            f" | {cold:.2f} s ({cold_cpu:.2f} s) | {statistics.median(crs):.2f}x"
            f" | {rerun:.2f} s ({rerun_cpu:.2f} s) | {target:.2f} s {'met' if rerun <= target else 'MISSED'}"
            f" | {ten_new:.2f} s | {cold_rss / 1024:.0f} MB | {warm_rss / 1024:.0f} MB |"
        )
    print("times are medians of the rounds; ratios the median of each round's ratio to its own bare client:")
    for n, *_rest, rs, crs in rows:
        verdict = ("met" if statistics.median(rs) <= 2 else "NOT met") if n == 5000 else "no target at this N"
        print(
            f"  {n:,}: forms validated before {', '.join(f'{x:.2f}' for x in rs)} ({verdict});"
            f" wholly cold {', '.join(f'{x:.2f}' for x in crs)}"
        )
    print("the bare client as its own process (its interpreter's start and imports counted, as they are for inbox):")
    for n, proc, prs in as_processes:
        print(f"  {n:,}: {proc:.2f} s; inbox cold, forms validated before, {', '.join(f'{x:.2f}' for x in prs)}x that")
    print(f"load average after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if len(rows) > 1:
        lo, hi = min(r[6] for r in rows), max(r[6] for r in rows)
        print(f"warm peak RSS varies by {100 * (hi - lo) / lo:.0f} % across N (target <= 20 %)")


if __name__ == "__main__":
    main()
