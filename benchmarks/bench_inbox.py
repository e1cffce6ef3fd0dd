"""Benchmark `inbox` triage: 10 000 messages in a Maildir, 20 % with registration PDFs.

Prints headers-only triage messages/s, triage with validation forms/s (cold, then cached), and the
peak memory, each with a ratio against a baseline measured in the same run (reading every file raw).
Run: /work/venv/bin/python benchmarks/bench_inbox.py [N]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    tmp = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")
    from supportctl import eta, inbox, mailsource, package
    from tests.inbox_corpus import StandInValidator, fake_pdf, message, write_maildir

    validator_name = "stand-in (tests/inbox_corpus.py)"
    validator = StandInValidator()
    try:
        from supportctl import form  # noqa: F401

        validator_name = "supportctl.form.validate_pdf"
        validator = None  # type: ignore[assignment]
    except ImportError:
        pass
    msgs = {}
    for i in range(n):
        if i % 5 == 0:
            msgs[str(i)] = message(pdf=fake_pdf(membership_id=str(i)), msgid=f"<r{i}@example.org>")
        else:
            msgs[str(i)] = message(subject=f"Question {i}", msgid=f"<q{i}@example.org>")
    root = tmp / "Maildir"
    write_maildir(root, msgs)
    forms = n // 5
    pkg = package.load(package.bundled_root())
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    now = datetime.fromisoformat("2026-11-25T10:30:00+01:00")
    limits = inbox.Limits()

    t = time.perf_counter()
    for e in os.scandir(root / "new"):
        with open(e.path, "rb") as fh:
            fh.read()
    base = time.perf_counter() - t
    print(f"baseline: read {n} files raw: {n / base:,.0f} messages/s")

    def run(validate: bool) -> tuple[float, inbox.Triage]:
        src = mailsource.MaildirSource(root, limits.max_message_bytes)
        t = time.perf_counter()
        r = inbox.triage(src, pkg, engine, now, limits=limits, validator=validator, validate=validate)
        return time.perf_counter() - t, r

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    dt, r = run(validate=False)
    print(f"headers-only triage: {n / dt:,.0f} messages/s (target >= 2,000; {base / dt:.2f}x the raw-read baseline)")
    dt, r = run(validate=True)
    print(
        f"with validation, cold: {forms / dt:,.0f} forms/s, {n / dt:,.0f} messages/s"
        f" (target >= 100 forms/s; {r.stats['validated']} validated) [validator: {validator_name}]"
    )
    dt, r = run(validate=True)
    print(
        f"with validation, second run (cached): {forms / dt:,.0f} forms/s, {n / dt:,.0f} messages/s"
        f" ({r.stats['cached']} from cache, {r.stats['validated']} validated)"
    )
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    run(validate=True)
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    counts: dict[str, int] = {}
    for i in r.items:
        counts[i.status] = counts.get(i.status, 0) + 1
    print(f"statuses: {counts}")
    print(
        f"peak memory: {peak / 1e6:.1f} MB traced during a cached run of {n} messages"
        f" ({peak / n:.0f} B/message: the work list and the state, no message bodies kept);"
        f" max RSS grew {(rss1 - rss0) / 1024:.1f} MB over the three runs"
    )


if __name__ == "__main__":
    main()
