"""Issue 16, item 19: NO_COLOR means no escape sequences at all in tables on a terminal (not even bold)."""

from __future__ import annotations

import os
import sys

import pexpect

from tests.conftest import ROOT


def _table_on_a_terminal(**env_changes: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(PYTHONPATH=str(ROOT), **env_changes)
    child = pexpect.spawn(
        sys.executable, ["-m", "supportctl", "config", "show"], env=env, encoding="utf-8", timeout=20,
        dimensions=(40, 200),
    )  # fmt: skip
    text = child.read()
    child.close()
    assert child.exitstatus == 0, text
    assert "smtp.host" in text  # it is the table
    return str(text)


def test_no_color_table_has_no_escapes() -> None:
    assert "\x1b[" not in _table_on_a_terminal(NO_COLOR="1", TERM="xterm-256color")


def test_dumb_terminal_table_has_no_escapes() -> None:
    assert "\x1b[" not in _table_on_a_terminal(TERM="dumb")


def test_a_colour_terminal_still_gets_styles() -> None:
    assert "\x1b[1m" in _table_on_a_terminal(TERM="xterm-256color")  # the bold header: the test can fail


def test_bench_eta_leaves_nothing_in_tmp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 16, item 21: the benchmark's baseline venv and batch file are removed after the run."""
    import subprocess

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_eta.py"), "--runs", "1", "--items", "200"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "start-up" in p.stdout and "supportctl eta --batch (process)" in p.stdout
    assert list(scratch.iterdir()) == []


def test_state_codes_in_a_pipe_words_on_a_terminal_in_german() -> None:
    """Issue 16, item 18: scripts cutting columns see the codes of --json in every language."""
    import subprocess
    from email.message import EmailMessage

    from supportctl.mail import outbox

    msg = EmailMessage()
    msg["From"] = "me@example.org"
    msg["To"] = "desk@example.org"
    msg["Subject"] = "s"
    msg.set_content("x")
    e = outbox.enqueue(msg)
    env = dict(os.environ, PYTHONPATH=str(ROOT), LANG="de_DE.UTF-8")
    piped = subprocess.run(
        [sys.executable, "-m", "supportctl", "outbox", "list"], env=env, capture_output=True, text=True, timeout=30
    )
    assert piped.stdout.split("\t")[:2] == [e.id, "queued"]
    child = pexpect.spawn(
        sys.executable, ["-m", "supportctl", "outbox", "list"], env=dict(env, NO_COLOR="1"), encoding="utf-8",
        timeout=20, dimensions=(40, 200),
    )  # fmt: skip
    text = child.read()
    child.close()
    assert "eingereiht" in text and "queued" not in text


def _leaf_commands():  # type: ignore[no-untyped-def]
    import click
    import typer

    from supportctl.cli import app

    root = typer.main.get_command(app)

    def walk(cmd, path, ctx):  # type: ignore[no-untyped-def]
        if isinstance(cmd, click.Group):
            yield " ".join(path), cmd, ctx  # a group's own options (inbox SOURCE --interval …) count too
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                yield from walk(sub, [*path, name], click.Context(sub, parent=ctx, info_name=name))
        else:
            yield " ".join(path), cmd, ctx

    yield from walk(root, [], click.Context(root, info_name="supportctl"))


def test_an_option_shows_one_metavar_in_every_command() -> None:
    """Audit: `fetch --from ADDR` but `submit --from TEXT`, `config smtp --ca-bundle TEXT` but FILE elsewhere,
    `inbox --interval SECONDS` but `status --interval INTEGER RANGE`."""
    import click

    metavars: dict[str, dict[str, list[str]]] = {}
    for path, cmd, ctx in _leaf_commands():
        for p in cmd.get_params(ctx):
            if isinstance(p, click.Option) and not p.is_flag:
                metavars.setdefault(max(p.opts, key=len), {}).setdefault(p.make_metavar(ctx), []).append(path)
    assert {name: m for name, m in metavars.items() if len(m) > 1} == {}
    assert set(metavars["--from"]) == {"ADDR"} and set(metavars["--ca-bundle"]) == {"FILE"}
    assert set(metavars["--to"]) == {"ADDR"} and set(metavars["--cc"]) == {"ADDR"}
    assert set(metavars["--interval"]) == {"SECONDS"}


def test_config_help_names_its_subcommands(proc) -> None:  # type: ignore[no-untyped-def]
    """Audit: `config` said "Show the effective settings…", yet `supportctl config` shows nothing (exit 2):
    the settings are `config show`, and the group also has `path` and `smtp`. (A real process: help texts are
    translated when the CLI is imported.)"""
    text = "Settings: show them and where they come from (show), the file's path (path), sending (smtp)."
    assert text in " ".join(proc("config", "--help").stdout.split())
    r = proc("config", "--help", env={"LANG": "de_DE.UTF-8"})
    assert "Einstellungen: anzeigen samt Herkunft (show), Pfad der Datei (path), Senden einrichten (smtp)." in (
        " ".join(r.stdout.split())
    )
    assert "config    Settings: show them" in proc("--help").stdout
