"""The Typer layer's base: the app, error mapping, help and language plumbing, `config show|path`, `main`.

The `supportctl.cli` package is the only place that imports typer. Each command group lives in its own
module (`_eta`, `_fetch`, `_form`, `_mail`, `_inbox`), imported only when that command runs.

Errors from the core (`SupportctlError`) become one stderr line and an exit code in one place:
`Group.invoke`. Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from supportctl import __version__
from supportctl import output as out
from supportctl.cli.common import COMMAND_KEY, JSON_KEY, STREAM_KEY, JsonOpt, begin, load_config, os_reason
from supportctl.errors import ExitCode, SupportctlError
from supportctl.i18n import N_, _


class Group(TyperGroup):
    """Maps every `SupportctlError` (and Ctrl-C) to one stderr line, the --json envelope and an exit code.

    It also speaks the chosen language where Click would print English: help pages (`_help_page`),
    usage errors (`main`), and it hands the same to every subcommand it resolves (`get_command`).
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SupportctlError as exc:
            _fail(ctx, exc)
        except KeyboardInterrupt:
            out.say(_("interrupted"))
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:
            _quiet_broken_pipe()
        except OSError as exc:
            # Anything the core did not anticipate is still one line, never a traceback.
            _fail(ctx, SupportctlError(_("{reason}").format(reason=os_reason(exc))))

    def main(
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **kwargs: Any,
    ) -> Any:
        run = {"args": args, "prog_name": prog_name, "complete_var": complete_var, **kwargs}
        run["windows_expand_args"] = windows_expand_args
        if not standalone_mode:
            return super().main(standalone_mode=False, **run)
        # Click's own error printing is English-only: run non-standalone and print usage errors ourselves.
        exc = _click_exceptions()
        try:
            rv = super().main(standalone_mode=False, **run)
        except getattr(exc, "NoArgsIsHelpError", ()) as e:
            out.say(e.format_message())
            sys.exit(ExitCode.USAGE)
        except exc.UsageError as e:
            _usage_failed(e, sys.argv[1:] if args is None else list(args))
        except exc.ClickException as e:
            out.say(out.error_line(e.format_message(), None))
            sys.exit(e.exit_code)
        except typer.Abort:
            out.say(_("aborted"))
            sys.exit(ExitCode.ERROR)
        sys.exit(rv if isinstance(rv, int) else 0)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return _localized(super().get_command(ctx, cmd_name))

    def get_params(self, ctx: Any) -> Any:
        params = super().get_params(ctx)
        for param in params:
            if param.name == "install_completion":  # Typer's callback reports in English
                param.callback = _install_completion
        return params

    def get_help_option(self, ctx: Any) -> Any:
        return _help_option(super().get_help_option(ctx))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _help_page(self, ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self, limit, super().get_short_help_str)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        names = [n for n in self.list_commands(ctx) if (c := self.get_command(ctx, n)) is not None and not c.hidden]
        limit = formatter.width - 6 - max((len(n) for n in names), default=0)
        for name in names:
            rows.append((name, self.get_command(ctx, name).get_short_help_str(limit)))
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)


