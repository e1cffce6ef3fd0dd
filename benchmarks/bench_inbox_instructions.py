"""Instructions per form of cold validated triage against `form.validate_pdf` alone, counted by valgrind.

`bench_inbox.py` measures time, and on a shared machine the time of the same code swings by ±20 % within a
minute. Instructions executed do not depend on the neighbours: this counts them with cachegrind, in five runs
of this script over one Maildir built like the benchmark's (N messages, every fifth with its own form):
`form.validate_pdf` alone on 0 and on K forms (the difference is the instructions of one validation), the set-up
alone, the triage up to the moment its pool would fork, and the triage itself (its main process and each worker;
a forked worker's count starts at its parent's, which the run before gives). Instructions are not time (a
byte-at-a-time loop such as base64 decoding runs more instructions per nanosecond than the interpreter), and they
cannot see two processes sharing a core's caches, nor the main process's serial end: the ratio printed is what
two cores would give if instructions were all that counted.
Run (needs valgrind; ~5 minutes for N=500): python benchmarks/bench_inbox_instructions.py [N] [K]
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(mode: str, root: Path, k: int) -> None:
    """One counted run (under valgrind)."""
    import bench_inbox as bench

    from supportctl.desk import sources as mailsource
    from supportctl.desk import triage as inbox
    from supportctl.desk import workers
    from supportctl.form import pdfform as form
    from supportctl.form import pdfutil
    from supportctl.package import manifest as package
    from supportctl.schedule import eta

    pdfutil.TIME_LIMIT_S = 1e9  # valgrind runs code ~50 times slower: no form may run into the time limit
    pkg = package.load(package.bundled_root())
    n = len(os.listdir(root / "new"))
    # The same state of this process in every mode (as in bench_inbox.py: the PDFs held, the template parsed).
    sample = [bench._pdf_of(root / "new" / f"1764061200.M{i}P1.bench") for i in range(0, n, 5)]
    form.validate_pdf(pkg, sample[0])
    if mode == "validate":
        for p in sample[:k]:
            form.validate_pdf(pkg, p)
        return
    if mode == "setup":
        return
    if mode == "prefork":
        workers.Judge._start_pool = lambda self: os._exit(0)  # type: ignore[method-assign]
    engine = eta.Engine(pkg.process.schedule, pkg.process.classes, "hours")
    now = datetime.fromisoformat("2026-11-25T10:30:00+01:00")
    limits = inbox.Limits()
    src = mailsource.MaildirSource(root, limits.max_message_bytes)
    result = inbox.triage(src, pkg, engine, now, limits=limits, validate=True)
    assert result.stats["validated"] == len(sample), result.stats
    (root.parent / "main.pid").write_text(str(os.getpid()))


def _count(out: Path, name: str) -> dict[int, int]:
    """Instructions of each process of one counted run, by pid."""
    counts = {}
    for f in glob.glob(str(out / f"{name}.*")):
        for line in open(f, encoding="utf-8"):
            if line.startswith("summary:"):
                counts[int(f.rsplit(".", 1)[1])] = int(line.split()[1])
    return counts


def main() -> None:
    import bench_inbox as bench

    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench_inbox_instructions: valgrind is not installed (apt-get install valgrind)")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    tmp = Path(tempfile.mkdtemp(prefix="bench-inbox-ir-"))
    try:
        root = tmp / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (root / sub).mkdir(parents=True)
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(bench._write, [(i, str(root)) for i in range(n)], chunksize=50))
        forms = n // 5
        out = tmp / "out"
        out.mkdir()
        env = {**os.environ, "XDG_STATE_HOME": str(tmp / "state"), "XDG_CACHE_HOME": str(tmp / "cache")}
        env["PYTHONHASHSEED"] = "0"
        for name, mode, arg in [
            ("v0", "validate", 0),
            ("vk", "validate", k),
            ("setup", "setup", 0),
            ("prefork", "prefork", 0),
            ("triage", "triage", 0),
        ]:
            cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}/{name}.%p"]
            cmd += [sys.executable, __file__, "--child", mode, str(root), str(arg)]
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(tmp / "state", ignore_errors=True)  # every triage starts cold
        (v0,) = _count(out, "v0").values()
        (vk,) = _count(out, "vk").values()
        (setup,) = _count(out, "setup").values()
        (prefork,) = _count(out, "prefork").values()
        runs = _count(out, "triage")
        main_pid = int((tmp / "main.pid").read_text())
        validate = (vk - v0) / k
        main_ir = (runs.pop(main_pid) - setup) / forms
        workers_ir = sum(c - prefork for c in runs.values()) / forms
        total = main_ir + workers_ir
        print(f"{n} messages, {forms} forms; instructions (cachegrind), in millions per form:")
        print(f"form.validate_pdf alone: {validate / 1e6:.1f} M ({k} forms)")
        print(
            f"cold validated triage: main process {main_ir / 1e6:.1f} M + {len(runs)} workers {workers_ir / 1e6:.1f} M"
            f" = {total / 1e6:.1f} M, {total / validate:.3f}x a validation; the overhead is"
            f" {(total - validate) / validate:.1%} of a validation"
        )
        print(
            f"on 2 cores, if instructions were time: at best {2 * validate / max(total, 2 * main_ir):.2f}x"
            f" validate_pdf alone (no cache sharing, no serial end counted)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
