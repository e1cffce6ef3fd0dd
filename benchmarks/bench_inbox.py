"""Benchmark `inbox` triage: 10 000 messages in a Maildir, 20 % with real registration PDFs.

The PDFs are made by `form.fill_pdf` with distinct values (every form has its own bytes, so the
validation cache cannot hit on the first run) and checked by the real validator, `form.validate_pdf`.
Prints headers-only triage messages/s, triage with validation forms/s (cold, then cached) and the peak
memory, each with a ratio against baselines measured in the same run: reading every file raw, and
`form.validate_pdf` called directly on the same PDFs. On a shared machine, the CPU line (main process and
workers) gives the ratio two idle cores would reach, independent of the neighbours' load. The cold run with
validation is measured in paired rounds (BENCH_ROUNDS, default 5), each against validate_pdf alone right
before and right after it; the median of the rounds is the figure.
Run: python benchmarks/bench_inbox.py [N]
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _values(i: int) -> dict[str, object]:
    from tests.inbox_corpus import VALID

    return {
        **VALID,
        "membership_id": f"M-{i:06d}",
        "company": f"Firma {i} GmbH",
        "support": "critical" if i % 3 else "standard",
    }


def _write(job: tuple[int, str]) -> tuple[int, int]:
    """Write message `i` into the Maildir (in a worker process: the parent never holds the mailbox)."""
    from supportctl.form import pdfform as form
    from supportctl.package import manifest as package
    from tests.inbox_corpus import message

    i, root = job
    if i % 5 == 0:
        pdf = form.fill_pdf(package.load(package.bundled_root()), _values(i))
        data = message(pdf=pdf, msgid=f"<r{i}@example.org>")
    else:
        data = message(subject=f"Question {i}", msgid=f"<q{i}@example.org>")
    Path(root, "new", f"1764061200.M{i}P1.bench").write_bytes(data)
    return i, len(data)


def _pdf_of(path: Path) -> bytes:
    import email

    msg = email.message_from_bytes(path.read_bytes())
    for part in msg.walk():
        if part.get_content_type() == "application/pdf":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            return data
    raise AssertionError(path)


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the triage's workers, once their pool is shut down)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def validate_in_two_processes(pkg: Any, sample: list[bytes]) -> float | None:
    """Seconds per form when two processes validate `sample` at once (forked, started together; None where
    fork is missing). No pipeline of two workers can beat this on the machine: it is the ceiling of the
    ratio, and with cores that slow each other down (shared caches, a host's hyperthreads) it is below 2x."""
    if not hasattr(os, "fork"):
        return None
    from supportctl.form import pdfform as form

    go_r, go_w = os.pipe()
    kids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # the child: wait for the start, validate, leave
            os.close(go_w)
            os.read(go_r, 1)
            for p in sample:
                form.validate_pdf(pkg, p)
            os._exit(0)
        kids.append(pid)
    os.close(go_r)
    time.sleep(0.2)  # both children forked and waiting
    t = time.perf_counter()
    os.write(go_w, b"gg")
    for pid in kids:
        os.waitpid(pid, 0)
    os.close(go_w)
    return (time.perf_counter() - t) / (2 * len(sample))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    # As installed (pip writes the byte code): a tree without it, under PYTHONDONTWRITEBYTECODE, would compile
    # every module the run imports lazily (the workers' too) inside the timed runs.
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "supportctl")],
        check=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    try:
        run_benchmark(n, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_benchmark(n: int, tmp: Path) -> None:
    from supportctl.desk import sources as mailsource
    from supportctl.desk import triage as inbox
    from supportctl.form import pdfform as form
    from supportctl.package import manifest as package
    from supportctl.schedule import eta

    forms = n // 5
    root = tmp / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        size = sum(b for _i, b in pool.map(_write, [(i, str(root)) for i in range(n)], chunksize=100))
    print(
        f"setup: {n} messages ({forms} with a distinct form from form.fill_pdf), {size / 1e6:.0f} MB"
        f" in {time.perf_counter() - t:.1f} s"
    )

    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    now = datetime.fromisoformat("2026-11-25T10:30:00+01:00")
    limits = inbox.Limits()

    t = time.perf_counter()
    for e in os.scandir(root / "new"):
        with open(e.path, "rb") as fh:
            fh.read()
    base_read = time.perf_counter() - t
    print(f"baseline 1: read {n} files raw: {n / base_read:,.0f} messages/s")
    sample = [_pdf_of(root / "new" / f"1764061200.M{i}P1.bench") for i in range(0, min(n, 1000), 5)]
    form.validate_pdf(pkg, sample[0])  # the template is parsed once per process (cached in form.py)
    t, c = time.perf_counter(), time.process_time()
    for p in sample:
        form.validate_pdf(pkg, p)
    base_validate = (time.perf_counter() - t) / len(sample)
    cpu_validate = (time.process_time() - c) / len(sample)
    print(f"baseline 2: form.validate_pdf alone: {1 / base_validate:,.0f} forms/s ({len(sample)} forms)")
    two = validate_in_two_processes(pkg, sample)
    ceiling = base_validate / two if two else None
    if two:
        print(
            f"baseline 3: form.validate_pdf in two processes at once: {1 / two:,.0f} forms/s, {ceiling:.2f}x alone"
            " (the ceiling of any two workers on this machine, with nothing else to do)"
        )

    def run(validate: bool) -> tuple[float, inbox.Triage]:
        src = mailsource.MaildirSource(root, limits.max_message_bytes)
        t = time.perf_counter()
        r = inbox.triage(src, pkg, engine, now, limits=limits, validate=validate)
        return time.perf_counter() - t, r

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # after the baselines, before any triage
    dt, r = run(validate=False)
    print(
        f"headers-only triage: {n / dt:,.0f} messages/s in {dt:.2f} s"
        f" (target >= 2,000; {base_read / dt:.2f}x the raw-read baseline)"
    )
    # Paired rounds: validate_pdf alone, a cold triage (a fresh, empty state), validate_pdf alone again. The
    # machine's speed drifts by a fifth within a minute: each round's ratio is taken against the mean of the
    # baselines on either side of it, and the median of the rounds is the figure (each round is printed).
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    ratios, bounds, cold, cold_dt = [], [], None, 0.0
    before = base_validate
    for k in range(rounds):
        os.environ["XDG_STATE_HOME"] = str(tmp / f"state-cold-{k}")
        c, kids = time.process_time(), _children_cpu()
        dt, r = run(validate=True)
        main_cpu, workers_cpu = time.process_time() - c, _children_cpu() - kids
        t, c = time.perf_counter(), time.process_time()
        for p in sample:
            form.validate_pdf(pkg, p)
        after = (time.perf_counter() - t) / len(sample)
        after_cpu = (time.process_time() - c) / len(sample)
        ratio = (forms / dt) * (before + after) / 2
        # On two idle cores the cold run cannot take less than half its CPU time, nor less than the main
        # process's: the ratio the machine would give without neighbours, from CPU seconds alone.
        cpu_form = (cpu_validate + after_cpu) / 2
        bound = forms * cpu_form / max((main_cpu + workers_cpu) / 2, main_cpu)
        ratios.append(ratio)
        bounds.append(bound)
        print(
            f"with validation, cold, round {k + 1}: {forms / dt:,.0f} forms/s, {n / dt:,.0f} messages/s in {dt:.2f} s"
            f" ({r.stats['validated']} validated); validate_pdf alone {1 / before:,.0f} before and {1 / after:,.0f}"
            f" forms/s after: {ratio:.2f}x validate_pdf alone (target >= 1.6x); CPU: main {main_cpu:.2f} s +"
            f" workers {workers_cpu:.2f} s = {(main_cpu + workers_cpu) / forms * 1e3:.1f} ms per form against"
            f" {cpu_form * 1e3:.1f} ms alone, at best {bound:.2f}x on 2 idle cores"
        )
        if cold is None:
            cold, cold_dt = r, dt
        before, cpu_validate = after, after_cpu
    del sample
    median = statistics.median(ratios)
    print(
        f"with validation, cold: median of {rounds} rounds {median:.2f}x validate_pdf alone"
        f" ({'met' if median >= 1.6 else 'NOT met'}: target >= 1.6x; rounds {', '.join(f'{x:.2f}' for x in ratios)});"
        f" {forms / cold_dt:,.0f} forms/s in round 1 (target >= 100 forms/s); CPU bound median"
        f" {statistics.median(bounds):.2f}x (load {os.getloadavg()[0]:.1f})"
        + (f"; {median / ceiling:.0%} of the two-process ceiling ({ceiling:.2f}x)" if ceiling else "")
    )
    assert cold is not None
    dt, r = run(validate=True)
    print(
        f"with validation, second run (cached): {forms / dt:,.0f} forms/s, {n / dt:,.0f} messages/s in {dt:.2f} s"
        f" ({r.stats['cached']} from cache, {r.stats['validated']} validated)"
    )
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    run(validate=True)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    counts: dict[str, int] = {}
    for i in cold.items:
        counts[i.status] = counts.get(i.status, 0) + 1
    print(f"statuses (cold run): {counts}")
    print(
        f"peak memory: {peak / 1e6:.1f} MB traced during a cached run of {n} messages"
        f" ({peak / n:.0f} B/message: the work list and the state, no message bodies kept);"
        f" max RSS {rss1 / 1024:.0f} MB, {(rss1 - rss0) / 1024:.1f} MB more than before the three runs"
        f" (the mailbox is {size / 1e6:.0f} MB)"
    )


if __name__ == "__main__":
    main()