class _Command(TyperCommand):
    """A command whose help page and help option follow the chosen language (see `Group`)."""

    def get_help_option(self, ctx: Any) -> Any:
        return _help_option(super().get_help_option(ctx))

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _help_page(self, ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        return _short_help(self, limit, super().get_short_help_str)


def _localized(cmd: Any) -> Any:
    # Commands and sub-apps declared with Typer's default classes get ours, so every help page and usage
    # error speaks the chosen language whoever added the command and however.
    if type(cmd) is TyperCommand:
        cmd.__class__ = _Command
    elif type(cmd) is TyperGroup:
        cmd.__class__ = Group
    return cmd


# Typer's own options, whose help Typer writes in English.
_FRAMEWORK_HELP = {
    "install_completion": N_("Install completion for the current shell."),
    "show_completion": N_("Show completion for the current shell, to copy it or customize the installation."),
}
_METAVARS = {"<str>": N_("<text>"), "<int>": N_("<integer>"), "<float>": N_("<number>"), "<path>": N_("<path>")}
_USAGE_PIECES = {"[OPTIONS]": N_("[OPTIONS]"), "COMMAND [ARGS]...": N_("COMMAND [ARGS]...")}


def _install_completion(ctx: Any, param: Any, value: Any) -> Any:
    """Typer's `--install-completion`, reporting in the chosen language."""
    if not value or ctx.resilient_parsing:
        return value
    from typer._completion_shared import install

    shell, path = install(shell=value) if isinstance(value, str) else install()
    out.write_out(_("{shell} completion installed in {path}").format(shell=shell, path=path))
    out.write_out(_("Completion will take effect once you restart the terminal"))
    sys.exit(0)


def _help_option(opt: Any) -> Any:
    if opt is not None:
        opt.help = _("Show this message and exit.")
    return opt


def _short_help(cmd: Any, limit: int, base: Any) -> str:
    saved = cmd.help
    cmd.help = _(saved) if saved else saved
    try:
        return str(base(limit))
    finally:
        cmd.help = saved


def _help_page(cmd: Any, ctx: Any, formatter: Any) -> None:
    """Click's help page (usage, text, options, commands, epilog) with every framework word translated."""
    pieces = [_(_USAGE_PIECES[p]) if p in _USAGE_PIECES else _metavars(p) for p in cmd.collect_usage_pieces(ctx)]
    formatter.write_usage(_metavars(ctx.command_path), " ".join(pieces), prefix=_("Usage: "))
    text = _(cmd.help).partition("\f")[0] if cmd.help else ""
    if text:
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(text)
    args: list[tuple[str, str]] = []
    opts: list[tuple[str, str]] = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None:
            (args if param.param_type_name == "argument" else opts).append(_help_record(param, *record))
    for title, rows in ((_("Arguments"), args), (_("Options"), opts)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)
    if isinstance(cmd, Group):
        cmd.format_commands(ctx, formatter)
    cmd.format_epilog(ctx, formatter)


def _help_record(param: Any, name: str, text: str) -> tuple[str, str]:
    import re

    if param.name in _FRAMEWORK_HELP and param.help:
        text = text.replace(param.help, _(_FRAMEWORK_HELP[param.name]))
    elif param.help:  # a literal help="…" (i18n_catalog extracts those too); translated ones pass unchanged
        text = text.replace(param.help, _(param.help))
    name = _metavars(name)
    m = re.search(r"\[((?:default: |required|env var: )[^\]]*)\]$", text)
    if m:
        parts = []
        for part in m.group(1).split("; "):
            if part.startswith("default: "):
                part = _("default: {default}").format(default=part[len("default: ") :])
            elif part == "required":
                part = _("required")
            elif part.startswith("env var: "):
                part = _("env var: {var}").format(var=part[len("env var: ") :])
            parts.append(part)
        text = text[: m.start(1)] + "; ".join(parts) + text[m.end(1) :]
    for english, marked in _METAVARS.items():
        name = name.replace(english, _(marked))
    return name, text


def _metavars(text: str) -> str:
    """Word metavars (`SOURCE`, `WHEN`; i18n_catalog extracts them) in the chosen language."""
    import re

    return re.sub(r"\b[A-Z][A-Z_]+\b", lambda m: _(m.group(0)), text)


def _click_exceptions() -> Any:
    """Click's exception module: vendored inside Typer since 0.20-something, the `click` package before."""
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover - older Typer
        return importlib.import_module("click.exceptions")


# Click's English usage-error texts, as patterns, and their catalogue entries.
_CLICK_MESSAGES = (
    (
        r"No such command '(?P<name>[^']*)'\. Did you mean (?P<suggestions>.+)\?",
        N_("No such command '{name}'. Did you mean {suggestions}?"),
    ),
    (r"No such command '(?P<name>[^']*)'\.", N_("No such command '{name}'.")),
    (r"Missing command\.", N_("Missing command.")),
    (r"Option '(?P<option>[^']+)' requires an argument\.", N_("Option '{option}' requires a value.")),
    (r"Option '(?P<option>[^']+)' requires (?P<n>\d+) arguments\.", N_("Option '{option}' requires {n} values.")),
    (r"Option '(?P<option>[^']+)' does not take a value\.", N_("Option '{option}' does not take a value.")),
    (r"Got unexpected extra arguments? ?(?:\(s\))? \((?P<args>.*)\)", N_("Unexpected extra arguments ({args}).")),
    (r"(?P<value>.+) is not one of (?P<choices>.+)\.", N_("{value} is not one of {choices}.")),
    (r"(?P<value>.+) is not a valid integer\.", N_("{value} is not a whole number.")),
    (r"(?P<value>.+) is not a valid float\.", N_("{value} is not a number.")),
    (r"(?P<value>.+) is not a valid boolean\..*", N_("{value} is not a yes/no value.")),
)


def _click_message(e: Any) -> str:
    """A usage error's text in the chosen language (Click builds it in English)."""
    exc = _click_exceptions()
    if isinstance(e, exc.NoSuchOption):
        text = _("No such option: {option}").format(option=e.option_name)
        if e.possibilities:
            text = _("{message} (possible options: {options})").format(
                message=text, options=", ".join(sorted(e.possibilities))
            )
        return text
    if isinstance(e, exc.BadParameter):
        hint = e.param_hint
        if hint is None and e.param is not None:
            hint = e.param.get_error_hint(e.ctx)
        if hint is not None and not isinstance(hint, str):
            hint = " / ".join(repr(h) for h in hint)
        hint = _metavars(hint) if hint else hint
        if isinstance(e, exc.MissingParameter):
            kind = e.param_type or (e.param.param_type_name if e.param is not None else "")
            if kind == "argument":
                return _("Missing argument {name}.").format(name=hint or "")
            return _("Missing option {name}.").format(name=hint or "")
        reason = _click_detail(e.message)
        if hint:
            return _("Invalid value for {name}: {reason}").format(name=hint, reason=reason)
        return _("Invalid value: {reason}").format(reason=reason)
    return _click_detail(e.message)


def _click_detail(message: str) -> str:
    import re

    for pattern, msgid in _CLICK_MESSAGES:
        m = re.fullmatch(pattern, message, re.DOTALL)
        if m:
            return _(msgid).format(**m.groupdict())
    return message


def _usage_failed(e: Any, argv: list[str]) -> NoReturn:
    from supportctl.errors import UsageError

    message = _click_message(e)
    ctx = e.ctx
    if "--json" in argv:
        command = ctx.command_path.partition(" ")[2] if ctx is not None else ""
        out.write_out(out.envelope(command or "supportctl", None, [UsageError(message).to_dict()], ok=False))
    out.say(out.error_line(message, None))
    if ctx is not None and ctx.command.get_help_option(ctx) is not None:
        out.say(_("Try '{command} --help' for help.").format(command=_metavars(ctx.command_path)))
    sys.exit(ExitCode.USAGE)


def _fail(ctx: Any, exc: SupportctlError) -> NoReturn:
    meta = ctx.meta
    if meta.get(JSON_KEY) and meta.get(STREAM_KEY):
        out.write_out(out.ndjson({"type": "error", **exc.to_dict()}))  # a stream's errors are records of it
    elif meta.get(JSON_KEY):
        out.write_out(out.envelope(meta.get(COMMAND_KEY, "supportctl"), None, [exc.to_dict()], ok=False))
    out.say(out.error_line(exc.message, exc.hint))
    raise typer.Exit(int(exc.exit_code))


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
config_app = typer.Typer(
    cls=Group,
    rich_markup_mode=HELP_MARKUP,
    help=_("Show the effective settings and where they come from."),
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


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
        str | None,
        typer.Option("--lang", help=_("Language of messages: de or en (also SUPPORTCTL_LANG, LANG)."), metavar="de|en"),
    ] = None,
) -> None:
    """Register and activate a support contract."""
    if lang is not None:
        from supportctl.i18n import normalize, set_language

        if normalize(lang) is None:
            raise typer.BadParameter(_("use de or en"), param_hint="--lang")
        set_language(normalize(lang))


