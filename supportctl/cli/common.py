"""What the command modules share: common options, loading config and package, and rendering send results.

The one public helper module of the CLI: command modules import from here, never each other's privates.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from supportctl import output as out
from supportctl.errors import ExitCode
from supportctl.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

    from supportctl.config import Config
    from supportctl.mail.credentials import Prompt
    from supportctl.mail.outbox import Entry, SendResult
    from supportctl.mail.submit import Hooks
    from supportctl.package.manifest import Package

# Where `begin` leaves the command's name and --json for the error mapping (`_base._Group.invoke`).
JSON_KEY = "supportctl.json"
COMMAND_KEY = "supportctl.command"
STREAM_KEY = "supportctl.stream"
# Commands whose --json is an NDJSON stream (`begin(…, stream=True)`): a usage error, found before the command
# runs, is then a record of that stream too.
STREAM_COMMANDS = frozenset({"inbox"})


def argument(help_text: str, metavar: str, complete: Callable[..., Any] | None = None) -> Any:
    """A required argument with its help, its metavar and what completes it (for `Annotated[str, …]`).

    `tools/catalog.py` extracts the metavar words of `argument(…, "METAVAR")` as it does `metavar="…"`."""
    return typer.Argument(help=help_text, metavar=metavar, autocompletion=complete)


def option(flags: str, help_text: str, metavar: str | None = None) -> Any:
    """An option with its flags (`"--dest -d"`), its help and its metavar (for `Annotated[…, option(…)]`).

    `tools/catalog.py` extracts the metavar words of `option(…, "METAVAR")` as it does `metavar="…"`."""
    return typer.Option(*flags.split(), help=help_text, metavar=metavar)


def seconds_option(flag: str, help_text: str, minimum: float) -> Any:
    """An option that takes a number of SECONDS, at least `minimum`."""
    return typer.Option(flag, help=help_text, metavar="SECONDS", min=minimum)


JsonOpt = Annotated[bool, option("--json", _("Print one JSON document (see README) instead of text."))]
PackageOpt = Annotated[str | None, option("--package -p", _("Document package (directory or .zip)."), "P")]
TzOpt = Annotated[str | None, option("--tz", _("Your time zone for display (default: local)."), "TZ")]
ServerCaOpt = Annotated[str | None, option("--ca-bundle", _("CA certificates to verify the server with."), "FILE")]
DeliverabilityOpt = Annotated[bool, option("--check-deliverability", _("Also look up the e-mail domain in DNS."))]


def begin(ctx: typer.Context, command: str, json_output: bool, stream: bool = False) -> None:
    """Every command starts here: an error from now on is reported as `command`, in JSON with --json."""
    ctx.meta[JSON_KEY] = json_output
    ctx.meta[COMMAND_KEY] = command
    ctx.meta[STREAM_KEY] = stream  # --json prints NDJSON records (inbox): errors become records too


def load_config(flags: dict[str, Any] | None = None) -> Config:
    from supportctl import config

    cfg = config.load(flags)
    for w in cfg.warnings:
        out.say(_("warning: {message}").format(message=w))
    return cfg


def load_package(flag: str | None, cfg: Config) -> Package:
    from supportctl.package import manifest as package

    root_dir, source = package.choose(flag, cfg.get("package"))
    pkg = package.open_package(root_dir)
    notes = {
        "flag": _("Using package {name} {version} from {path} (--package)"),
        "config": _("Using package {name} {version} from {path} (configured)"),
        "last-fetched": _("Using package {name} {version} from {path} (last fetched)"),
        "bundled": _("Using the bundled package {name} {version}"),
    }
    out.say(notes[source].format(name=pkg.name, version=pkg.version, path=root_dir))
    return pkg


# ---------------------------------------------------------------- sending (submit, outbox, inbox reply, fetch)


def mail_config(flags: dict[str, Any]) -> tuple[Config, dict[str, Any]]:
    """The config (with `flags`) and its resolved `smtp.*` settings; a password in the file is refused."""
    from supportctl.mail import submit

    cfg = load_config(flags)
    return cfg, submit.smtp_settings(cfg)


def password_prompt() -> Prompt | None:
    """A hidden prompt, only when a person is at a terminal; the core never prompts by itself."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return lambda text: getpass.getpass(text)


def hooks(queued: Callable[[Entry, bool], None] | None = None) -> Hooks:
    """What a sending workflow may ask of the terminal: the password prompt, warnings on stderr, `queued`."""
    from supportctl.mail.submit import Hooks

    return Hooks(password_prompt(), out.say, queued)


def report_sent(
    command: str,
    result: SendResult,
    data: dict[str, Any],
    json_output: bool,
    failed_hint: str | None = None,
    next_step: str | None = None,
) -> NoReturn:
    """The outcome of sending one queued message (`SendResult.lines`, `.errors`), and the exit status it gives.

    `next_step` is said (on stderr) once the message was sent now."""
    code = result.exit_code
    if json_output:
        data = {**data, "result": result.to_dict()}
        out.write_out(out.envelope(command, data, result.errors(failed_hint), ok=code == ExitCode.OK))
    else:
        out.say_lines(result.lines(failed_hint, next_step))
    raise typer.Exit(int(code))
