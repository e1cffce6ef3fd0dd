"""Issue 16, items 9 and 10: messages name the user's path once, in words, never Python's raw texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from supportctl.errors import ExitCode
from tests import formkit
from tests.test_fill_cli import data_file
from tests.test_mail import make_pdf

needs_form = pytest.mark.skipif(
    not (formkit.package_root() / "registration-form.pdf").exists(), reason="the default form PDF is not built"
)
RAW = re.compile(r"\[Errno|\.tmp\b|\[SSL|Traceback|\{\{")


def last_line(stderr: str) -> str:
    assert not RAW.search(stderr), stderr
    return stderr.strip().splitlines()[-1]


@needs_form
def test_fill_out_to_a_directory_names_it_and_asks_for_a_file_name(cli, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    r = cli("fill", "--data", str(data_file(tmp_path)), "--no-input", "--out", "adir")
    assert r.exit_code == ExitCode.ERROR
    assert last_line(r.stderr) == "error: adir: it is a directory; give a file name"
    assert list((tmp_path / "adir").iterdir()) == []


def test_submit_eml_to_a_directory(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTCTL_SMTP_FROM", "me@example.org")
    (tmp_path / "adir").mkdir()
    r = cli("submit", str(make_pdf(tmp_path)), "--eml", str(tmp_path / "adir"))
    assert r.exit_code == ExitCode.ERROR
    assert last_line(r.stderr) == f"error: {tmp_path / 'adir'}: it is a directory; give a file name"


def test_request_eml_to_a_directory(cli, tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    r = cli("fetch", "--request", "--eml", "adir")
    assert r.exit_code == ExitCode.ERROR
    assert last_line(r.stderr) == (
        "error: cannot write adir: it is a directory; give a file name (choose another file with --eml FILE)"
    )


def test_missing_data_file_names_the_path_once(cli) -> None:
    r = cli("fill", "--data", "nope.json", "--no-input")
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert last_line(r.stderr) == "error: cannot read nope.json: no such file or directory"


def test_bad_data_hint_has_single_braces(cli, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("first_name: Łukasz\n")
    r = cli("fill", "--data", "bad.json", "--no-input")
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert last_line(r.stderr).endswith('(e.g. {"first_name": "Łukasz", "terms_accepted": true})')


def test_config_show_prints_booleans_as_in_the_file(cli, isolated: Path) -> None:
    r = cli("config", "show")
    rows = dict(line.split("\t")[:2] for line in r.stdout.splitlines())
    assert rows["smtp.allow_plaintext_auth"] == "false"
    assert "False" not in r.stdout and "True" not in r.stdout


def test_tls_to_a_plain_port_says_so_in_words(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import smtpserver

    srv = smtpserver.start(tmp_path)  # speaks plain SMTP (then STARTTLS) on its port
    try:
        for k, v in srv.env(SUPPORTCTL_SMTP_SECURITY="tls").items():
            monkeypatch.setenv(k, v)
        r = cli("submit", str(make_pdf(tmp_path)))
        assert r.exit_code == ExitCode.TRANSFER
        assert "the server does not speak TLS on that port (check the port and the security setting)" in r.stderr
        assert not RAW.search(r.stderr), r.stderr
    finally:
        srv.stop()


def test_outbox_times_have_no_microseconds(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import smtpserver

    srv = smtpserver.start(tmp_path)
    try:
        for k, v in srv.env().items():
            monkeypatch.setenv(k, v)
        pdf = make_pdf(tmp_path)
        assert cli("submit", str(pdf)).exit_code == 0
        r = cli("submit", str(pdf))
        assert not re.search(r"\d\d:\d\d:\d\d\.\d+", r.stderr), r.stderr
    finally:
        srv.stop()


# ---------------------------------------------------------------- item 11: --json, the same everywhere


def test_json_before_the_command_works_like_lang(proc) -> None:
    r = proc("--json", "eta", "--at", "2026-11-30T10:00:00+01:00", "-c", "critical")
    assert r.exit_code == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["command"] == "eta" and body["data"]["results"][0]["due"] == "2026-11-30T11:00:00+01:00"
    r = proc("--lang", "de", "--json", "outbox", "list")
    assert r.exit_code == 0 and json.loads(r.stdout)["data"] == {"messages": []}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["outbox", "--json", "list"], "outbox list"),
        (["outbox", "--json"], "outbox list"),
        (["--json", "outbox", "list"], "outbox list"),
        (["config", "--json", "show"], "config show"),
        (["inbox", "--json", "show", "abcdef"], "inbox show"),
    ],
)
def test_json_before_a_subcommand_reaches_it(cli, argv: list[str], command: str) -> None:
    """A group's `--json` is the subcommand's: `outbox --json list` printed the text table (the group took the
    flag, `list` never saw it), so a script got text where it asked for JSON."""
    r = cli(*argv)
    body = json.loads(r.stdout)
    assert (body["version"], body["command"], body["ok"]) == (1, command, r.exit_code == 0)


def test_json_moves_only_from_before_the_subcommand() -> None:
    from supportctl.cli import hoist_lang

    assert hoist_lang(["outbox", "--json", "show", "ID"]) == ["outbox", "show", "ID", "--json"]
    assert hoist_lang(["--json", "outbox", "retry", "--", "-x"]) == ["outbox", "retry", "--json", "--", "-x"]
    # inbox's own --json (SOURCE is no subcommand), and a --json after the subcommand, stay where they are
    assert hoist_lang(["inbox", "--json", "imaps://u@h/INBOX"]) == ["inbox", "--json", "imaps://u@h/INBOX"]
    assert hoist_lang(["inbox", "show", "--json", "ID"]) == ["inbox", "show", "--json", "ID"]


def test_eta_batch_json_is_the_ndjson_stream_and_refuses_csv(cli) -> None:
    r = cli("eta", "--batch", "--json", "-c", "critical", input="2026-11-30T10:00:00+01:00\n")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["due"] == "2026-11-30T11:00:00+01:00"
    r = cli("eta", "--batch", "--json", "--format", "csv", input="2026-11-30T10:00:00+01:00\n")
    assert r.exit_code == ExitCode.USAGE and r.stdout.startswith('{"version": 1')
    assert "--json streams NDJSON; leave out --format csv" in r.stderr


@needs_form
def test_validate_json_failure_keeps_every_forms_result(cli, tmp_path: Path) -> None:
    """README: `data` is null on failure, except where the command did part of its work (validate, fetch --print)."""
    (tmp_path / "junk.pdf").write_bytes(b"not a pdf")
    r = cli("validate", "junk.pdf", "--json")
    body = r.json()
    assert r.exit_code == ExitCode.INVALID_INPUT and body["ok"] is False
    assert body["data"]["forms"][0]["path"] == "junk.pdf" and body["errors"][0]["path"] == "junk.pdf"


def test_os_errors_in_german(cli, tmp_path: Path) -> None:
    """Issue 16, item 18: errno texts follow the language (Python's strerror is English only)."""
    r = cli("--lang", "de", "fill", "--data", "nope.json", "--no-input")
    assert last_line(r.stderr) == "Fehler: nope.json kann nicht gelesen werden: Datei oder Verzeichnis nicht gefunden"
    (tmp_path / "adir").mkdir()
    r = cli("--lang", "de", "fetch", "--request", "--eml", "adir")
    assert "das ist ein Verzeichnis; geben Sie einen Dateinamen an" in last_line(r.stderr)


def test_connection_refused_in_words(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        for k, v in {
            "SUPPORTCTL_SMTP_HOST": "127.0.0.1",
            "SUPPORTCTL_SMTP_PORT": str(port),
            "SUPPORTCTL_SMTP_FROM": "me@example.org",
            "SUPPORTCTL_SMTP_AUTH": "none",
        }.items():
            monkeypatch.setenv(k, v)
        r = cli("--lang", "de", "submit", str(make_pdf(tmp_path)))
    assert r.exit_code == ExitCode.TRANSFER
    assert "Verbindung abgelehnt (läuft der Server, und ist es der richtige Port?)" in r.stderr
    assert not RAW.search(r.stderr)


def test_a_typo_in_a_document_name_gets_did_you_mean(cli) -> None:
    """Issue 16, item 8 (second half)."""
    r = cli("show", "servce-description")
    assert r.exit_code == ExitCode.USAGE
    assert last_line(r.stderr) == (
        "error: the package has no document 'servce-description' (did you mean 'service-description'? "
        "choose one of: terms, fields, service-description, registration-form)"
    )
    r = cli("show", "xyz")
    assert last_line(r.stderr).endswith("(choose one of: terms, fields, service-description, registration-form)")
    r = cli("print", "term")
    assert r.exit_code == ExitCode.USAGE and "did you mean 'terms'?" in last_line(r.stderr)


# ---------------------------------------------------------------- item 7: one exit code per kind of mistake

ONE_RULE = [
    # a bad option value: 2
    (["eta", "--class", "foo"], ExitCode.USAGE),
    (["eta", "--standard-mode", "foo"], ExitCode.USAGE),
    (["config", "smtp", "--security", "bogus", "--no-test", "--host", "h"], ExitCode.USAGE),
    (["config", "smtp", "--port", "abc"], ExitCode.USAGE),
    # an unknown id or name: 2
    (["outbox", "show", "nope"], ExitCode.USAGE),
    (["inbox", "reply", "0123456789ab", "--contract", "1", "--dry-run"], ExitCode.USAGE),
    (["show", "nope"], ExitCode.USAGE),
    # a file you name that cannot be read: 3
    (["validate", "nope.pdf"], ExitCode.INVALID_INPUT),
    (["submit", "nope.pdf"], ExitCode.INVALID_INPUT),
    (["fetch", "nope.zip"], ExitCode.INVALID_INPUT),
    (["inbox", "nope.mbox"], ExitCode.INVALID_INPUT),
    (["fill", "--data", "nope.json", "--no-input"], ExitCode.INVALID_INPUT),
]


@pytest.mark.parametrize(("args", "code"), ONE_RULE, ids=[" ".join(a[:3]) for a, _c in ONE_RULE])
def test_one_exit_code_per_kind_of_mistake(cli, args: list[str], code: int) -> None:
    r = cli(*args)
    assert r.exit_code == code, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "smtp.security: smtp.security" not in errors[0], r.stderr
    assert not RAW.search(r.stderr)


# ---------------------------------------------------------------- item 8: a missing argument is one line + usage


@pytest.mark.parametrize(
    ("args", "error", "usage"),
    [
        (["submit"], "error: Missing argument 'FORM.pdf'.", "Usage: supportctl submit [OPTIONS] FORM.pdf"),
        (["validate"], "error: Missing argument 'FORM.pdf…'.", "Usage: supportctl validate [OPTIONS] FORM.pdf…"),
        (["outbox", "show"], "error: Missing argument 'ID'.", "Usage: supportctl outbox show [OPTIONS] ID"),
        (["outbox", "resolve"], "error: Missing argument 'ID'.", "Usage: supportctl outbox resolve [OPTIONS] ID"),
        (
            ["show"],
            "error: Missing argument 'service-description|terms|fields|DOC'.",
            "Usage: supportctl show [OPTIONS] service-description|terms|fields|DOC",
        ),
    ],
)
def test_a_missing_argument_is_one_line_and_the_usage(proc, args: list[str], error: str, usage: str) -> None:
    r = proc(*args)
    assert r.exit_code == ExitCode.USAGE and r.stdout == ""
    assert r.stderr.splitlines() == [error, usage]  # not the whole help page


def test_a_missing_command_is_one_line_usage_and_where_help_is(proc) -> None:
    r = proc("config")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.splitlines() == [
        "error: Missing command.",
        "Usage: supportctl config [OPTIONS] COMMAND [ARGS]...",
        "Try 'supportctl config --help' for help.",
    ]


def test_a_missing_argument_in_german(proc) -> None:
    r = proc("--lang", "de", "submit")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.splitlines() == [
        "Fehler: Argument fehlt 'FORMULAR.pdf'.",
        "Aufruf: supportctl submit [OPTIONEN] FORMULAR.pdf",
    ]


@pytest.mark.parametrize("command", [["submit"], ["print"]])
def test_a_missing_form_is_said_in_the_users_language(cli, command: list[str]) -> None:
    """Audit: `--lang de submit nope.pdf` said "… kann nicht gelesen werden: No such file or directory" (the OS's
    English text), where `fill --data nope.toml` says it in German."""
    r = cli("--lang", "de", *command, "nope.pdf")
    assert r.exit_code == ExitCode.INVALID_INPUT
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("Fehler: nope.pdf kann nicht gelesen werden: Datei oder Verzeichnis nicht gefunden"), line
    r = cli("--lang", "en", *command, "nope.pdf")
    assert "error: cannot read nope.pdf: no such file or directory" in r.stderr, r.stderr


def test_a_secret_command_or_a_directory_that_fails_is_said_in_the_users_language(tmp_path: Path) -> None:
    """The OS's reason went into these sentences as Python's English strerror, in German output too."""
    from supportctl.errors import ConfigError
    from supportctl.fsutil import private_dir
    from supportctl.i18n import speaking
    from supportctl.mail.credentials import run_secret_command

    prog = tmp_path / "prog"
    prog.write_text("#!/bin/sh\necho secret\n")  # not executable: even root cannot run it
    with speaking("de"), pytest.raises(ConfigError) as caught:
        run_secret_command(str(prog), "smtp.password_command")
    assert caught.value.message == f"smtp.password_command: {prog} kann nicht ausgeführt werden: Zugriff verweigert"
    (tmp_path / "file").write_text("")
    with speaking("de"), pytest.raises(ConfigError) as caught:
        private_dir(tmp_path / "file" / "state")
    assert caught.value.message.endswith(": ein Teil des Pfads ist kein Verzeichnis"), caught.value.message


def test_config_show_in_a_pipe_gives_the_source_codes_in_every_language(cli, monkeypatch) -> None:
    """Audit: in a pipe the Source column was the translated word ("Konfigurationsdatei", "Umgebung (…)"), where
    the README promises the stable codes of --json there, so that scripts cutting columns work in every language."""
    monkeypatch.setenv("SUPPORTCTL_SMTP_PORT", "25")
    for lang in ("de", "en"):
        rows = {
            line.split("\t")[0]: line.split("\t") for line in cli("--lang", lang, "config", "show").stdout.splitlines()
        }
        assert rows["smtp.port"] == ["smtp.port", "25", "env (SUPPORTCTL_SMTP_PORT)"]
        assert rows["smtp.host"] == ["smtp.host", "", "default"]
