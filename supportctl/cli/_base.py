"""The Typer layer's base: the app, error mapping, help and language plumbing (start-up: `_startup`).

The `supportctl.cli` package is the only place that imports typer. Each command group lives in its own
module (`_eta`, `_fetch`, `_form`, `_config`, `_mail`, `_status`, `_inbox`), imported only when that command runs
(`_startup.main`).

Errors from the core (`SupportctlError`) become one stderr line and an exit code in one place:
`Group.invoke`. Heavy modules are imported inside the commands that need them.

No `from __future__ import annotations` here, in `_eta` and in `_inbox` (the modules of `eta`'s start-up and of
the desk's reruns): Typer reads the annotations of every command it builds on each start, and string annotations
it must eval twice each (for `inbox`, 2-3 ms of its start-up).
"""

import re
import sys
from difflib import get_close_matches
from typing import Annotated, Any, NoReturn

import click
import typer
from typer.core import TyperGroup

from supportctl import __version__
from supportctl import output as out
from supportctl.cli.common import COMMAND_KEY, JSON_KEY, STREAM_COMMANDS, STREAM_KEY, option
from supportctl.errors import ExitCode, SupportctlError, Terminated, os_message
from supportctl.i18n import N_, _, ngettext


class Group(TyperGroup):
    """Maps every `SupportctlError` (and Ctrl-C) to one stderr line, the --json envelope and an exit code.

    Click and Typer look their own words up with gettext (routed to our catalogue below); what they
    print whole in English is done here: usage errors (`main`), "did you mean" (`resolve_command`) and
    `--install-completion`'s report (`get_params`).
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SupportctlError as exc:
            _fail(ctx, exc)
        except Terminated:
            out.say(_("terminated"))
            raise typer.Exit(ExitCode.TERMINATED) from None
        except KeyboardInterrupt:
            out.say(_("interrupted"))
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:
            _quiet_broken_pipe()
        except OSError as exc:
            # Anything the core did not anticipate is still one line, never a traceback.
            _fail(ctx, SupportctlError(_("{reason}").format(reason=os_message(exc))))

    def main(self, *args: Any, **extra: Any) -> Any:
        _localize(self)
        standalone, extra["standalone_mode"] = extra.get("standalone_mode", True), False
        if not standalone:
            return super().main(*args, **extra)
        # Click prints its errors as "Usage: …\nError: …": ours are one line, with the --json envelope.
        try:
            rv = super().main(*args, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            out.say(e.format_message())
            sys.exit(ExitCode.USAGE)
        except click.UsageError as e:
            _usage_failed(e, list(extra.get("args") or sys.argv[1:]))
        except click.ClickException as e:
            out.say(out.error_line(e.format_message(), None))
            sys.exit(e.exit_code)
        except click.Abort:
            out.say(_("aborted"))
            sys.exit(ExitCode.ERROR)
        sys.exit(rv if isinstance(rv, int) else 0)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:  # Click's lookup, without Typer's suggestion, which is English only
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as e:
            matches = get_close_matches(args[0], self.known_commands()) if args else []
            if matches:
                names = ", ".join(repr(m) for m in matches)
                hint = ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", len(matches))
                raise click.UsageError(
                    f"{e.message} {hint.format(possibility=names, possibilities=names)}", ctx
                ) from None
            raise

    def known_commands(self) -> list[str]:
        """Its subcommands' names, those `only_for` did not build included."""
        return [*self.commands, *LEFT_OUT.get(self.name or "", ())]

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for param in params:
            if param.name == "install_completion":  # Typer's callback reports in English
                param.callback = _install_completion
        return params


# Click and Typer look their own words up with gettext: route those lookups to our catalogue, which holds their
# msgids too (tools/catalog.py extracts them from the pinned versions).
for _module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.types):
    _module._ = _  # type: ignore[attr-defined]
    _module.ngettext = ngettext  # type: ignore[attr-defined]
typer.core._ = _  # type: ignore[attr-defined]


