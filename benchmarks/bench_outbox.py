"""`supportctl outbox flush` of 1 000 queued messages to a local aiosmtpd (STARTTLS + AUTH PLAIN).

Prints messages/s over ONE connection (target >= 50/s) and the ratio to one connection per message,
measured in the same run. Run: /work/venv/bin/python benchmarks/bench_outbox.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportctl.mail import compose as mail  # noqa: E402
from supportctl.mail import outbox  # noqa: E402
from tests import smtpserver  # noqa: E402

# ~32 KB, like a filled form; BENCH_ATTACHMENT_KB=1 shows the per-connection cost more clearly.
ATTACHMENT = b"%PDF-1.4\n" + b"% registration form filler line\n" * (
    32 * int(os.environ.get("BENCH_ATTACHMENT_KB", "32"))
)


def queue(n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = smtpserver.USER
        msg["To"] = "desk@example.org"
        msg["Subject"] = f"bench {tag} {i}"
        msg["Message-ID"] = f"<bench-{tag}-{i}@example.org>"
        msg.set_content(f"message {i}\n")
        msg.add_attachment(ATTACHMENT, maintype="application", subtype="pdf", filename="form.pdf")
        ids.append(outbox.enqueue(msg).id)
    return ids


def settings(server: smtpserver.Server) -> dict[str, object]:
    from supportctl import config

    return {k: r.value for k, r in config.load().values.items() if k.startswith("smtp.")}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    baseline_n = max(50, n // 5)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["XDG_STATE_HOME"] = str(tmp_path / "state")
        os.environ["XDG_CONFIG_HOME"] = str(tmp_path / "config")
        server = smtpserver.start(tmp_path)
        server.handler.messages = []
        env = dict(os.environ, **server.env(SUPPORTCTL_SMTP_TIMEOUT="30"), PYTHONPATH=str(ROOT))
        try:
            os.environ.update(env)
            # 1. The real command: `supportctl outbox flush` in its own process, one connection.
            t0 = time.perf_counter()
            queue(n, "cli")
            t_queue = time.perf_counter() - t0
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "supportctl", "outbox", "flush"], env=env, capture_output=True)
            t_cli = time.perf_counter() - t0
            assert p.returncode == 0, p.stderr.decode()
            assert server.count() == n, server.count()
            assert server.handler.connections == 1, server.handler.connections
            outbox.purge()

            # 2. Core, one connection (same code path as flush, without process start-up).
            queue(n, "one")
            s = mail.open_session(settings(server))
            t0 = time.perf_counter()
            results = outbox.send(None, s, mode="flush")
            s.close()
            t_one = time.perf_counter() - t0
            assert all(r.state == "sent" for r in results)
            outbox.purge()

            # 3. Baseline: one connection (TLS handshake + AUTH) per message.
            ids = queue(baseline_n, "each")
            t0 = time.perf_counter()
            for i in ids:
                s = mail.open_session(settings(server))
                (r,) = outbox.send([i], s, mode="flush")
                s.close()
                assert r.state == "sent"
            t_each = time.perf_counter() - t0
            assert server.count() == 2 * n + baseline_n
        finally:
            server.stop()
    cli_rate = n / t_cli
    one_rate = n / t_one
    each_rate = baseline_n / t_each
    print(f"attachment {len(ATTACHMENT) // 1024} KB, aiosmtpd with STARTTLS + AUTH PLAIN on 127.0.0.1")
    print(f"queue {n} messages (enqueue, fsync'ed):          {t_queue:7.2f} s  {n / t_queue:8.1f} msg/s")
    print(f"supportctl outbox flush, {n} msgs, 1 connection:  {t_cli:7.2f} s  {cli_rate:8.1f} msg/s (target >= 50)")
    print(f"core send, {n} msgs, 1 connection:               {t_one:7.2f} s  {one_rate:8.1f} msg/s")
    print(f"baseline, {baseline_n} msgs, 1 connection per message:  {t_each:7.2f} s  {each_rate:8.1f} msg/s")
    print(f"ratio one connection / connection per message:  {one_rate / each_rate:.2f}x")
    print(f"target {'met' if cli_rate >= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
