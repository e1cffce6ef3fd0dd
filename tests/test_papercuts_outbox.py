"""Issue 16, items 1 and 4: a form is never delivered twice by `--again` + `retry`, and `purge` keeps the
duplicate protection and asks first. Against the real aiosmtpd server of test_mail."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from supportctl.errors import ExitCode
from supportctl.mail import outbox
from tests.conftest import ROOT
from tests.test_mail import make_pdf, only_entry, server, state_of  # noqa: F401  (server is a fixture)


def test_submit_of_a_deferred_form_points_to_retry_not_again(cli, server, tmp_path: Path) -> None:  # noqa: F811
    pdf = make_pdf(tmp_path)
    server.mode = "rcpt451"
    assert cli("submit", str(pdf)).exit_code == ExitCode.QUEUED
    first = only_entry()
    server.mode = "ok"
    r = cli("submit", str(pdf))
    assert r.exit_code == ExitCode.USAGE
    line = r.stderr.strip().splitlines()[-1]
    assert line == (
        f"error: this form is already in the outbox, not sent yet: message {first.id} (deferred, queued "
        f"{outbox._short_time(first.created)}) (`supportctl outbox retry {first.id}` sends it now; --again "
        "replaces it with a new copy of this form)"
    )
    assert ".%f" not in line and "+00:00" not in line  # no raw ISO timestamp with microseconds
    assert server.count() == 0


def test_again_supersedes_the_pending_copy_so_retry_all_sends_once(cli, server, tmp_path: Path) -> None:  # noqa: F811
    pdf = make_pdf(tmp_path)
    server.mode = "rcpt451"
    assert cli("submit", str(pdf)).exit_code == ExitCode.QUEUED
    first = only_entry()
    r = cli("submit", str(pdf), "--again")  # still deferred by the server: both stay unsent
    assert r.exit_code == ExitCode.QUEUED
    assert state_of(first.id) == "superseded"
    assert "replaced by" in (outbox.get(first.id).last_text or "")
    server.mode = "ok"
    assert cli("outbox", "retry", "--all").exit_code == 0
    assert server.count() == 1  # the registration arrived once
    r = cli("outbox", "retry", first.id, "--json")
    assert r.json()["data"]["results"][0]["skipped"] == "state" and server.count() == 1
    r = cli("outbox", "resolve", first.id, "--resend")
    assert r.exit_code == ExitCode.USAGE and "replaced by a later copy" in r.stderr
    cli("outbox", "flush")
    assert server.count() == 1


def test_again_after_sent_sends_a_second_copy_and_keeps_the_first(cli, server, tmp_path: Path) -> None:  # noqa: F811
    pdf = make_pdf(tmp_path)
    assert cli("submit", str(pdf)).exit_code == 0
    first = only_entry()
    assert cli("submit", str(pdf), "--again").exit_code == 0
    assert state_of(first.id) == "sent" and server.count() == 2


def test_uncertain_points_to_resolve(cli, server, tmp_path: Path) -> None:  # noqa: F811
    pdf = make_pdf(tmp_path)
    server.mode = "drop-after-dot"
    assert cli("submit", str(pdf)).exit_code == ExitCode.UNCERTAIN
    first = only_entry()
    r = cli("submit", str(pdf))
    assert r.exit_code == ExitCode.USAGE
    assert "may have arrived" in r.stderr and f"outbox resolve {first.id}" in r.stderr


def test_purge_keeps_the_duplicate_protection(cli, server, tmp_path: Path) -> None:  # noqa: F811
    pdf = make_pdf(tmp_path)
    assert cli("submit", str(pdf)).exit_code == 0
    first = only_entry()
    r = cli("outbox", "purge", "--yes", "--json")
    assert r.exit_code == 0 and r.json()["data"]["removed"] == [first.id]
    assert not first.path.exists()
    r = cli("submit", str(pdf))
    assert r.exit_code == ExitCode.USAGE and server.count() == 1
    assert (
        r.stderr.strip()
        .splitlines()[-1]
        .endswith(f"message {first.id} (sent, {outbox._short_time(first.created)}) (add --again to send it once more)")
    )
    assert cli("submit", str(pdf), "--again").exit_code == 0 and server.count() == 2


def test_purge_without_a_terminal_needs_yes(cli, server, tmp_path: Path) -> None:  # noqa: F811
    assert cli("submit", str(make_pdf(tmp_path))).exit_code == 0
    r = cli("outbox", "purge")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.strip() == (
        "error: outbox purge deletes 1 message(s) and asks first (add --yes to delete them without asking)"
    )
    assert len(outbox.entries()) == 1


def test_purge_of_nothing_does_not_ask(cli) -> None:
    r = cli("outbox", "purge")
    assert r.exit_code == 0 and "Deleted 0 message(s)" in r.stderr


def _spawn_purge(env: dict[str, str]):  # type: ignore[no-untyped-def]
    import pexpect

    return pexpect.spawn(sys.executable, ["-m", "supportctl", "outbox", "purge"], env=env, encoding="utf-8", timeout=20)


@pytest.mark.slow
def test_purge_on_a_terminal_asks_and_no_keeps_everything(cli, server, tmp_path: Path) -> None:  # noqa: F811
    import pexpect

    assert cli("submit", str(make_pdf(tmp_path))).exit_code == 0
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = _spawn_purge(env)
    child.expect(r"Delete 1 message\(s\) from the outbox .*\[y/N\]")
    child.sendline("n")
    child.expect("Nothing deleted.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and len(outbox.entries()) == 1
    child = _spawn_purge(env)
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(r"Deleted 1 message\(s\)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and outbox.entries() == []