@config_app.command("show")
def config_show(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print every setting, its value and where it came from (flag, environment, file, default)."""
    begin(ctx, "config show", json_output)
    cfg = load_config()
    settings = {
        key: {"value": r.value, "source": r.source, "origin": r.origin} for key, r in sorted(cfg.values.items())
    }
    if settings.get("package_url", {}).get("value"):
        from supportctl.package.urlauth import redact

        settings["package_url"]["value"] = redact(str(settings["package_url"]["value"]))  # a password in it
    if json_output:
        out.write_out(
            out.envelope("config show", {"path": str(cfg.path), "exists": cfg.file_exists, "settings": settings})
        )
        return
    sources = {"env": _("environment"), "file": _("config file"), "default": _("default"), "flag": _("flag")}
    rows = []
    for key, s in settings.items():
        # As written in the config file (TOML): true/false, not Python's True/False.
        value = (
            "" if s["value"] is None else str(s["value"]).lower() if isinstance(s["value"], bool) else str(s["value"])
        )
        where = sources[s["source"]] + (f" ({s['origin']})" if s["source"] == "env" else "")
        rows.append([key, value, where])
    out.table(_("Settings ({path})").format(path=cfg.path), [_("Setting"), _("Value"), _("Source")], rows)


@config_app.command("path")
def config_path(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print the path of the config file (it need not exist); the state and cache directories on stderr."""
    begin(ctx, "config path", json_output)
    from supportctl import paths

    p = paths.config_file()
    state, cache = paths.state_dir(), paths.cache_dir()
    if json_output:
        data = {"path": str(p), "exists": p.exists(), "state": str(state), "cache": str(cache)}
        out.write_out(out.envelope("config path", data))
        return
    out.write_out(str(p))  # stdout stays the config file alone: scripts use $(supportctl config path)
    out.say(_("state: {path}").format(path=state))
    out.say(_("cache: {path}").format(path=cache))


def main(argv: list[str] | None = None) -> None:
    """Console entry point (see `supportctl.__main__`, which picks the language first)."""
    args = hoist_lang(list(sys.argv[1:] if argv is None else argv))
    only_for(args)(args=args, prog_name="supportctl")


_GLOBAL_FLAGS = ("-h", "--help", "--version", "--install-completion", "--show-completion")


# Which module registers each top-level command. `config` needs `_mail` too (`config smtp`).
VERB_MODULES: dict[str, tuple[str, ...]] = {
    "eta": ("_eta",),
    "config": ("_mail",),
    "fetch": ("_fetch",),
    "show": ("_fetch",),
    "print": ("_fetch",),
    "fill": ("_form",),
    "validate": ("_form",),
    "submit": ("_mail",),
    "outbox": ("_mail",),
    "inbox": ("_inbox",),
    "status": ("_status",),
}
ALL_MODULES = ("_eta", "_fetch", "_form", "_mail", "_status", "_inbox")  # the order of `--help`'s command list


def load(*modules: str) -> None:
    """Import command modules; importing one registers its commands on `app`."""
    import importlib

    for m in modules:
        importlib.import_module(f"supportctl.cli.{m}")


def load_all() -> typer.Typer:
    load(*ALL_MODULES)
    return app


def only_for(args: list[str]) -> typer.Typer:
    """The app with just the subcommand being run.

    Only the module of that command is imported, and only its Click command is built: Typer turns every
    registered command into a Click command on each start, so this keeps start-up flat as commands are
    added. Help, completion and unknown names get the whole app, so listings and "did you mean" stay
    complete.
    """
    import copy
    import os

    if os.environ.get("_SUPPORTCTL_COMPLETE"):
        return load_all()
    name = None
    i = 0
    while i < len(args):
        a = args[i]
        if a in _GLOBAL_FLAGS:
            return load_all()
        if a == "--lang":
            i += 2
            continue
        if not a.startswith("-"):
            name = a
            break
        i += 1
    if name is None or name not in VERB_MODULES:
        return load_all()
    load(*VERB_MODULES[name])
    commands = [c for c in app.registered_commands if command_name(c) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    slim = copy.copy(app)
    slim.registered_commands = commands
    slim.registered_groups = groups
    return slim


def command_name(info: Any) -> str:
    if info.name:
        return str(info.name)
    return str(info.callback.__name__).lower().replace("_", "-")


def hoist_lang(args: list[str]) -> list[str]:
    """Accept `--lang X` anywhere (`supportctl fill --lang de`): move it before the subcommand.

    And `--json` before the subcommand (`supportctl --json eta`), which goes to the end, where the command
    takes it, as `--lang` works anywhere."""
    rest: list[str] = []
    lang: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        if a == "--lang" and i + 1 < len(args):
            lang = ["--lang", args[i + 1]]
            i += 2
            continue
        if a.startswith("--lang="):
            lang = [a]
            i += 1
            continue
        rest.append(a)
        i += 1
    return lang + _json_to_the_end(rest)


def _json_to_the_end(args: list[str]) -> list[str]:
    first_word = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    if "--json" not in args[:first_word] or first_word == len(args):
        return args
    rest = [a for i, a in enumerate(args) if not (a == "--json" and i < first_word)]
    if "--" in rest:
        at = rest.index("--")
        return [*rest[:at], "--json", *rest[at:]]
    return [*rest, "--json"]
