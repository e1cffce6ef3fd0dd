"""Issue 16, items 1 and 4: a form is never delivered twice by `--again` + `retry`, and `purge` keeps the
duplicate protection and asks first. Against the real aiosmtpd server of test_mail."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from supportctl.errors import ExitCode
from supportctl.mail import outbox
from tests import smtpserver
from tests.conftest import ROOT
from tests.test_mail import make_pdf, only_entry, state_of


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[smtpserver.Server]:
    srv = smtpserver.start(tmp_path)
    for k, v in srv.env().items():
        monkeypatch.setenv(k, v)
    yield srv
    srv.stop()


def test_submit_of_a_deferred_form_points_to_retry_not_again(cli, server, tmp_path: Path) -> None:
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


def test_again_supersedes_the_pending_copy_so_retry_all_sends_once(cli, server, tmp_path: Path) -> None:
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


def test_again_after_sent_sends_a_second_copy_and_keeps_the_first(cli, server, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path)
    assert cli("submit", str(pdf)).exit_code == 0
    first = only_entry()
    assert cli("submit", str(pdf), "--again").exit_code == 0
    assert state_of(first.id) == "sent" and server.count() == 2


def test_uncertain_points_to_resolve(cli, server, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path)
    server.mode = "drop-after-dot"
    assert cli("submit", str(pdf)).exit_code == ExitCode.UNCERTAIN
    first = only_entry()
    r = cli("submit", str(pdf))
    assert r.exit_code == ExitCode.USAGE
    assert "may have arrived" in r.stderr and f"outbox resolve {first.id}" in r.stderr


def test_purge_keeps_the_duplicate_protection(cli, server, tmp_path: Path) -> None:
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


def test_purge_without_a_terminal_needs_yes(cli, server, tmp_path: Path) -> None:
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
def test_purge_on_a_terminal_asks_and_no_keeps_everything(cli, server, tmp_path: Path) -> None:
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


# ---------------------------------------------------------------- item 5: one sender check


def test_name_and_address_sender_is_accepted_everywhere(
    cli, server, tmp_path: Path, isolated: Path, monkeypatch
) -> None:
    import email
    from email import policy

    monkeypatch.delenv("SUPPORTCTL_SMTP_FROM")
    r = cli("config", "smtp", "--host", "127.0.0.1", "--from", f"Łukasz Dvořák <{smtpserver.USER}>", "--no-test")
    assert r.exit_code == 0, r.stderr
    r = cli("submit", str(make_pdf(tmp_path)))
    assert r.exit_code == 0, r.stderr
    msg = email.message_from_bytes(server.handler.messages[0]["data"], policy=policy.default)
    assert msg["From"].addresses[0].display_name == "Łukasz Dvořák"
    assert msg["From"].addresses[0].addr_spec == smtpserver.USER
    assert msg["Message-ID"].endswith("@" + smtpserver.USER.rsplit("@", 1)[1] + ">")
    assert server.handler.messages[0]["from"] == smtpserver.USER  # the envelope: the bare address


def test_bad_sender_in_the_flag_is_usage_in_the_file_is_config(
    cli, server, tmp_path: Path, isolated: Path, monkeypatch
) -> None:
    monkeypatch.delenv("SUPPORTCTL_SMTP_FROM")
    r = cli("config", "smtp", "--host", "127.0.0.1", "--from", "not an address", "--no-test")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.strip().splitlines()[-1] == (
        "error: --from: 'not an address' is not an e-mail address "
        "(give one address like name@example.com or Name <name@example.com>)"
    )
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    assert not cfg.exists()  # nothing written
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[smtp]\nfrom = "not an address"\n')
    r = cli("submit", str(make_pdf(tmp_path)))
    assert r.exit_code == ExitCode.CONFIG
    assert (
        r.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: smtp.from in {cfg}: 'not an address' is not an e-mail address")
    )
    assert outbox.entries() == [] and server.count() == 0
    r = cli("submit", str(make_pdf(tmp_path)), "--from", "me@example.org")  # the flag wins over the file
    assert r.exit_code == 0, r.stderr


def test_request_eml_falls_back_to_smtp_from(cli, isolated: Path, tmp_path: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[smtp]\nfrom = "Zoë Brontë <zoe@example.org>"\n')
    r = cli("fetch", "--request", "--eml", "req.eml", "--json")
    assert r.exit_code == 0, r.stderr
    assert "zoe@example.org" in r.json()["data"]["from"]


# ---------------------------------------------------------------- item 6: keyring without the extra


def test_keyring_source_without_the_extra_says_how_to_install_it(cli, isolated: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("keyring") is not None:
        pytest.skip("the keyring extra is installed here")
    r = cli(
        "config", "smtp", "--host", "127.0.0.1", "--username", "me@example.org", "--from", "me@example.org",
        "--password-source", "keyring", "--no-test",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "warning: the password source keyring needs the keyring module: pip install 'supportctl[keyring]'" in (
        r.stderr
    )
    from supportctl.errors import ConfigError
    from supportctl.mail import credentials

    with pytest.raises(ConfigError) as caught:
        credentials.obtain({"smtp.username": "me@example.org", "smtp.host": "h", "smtp.password_source": "keyring"})
    assert "the password source keyring needs the keyring module" in caught.value.message
    assert (caught.value.hint or "").startswith("pip install 'supportctl[keyring]'")


def test_submit_names_the_next_step(cli, server, tmp_path: Path) -> None:
    """After a sent submission, the next step is named: `status`."""
    r = cli("submit", str(make_pdf(tmp_path)))
    assert r.exit_code == 0, r.stderr
    expected = "Next: `supportctl status` shows whether the desk answered and when support will be active."
    assert r.stderr.strip().splitlines()[-1] == expected


# ---------------------------------------------------------------- audit: what a new user ran into


@pytest.mark.slow
def test_outbox_table_on_a_narrow_terminal_shows_whole_ids(cli, server, tmp_path: Path) -> None:
    """The id is what `outbox show|retry|resolve ID` take: on an 80-column terminal it was cut to `20261201…`."""
    import pexpect

    assert cli("submit", str(make_pdf(tmp_path))).exit_code == 0
    first = only_entry()
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm")
    child = pexpect.spawn(
        sys.executable, ["-m", "supportctl", "outbox"], env=env, encoding="utf-8", timeout=20, dimensions=(24, 80)
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert f" {first.id} " in child.before


def test_retry_all_with_nothing_waiting_needs_no_mail_server(cli, isolated: Path) -> None:
    """README: exit 0 when there is nothing to do; `retry --all` said "no SMTP server configured" (exit 8)."""
    r = cli("outbox", "retry", "--all", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["data"] == {"results": [], "uncertain": []}
    assert r.stderr == ""


def test_a_message_you_marked_delivered_is_not_said_unaccepted(cli, server, tmp_path: Path) -> None:
    """Audit: `outbox resolve ID --delivered` of a deferred message (sent by other means) made `status` say
    "sent" and, below it, "Not accepted by the mail server yet"; `eta --since-submit ID` called it not accepted."""
    server.mode = "rcpt451"
    assert cli("submit", str(make_pdf(tmp_path))).exit_code == ExitCode.QUEUED
    first = only_entry()
    assert cli("outbox", "resolve", first.id, "--delivered").exit_code == 0
    r = cli("status", first.id)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1] == (
        "  Marked as delivered by you: when the mail server accepted it is not known, so no due time is counted"
    )
    r = cli("eta", "--since-submit", first.id)
    assert r.exit_code == ExitCode.ERROR
    assert r.stderr.strip().splitlines()[-1] == (
        f"error: submission {first.id} was marked as delivered by you: when the mail server accepted it is not "
        "known (give the time it arrived: supportctl eta --at WHEN)"
    )


def test_outbox_and_duplicate_times_are_in_the_persons_zone_like_status(proc, server, tmp_path: Path) -> None:
    """Stored in UTC; shown in the local zone (as `status` does), not as `09:20 UTC` to someone in Berlin."""
    pdf = make_pdf(tmp_path)
    berlin = {"TZ": "Europe/Berlin"}
    server.mode = "rcpt451"
    assert proc("submit", str(pdf), env=berlin).exit_code == ExitCode.QUEUED
    entry = only_entry()
    from datetime import datetime
    from zoneinfo import ZoneInfo

    queued = datetime.fromisoformat(entry.created).astimezone(ZoneInfo("Europe/Berlin"))
    shown = f"{queued:%a %Y-%m-%d %H:%M} {queued.tzname()}"
    r = proc("outbox", "show", entry.id, env=berlin)
    assert f"Queued: {shown}\n" in r.stdout and "UTC" not in r.stdout, r.stdout
    r = proc("outbox", "list", env=berlin)
    assert "UTC" not in r.stdout and r.stdout.split("\t")[3].endswith(("CET", "CEST")), r.stdout
    r = proc("submit", str(pdf), env=berlin)
    assert r.exit_code == ExitCode.USAGE
    assert f"(deferred, queued {shown})" in r.stderr, r.stderr