def _localize(cmd: Any) -> None:
    """Our texts Click shows as given: help (docstrings too), usage pieces and metavar words, translated."""
    cmd.help = _(cmd.help) if cmd.help else cmd.help
    cmd.options_metavar = _(N_("[OPTIONS]"))
    if isinstance(cmd, click.Group):
        cmd.subcommand_metavar = _(N_("COMMAND [ARGS]..."))
    for param in cmd.params:
        if getattr(param, "help", None):
            param.help = _(param.help)
        if param.metavar or isinstance(param, click.Argument):
            param.metavar = METAVAR_WORD.sub(lambda m: _(m.group(0)), param.metavar or param.name.upper())
    for sub in getattr(cmd, "commands", {}).values():
        _localize(sub)


METAVAR_WORD = re.compile(r"\b[A-Z][A-Z_]+\b")  # the words of a metavar (WHEN, [DOC]...): tools/ extracts them


def _install_completion(ctx: Any, param: Any, value: Any) -> Any:
    """Typer's `--install-completion`, reporting in the chosen language."""
    if not value or ctx.resilient_parsing:
        return value
    from typer.completion import install  # type: ignore[attr-defined]  # (from typer._completion_shared)

    shell, path = install(shell=value) if isinstance(value, str) else install()
    out.write_out(_("{shell} completion installed in {path}").format(shell=shell, path=path))
    out.write_out(_("Completion will take effect once you restart the terminal"))
    sys.exit(0)


def _usage_failed(e: click.UsageError, argv: list[str]) -> NoReturn:
    from supportctl.errors import UsageError

    message = e.format_message()
    ctx = e.ctx
    if "--json" in argv:
        command = ctx.command_path.partition(" ")[2] if ctx is not None else ""
        _json_error(command or "supportctl", UsageError(message), command in STREAM_COMMANDS)
    out.say(out.error_line(message, None))
    missing_command = ctx is not None and isinstance(ctx.command, click.Group)  # no or an unknown subcommand
    if ctx is not None and (isinstance(e, click.MissingParameter) or missing_command):
        # Something is missing: the usage line says what the command takes (not the whole help page).
        out.say(ctx.get_usage())
    if ctx is not None and not isinstance(e, click.MissingParameter) and ctx.command.get_help_option(ctx) is not None:
        out.say(_("Try '{command} {option}' for help.").format(command=ctx.command_path, option="--help"))
    sys.exit(ExitCode.USAGE)


def _fail(ctx: Any, exc: SupportctlError) -> NoReturn:
    if ctx.meta.get(JSON_KEY):
        _json_error(ctx.meta.get(COMMAND_KEY, "supportctl"), exc, ctx.meta.get(STREAM_KEY, False))
    out.say(out.error_line(exc.message, exc.hint))
    raise typer.Exit(int(exc.exit_code))


def _json_error(command: str, exc: SupportctlError, stream: bool) -> None:
    """An error with --json: a record of the NDJSON stream (inbox), else the envelope with no data."""
    error = exc.to_dict()
    out.write_out(out.ndjson({"type": "error", **error}) if stream else out.envelope(command, None, [error], ok=False))


def _quiet_broken_pipe() -> NoReturn:
    # The reader went away (`| head`): not an error worth a traceback.
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    raise typer.Exit(ExitCode.ERROR)


# Plain Click help, on a terminal too: Rich help panels cost ~45 ms (an import of rich) on every `--help`,
# which would put `--help` at ~13x the start-up of `python -c pass` against a budget of 10x.
HELP_MARKUP: Any = None

app = typer.Typer(
    name="supportctl",
    cls=Group,
    rich_markup_mode=HELP_MARKUP,
    help=_("Register and activate a support contract: fetch, fill, validate, submit, eta; inbox for staff."),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out.write_out(f"supportctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help=_("Show the version and exit."))
    ] = False,
    lang: Annotated[
        str | None, option("--lang", _("Language of messages: de or en (also SUPPORTCTL_LANG, LANG)."), "de|en")
    ] = None,
) -> None:
    if lang is not None:
        from supportctl.i18n import normalize, set_language

        if normalize(lang) is None:
            raise typer.BadParameter(_("use de or en"), param_hint="--lang")
        set_language(normalize(lang))


LEFT_OUT: dict[str, list[str]] = {}  # group -> subcommands `only_for` left out: "did you mean" still knows them
