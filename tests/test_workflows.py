"""The workflows as core functions (no CLI): submit, reply and the package request return result records
with their exit code; one exit table; one secret-command runner for SMTP and IMAP; one address check; one
findings renderer; the desk's done markers under the outbox lock. Real aiosmtpd, real subprocesses."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from email import policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl import config
from supportctl.desk import triage
from supportctl.errors import ConfigError, ExitCode, UsageError
from supportctl.fsutil import flock
from supportctl.mail import compose, credentials, outbox, submit
from supportctl.mail.outbox import SendResult
from supportctl.package import request
from tests.test_mail import (
    _pkg,
    make_pdf,
    server,  # noqa: F401  (a fixture)
    state_of,
)

# ---------------------------------------------------------------- the one exit table


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (SendResult("a", "sent", 250, "ok"), ExitCode.OK),
        (SendResult("a", "deferred", 451, "later"), ExitCode.QUEUED),
        (SendResult("a", "deferred", None, "refused", kind="network"), ExitCode.TRANSFER),
        (SendResult("a", "deferred", None, "tls", kind="tls"), ExitCode.TRANSFER),
        (SendResult("a", "failed", 550, "no such user"), ExitCode.MAIL_REFUSED),
        (SendResult("a", "needs-credentials", 535, "bad login"), ExitCode.CONFIG),
        (SendResult("a", "uncertain", None, "lost"), ExitCode.UNCERTAIN),
        (SendResult("a", "failed", 451, "", skipped="expired"), ExitCode.MAIL_REFUSED),
        (SendResult("a", "uncertain", skipped="state"), ExitCode.UNCERTAIN),
        (SendResult("a", "queued", skipped="state"), ExitCode.OK),
        (SendResult("a", "sent", skipped="state"), ExitCode.OK),
        (SendResult("a", "superseded", skipped="state"), ExitCode.OK),
        (SendResult("a", "deferred", skipped="busy"), ExitCode.OK),
        (SendResult("a", "deferred", skipped="not-due"), ExitCode.OK),
    ],
)
def test_each_outcome_has_its_exit_code(result: SendResult, code: ExitCode) -> None:
    assert result.exit_code is code


def test_the_worst_outcome_decides_a_run() -> None:
    sent, later = SendResult("a", "sent"), SendResult("b", "deferred", 451)
    refused, unsure = SendResult("c", "failed", 550), SendResult("d", "uncertain")
    assert outbox.worst_exit([]) is ExitCode.OK
    assert outbox.worst_exit([sent, later]) is ExitCode.QUEUED
    assert outbox.worst_exit([later, refused, sent]) is ExitCode.MAIL_REFUSED
    assert outbox.worst_exit([refused, unsure, later]) is ExitCode.UNCERTAIN


# ---------------------------------------------------------------- workflows without the CLI


def smtp_of(env: dict[str, str]) -> dict[str, Any]:
    cfg = config.load({})
    assert cfg.get("smtp.host") == env["SUPPORTCTL_SMTP_HOST"]
    return submit.smtp_settings(cfg)


def test_submit_returns_its_record_and_sends(server: Any, tmp_path: Path) -> None:  # noqa: F811
    seen: list[tuple[str, bool]] = []
    hooks = submit.Hooks(queued=lambda entry, reused: seen.append((entry.id, reused)))
    result = submit.submit(_pkg(), make_pdf(tmp_path), smtp_of(server.env()), hooks=hooks)
    assert result.exit_code is ExitCode.OK and result.sent is not None and result.entry is not None
    assert result.sent.state == "sent" and state_of(result.entry.id) == "sent"
    assert seen == [(result.entry.id, False)]  # told once, after the message was stored
    assert server.count() == 1
    assert result.composed.to == ("RegForm@msdirectservices.com",)


def test_submit_refused_recipient_is_exit_6_in_the_record(server: Any, tmp_path: Path) -> None:  # noqa: F811
    server.handler.refuse["RegForm@msdirectservices.com"] = "550 5.1.1 No such user"
    result = submit.submit(_pkg(), make_pdf(tmp_path), smtp_of(server.env()))
    assert result.exit_code is ExitCode.MAIL_REFUSED and result.sent is not None
    assert result.sent.state == "failed" and server.count() == 0


def test_submit_dry_run_and_eml_touch_no_server_and_no_outbox(server: Any, tmp_path: Path) -> None:  # noqa: F811
    pdf, smtp = make_pdf(tmp_path), smtp_of(server.env())
    dry = submit.submit(_pkg(), pdf, smtp, dry_run=True)
    assert dry.server is not None and dry.server["host"] == "127.0.0.1" and dry.exit_code is ExitCode.OK
    eml = tmp_path / "out.eml"
    written = submit.submit(_pkg(), pdf, smtp, eml=eml)
    assert written.eml == eml
    assert eml.read_bytes() == written.composed.message.as_bytes(policy=policy.SMTP)
    assert oct(eml.stat().st_mode & 0o777) == "0o600"
    assert outbox.entries() == [] and server.count() == 0


def test_request_package_goes_through_the_outbox_when_smtp_is_set(server: Any) -> None:  # noqa: F811
    cfg = config.load({})
    result = request.request_package(_pkg(), cfg, sender="Anna <anna@example.org>")
    assert result.exit_code is ExitCode.OK and result.entry is not None and result.sent is not None
    assert str(result.message["From"]) == "Anna <anna@example.org>" and server.count() == 1
    assert result.eml is None


def test_request_package_without_smtp_writes_a_file(tmp_path: Path) -> None:
    cfg = config.load({})
    result = request.request_package(_pkg(), cfg, eml=tmp_path / "req.eml")
    assert result.eml == tmp_path / "req.eml" and result.sent is None and result.exit_code is ExitCode.OK
    assert b"Bitte um die Registrierungsunterlagen" in result.eml.read_bytes()
    with pytest.raises(UsageError):
        request.request_package(_pkg(), cfg, send=True, eml=tmp_path / "x.eml")


# ---------------------------------------------------------------- one address check


@pytest.mark.parametrize("addr", ["name@example.com", "a.b+tag@mail.example.de", "root@localhost"])
def test_addresses_that_pass(addr: str) -> None:
    assert compose.check_address(f"  {addr} ", "--to") == addr


@pytest.mark.parametrize(
    "addr", ["", "no-at-sign", "a@b", "two@@example.com", "a b@example.com", "ä@example.com", "x@exa mple.com"]
)
def test_addresses_that_fail_say_which_option(addr: str) -> None:
    with pytest.raises(UsageError) as err:
        compose.check_address(addr, "--cc")
    assert err.value.message == f"--cc: {addr!r} is not an e-mail address"
    assert err.value.hint == "give one address like name@example.com"


def test_the_package_request_uses_the_same_check() -> None:
    with pytest.raises(UsageError) as err:
        compose.compose_request(_pkg(), "anna@", None)
    assert err.value.message == "--from: 'anna@' is not an e-mail address"


@given(st.text(max_size=40))
def test_check_address_accepts_only_what_it_returns(text: str) -> None:
    try:
        got = compose.check_address(text, "--to")
    except UsageError:
        return
    assert got == text.strip() and got.isascii() and got.count("@") == 1 and " " not in got


# ---------------------------------------------------------------- one secret-command runner (SMTP and IMAP)


def script(tmp_path: Path, body: str) -> str:
    p = tmp_path / "secret.py"
    p.write_text(body)
    return f"{sys.executable} {p}"


def test_imap_password_from_the_environment_first(tmp_path: Path) -> None:
    never = script(tmp_path, "raise SystemExit(3)\n")
    secret = credentials.imap_password("desk", "mail.example.com", never, environ={"SUPPORTCTL_IMAP_PASSWORD": "pw"})
    assert secret.value == "pw" and secret.source == "env" and str(secret) == "***"


def test_imap_password_command_follows_the_smtp_rules(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    cmd = script(tmp_path, "import sys\nsys.stderr.write('unlocking\\n')\nprint('s3cret')\nprint('second line')\n")
    secret = credentials.imap_password("desk", "mail.example.com", cmd, environ={})
    assert secret.value == "s3cret" and secret.source == "command"
    assert capfd.readouterr().err == "unlocking\n"  # the helper's stderr is the user's, as for SMTP
    assert credentials.run_secret_command(cmd, "smtp.password_command") == "s3cret"


def test_imap_password_command_output_is_capped(tmp_path: Path) -> None:
    cmd = script(tmp_path, "import sys\nsys.stdout.write('x' * 100000)\n")
    value = credentials.imap_password("desk", "h", cmd, environ={}).value
    assert len(value) == credentials.MAX_SECRET_BYTES


def test_imap_password_command_failure_names_the_setting(tmp_path: Path) -> None:
    cmd = script(tmp_path, "print('leaked?')\nraise SystemExit(4)\n")
    with pytest.raises(ConfigError) as err:
        credentials.imap_password("desk", "h", cmd, environ={})
    assert err.value.message == "imap.password_command: the command failed with status 4"
    assert "leaked" not in str(err.value.to_dict())


def test_no_imap_password_anywhere_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        credentials.imap_password("desk", "h", None, environ={})
    assert err.value.message == "no password for desk at h (source: auto)" and err.value.exit_code is ExitCode.CONFIG
    assert err.value.hint == (
        "set SUPPORTCTL_IMAP_PASSWORD, store it in the keyring, set imap.password_command, "
        "or run on a terminal to be asked"
    )


def test_imap_prompt_only_when_given() -> None:
    asked: list[str] = []
    secret = credentials.imap_password("desk", "h", None, environ={}, prompt=lambda t: asked.append(t) or "typed")
    assert secret.value == "typed" and secret.source == "prompt" and asked == ["Password for desk at h: "]


# ---------------------------------------------------------------- one findings renderer


FINDING = {"field": "last_name", "code": "latin", "message": "contains U+0416", "suggestion": "Zhukova"}


def test_findings_in_the_interface_language_and_in_the_applicants() -> None:
    from supportctl import i18n
    from supportctl.form.validation import Finding, finding_line

    assert finding_line(FINDING) == "field last_name: contains U+0416; suggestion: Zhukova"
    assert finding_line(FINDING, "de") == "Feld last_name: contains U+0416; Vorschlag: Zhukova"
    assert finding_line(Finding("email", "email", '"email": bad'), label=False) == '"email": bad'
    assert finding_line({**FINDING, "field": None}) == "contains U+0416"
    unknown = Finding("nmae", "unknown-field", 'unknown field "nmae"; did you mean "name"?', "name")
    assert finding_line(unknown) == 'field nmae: unknown field "nmae"; did you mean "name"?'
    try:
        i18n.set_language("de")
        assert finding_line(FINDING) == "Feld last_name: contains U+0416; Vorschlag: Zhukova"
        assert finding_line(FINDING, "en") == "field last_name: contains U+0416; suggestion: Zhukova"
    finally:
        i18n.set_language("en")


# ---------------------------------------------------------------- the desk's done markers


def _mark(n: int, home: str) -> None:
    os.environ["XDG_STATE_HOME"] = home
    for i in range(20):
        triage.mark_done(f"{n:02d}{i:010d}", {"action": "contract", "n": n})


def test_concurrent_mark_done_loses_no_record(isolated: Path) -> None:
    home = os.environ["XDG_STATE_HOME"]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_mark, args=(n, home)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(triage.load_done()) == 80


def test_mark_done_waits_for_the_outbox_lock(isolated: Path) -> None:
    ctx = multiprocessing.get_context("spawn")  # a forked child would inherit the lock it waits for
    with flock(outbox.lock_path()):
        p = ctx.Process(target=_mark, args=(7, os.environ["XDG_STATE_HOME"]))
        p.start()
        time.sleep(1.0)
        assert triage.load_done() == {}  # held off while the outbox is being changed
    p.join(60)
    assert p.exitcode == 0 and len(triage.load_done()) == 20
