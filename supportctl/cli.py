"""The Typer layer: parse arguments, call the core, render. The only module that imports typer.

Errors from the core (`SupportctlError`) become one stderr line and an exit code in one place:
`_Group.invoke`. Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from supportctl import __version__
from supportctl import output as out
from supportctl.errors import ExitCode, SupportctlError
from supportctl.i18n import N_, _

_JSON_KEY = "supportctl.json"
_COMMAND_KEY = "supportctl.command"


class _Group(TyperGroup):
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
            _fail(ctx, SupportctlError(_("{reason}").format(reason=_os_reason(exc))))

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
    """A command whose help page and help option follow the chosen language (see `_Group`)."""

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
        cmd.__class__ = _Group
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
    if isinstance(cmd, _Group):
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


def _os_reason(exc: OSError) -> str:
    if exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return exc.strerror or str(exc)


def _fail(ctx: Any, exc: SupportctlError) -> NoReturn:
    meta = ctx.meta
    if meta.get(_JSON_KEY):
        out.write_out(out.envelope(meta.get(_COMMAND_KEY, "supportctl"), None, [exc.to_dict()], ok=False))
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


def _begin(ctx: typer.Context, command: str, json_output: bool) -> None:
    ctx.meta[_JSON_KEY] = json_output
    ctx.meta[_COMMAND_KEY] = command


# Plain Click help, on a terminal too: Rich help panels cost ~45 ms (an import of rich) on every `--help`,
# which would put `--help` at ~13x the start-up of `python -c pass` against a budget of 10x.
HELP_MARKUP: Any = None

app = typer.Typer(
    name="supportctl",
    cls=_Group,
    rich_markup_mode=HELP_MARKUP,
    help=_("Register and activate a support contract: fetch, fill, validate, submit, eta; inbox for staff."),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(
    cls=_Group,
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


JsonOpt = Annotated[bool, typer.Option("--json", help=_("Print one JSON document (see README) instead of text."))]
PackageOpt = Annotated[
    str | None, typer.Option("--package", "-p", help=_("Document package (directory or .zip)."), metavar="P")
]


def _load_config(flags: dict[str, Any] | None = None) -> Any:
    from supportctl import config

    cfg = config.load(flags)
    for w in cfg.warnings:
        out.say(_("warning: {message}").format(message=w))
    return cfg


def _load_package(flag: str | None, cfg: Any) -> Any:
    from supportctl import package

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


# ---------------------------------------------------------------- eta


class Mode(str, Enum):
    hours = "hours"
    eod = "eod"


class BatchFormat(str, Enum):
    ndjson = "ndjson"
    csv = "csv"


@app.command(no_args_is_help=False)
def eta(
    ctx: typer.Context,
    at: Annotated[
        str, typer.Option("--at", help=_("Start: ISO 8601, an e-mail Date: header, or now."), metavar="WHEN")
    ] = "now",
    activation_class: Annotated[
        str, typer.Option("--class", "-c", help=_("Activation class: critical, standard or all."), metavar="CLASS")
    ] = "all",
    input_tz: Annotated[
        str | None, typer.Option("--input-tz", help=_("Zone of a --at without offset (default: local)."), metavar="TZ")
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help=_("Your time zone for display (default: local)."), metavar="TZ")
    ] = None,
    standard_mode: Annotated[
        Mode | None, typer.Option("--standard-mode", help=_("standard: +9 business hours, or end of that day."))
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help=_("Show each window, skipped day and DST change."))
    ] = False,
    batch: Annotated[
        bool, typer.Option("--batch", help=_("Read one start per line from stdin; stream results."))
    ] = False,
    fmt: Annotated[BatchFormat, typer.Option("--format", help=_("Output format of --batch."))] = BatchFormat.ndjson,
    schedule_tz: Annotated[
        str | None, typer.Option("--schedule-tz", help=_("Override the schedule's time zone."), metavar="TZ")
    ] = None,
    hours: Annotated[
        str | None, typer.Option("--hours", help=_("Override business hours, e.g. 08:00-17:00."), metavar="HH:MM-HH:MM")
    ] = None,
    days: Annotated[str | None, typer.Option("--days", help=_("Override business days, e.g. mon-sat."))] = None,
    holidays: Annotated[
        str | None, typer.Option("--holidays", help=_("Override holidays: DE, DE-BY, … or none."), metavar="SPEC")
    ] = None,
    half_days: Annotated[
        str | None,
        typer.Option("--half-days", help=_("Shortened days, e.g. 12-24=09:00-13:00,12-31=09:00-13:00, or none.")),
    ] = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """When will support be active? Due times from the package's business-hours rules.

    Examples:  supportctl eta --at "2026-11-27 17:30"   ·   supportctl eta --class critical --explain
    """
    _begin(ctx, "eta", json_output)
    from supportctl import eta as core
    from supportctl.timeparse import parse_when, resolve_zone

    cfg = _load_config(
        {
            "schedule.timezone": schedule_tz,
            "schedule.hours": hours,
            "schedule.days": days,
            "schedule.holidays": holidays,
            "schedule.half_days": half_days,
            "eta.standard_mode": standard_mode.value if standard_mode else None,
            "tz": tz,
            "input_tz": input_tz,
        }
    )
    pkg = _load_package(package, cfg)
    schedule = core.effective_schedule(
        pkg.process.schedule,
        core.ScheduleOverrides(
            timezone=cfg.get("schedule.timezone"),
            days=cfg.get("schedule.days"),
            hours=cfg.get("schedule.hours"),
            holidays=cfg.get("schedule.holidays"),
            half_days=cfg.get("schedule.half_days"),
        ),
    )
    engine = core.Engine(schedule, pkg.process.classes, cfg.get("eta.standard_mode"))
    in_tz = resolve_zone(cfg.get("input_tz"))
    user_tz = resolve_zone(cfg.get("tz"))
    names = engine.class_names(activation_class)
    if batch:
        _eta_batch(engine, activation_class, in_tz, fmt)
        return
    now = datetime.now(timezone.utc)
    start = parse_when(at, in_tz, now)
    results = [engine.compute(start, name, explain) for name in names]
    if json_output:
        data = {
            "package": {"name": pkg.name, "version": pkg.version},
            "schedule": schedule.to_dict(),
            "now": now.isoformat(),
            "user_tz": user_tz.key,
            "results": [r.to_dict(now, user_tz) for r in results],
        }
        out.write_out(out.envelope("eta", data))
        return
    _render_eta(results, now, user_tz, schedule.timezone)


def _eta_batch(engine: Any, default_class: str, in_tz: Any, fmt: BatchFormat) -> None:
    from supportctl import eta as core

    failed = 0
    write = sys.stdout.write
    if fmt is BatchFormat.csv:
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["line", "class", "start", "clock_starts", "due", "error"])
        for rec in core.run_batch(engine, sys.stdin, default_class, in_tz):
            if isinstance(rec, core.BatchError):
                failed += 1
                w.writerow([rec.line, "", "", "", "", rec.error.message])
            else:
                w.writerow([*rec, ""])
    else:
        import json

        # NDJSON by hand: the values are ISO strings and class names, quoted once per class.
        quoted = {name: json.dumps(name) for name in engine.classes}
        for rec in core.run_batch(engine, sys.stdin, default_class, in_tz):
            if isinstance(rec, core.BatchError):
                failed += 1
                write(out.ndjson(rec.to_dict()) + "\n")
            else:
                write(
                    f'{{"line": {rec.line}, "class": {quoted[rec.activation_class]}, "start": "{rec.start}", '
                    f'"clock_starts": "{rec.clock_starts}", "due": "{rec.due}"}}\n'
                )
    sys.stdout.flush()
    if failed:
        out.say(_("{n} input line(s) could not be read; see the error records").format(n=failed))
        raise typer.Exit(ExitCode.INVALID_INPUT)


def _render_eta(results: list[Any], now: datetime, user_tz: Any, schedule_tz: str) -> None:
    from supportctl.i18n import current_language

    lang = current_language()
    color = out.use_color()
    lines = [_("Start: {when}").format(when=out.format_datetime(results[0].start))]
    for r in results:
        label = r.label.get(lang) or r.label.get("en") or r.activation_class
        if color:
            label = f"\x1b[1m{label}\x1b[0m"
        remaining = r.due.timestamp() - now.timestamp()
        lines.append(
            _("{label}: active by {due} ({zone}), {relative}").format(
                label=label,
                due=out.format_datetime(r.due, long=True),
                zone=schedule_tz,
                relative=out.relative(remaining),
            )
        )
        if r.clock_starts.timestamp() != r.start.timestamp():
            lines.append(
                "  "
                + _("outside business hours: the clock starts {when}").format(when=out.format_datetime(r.clock_starts))
            )
        if user_tz.key != schedule_tz:
            lines.append(
                "  "
                + _("in your time zone ({zone}): {due}").format(
                    zone=user_tz.key, due=out.format_datetime(r.due.astimezone(user_tz))
                )
            )
        if r.steps is not None:
            lines.extend("    " + _explain_line(s) for s in r.steps)
    out.write_out("\n".join(lines))


def _explain_line(s: Any) -> str:
    from supportctl.eta import _offset
    from supportctl.i18n import current_language

    day = out.format_date(s.day)
    if s.kind == "window":
        return _("{day} {start}-{end}: {used} of business time").format(
            day=day, start=f"{s.start:%H:%M}", end=f"{s.end:%H:%M}", used=out.format_duration(s.used_seconds)
        )
    if s.kind == "skip" and s.reason == "holiday":
        name = s.name[0] if current_language() == "de" else s.name[1]
        return _("{day}: skipped, public holiday ({name})").format(day=day, name=name)
    if s.kind == "skip":
        return _("{day}: skipped, not a business day").format(day=day)
    return _("{day}: clocks change from UTC{before} to UTC{after}").format(
        day=day,
        before=_offset(s.offset_before.total_seconds()),
        after=_offset(s.offset_after.total_seconds()),
    )


# ---------------------------------------------------------------- config


@config_app.command("show")
def config_show(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print every setting, its value and where it came from (flag, environment, file, default)."""
    _begin(ctx, "config show", json_output)
    cfg = _load_config()
    settings = {
        key: {"value": r.value, "source": r.source, "origin": r.origin} for key, r in sorted(cfg.values.items())
    }
    if json_output:
        out.write_out(
            out.envelope("config show", {"path": str(cfg.path), "exists": cfg.file_exists, "settings": settings})
        )
        return
    sources = {"env": _("environment"), "file": _("config file"), "default": _("default"), "flag": _("flag")}
    rows = []
    for key, s in settings.items():
        value = "" if s["value"] is None else str(s["value"])
        where = sources[s["source"]] + (f" ({s['origin']})" if s["source"] == "env" else "")
        rows.append([key, value, where])
    out.table(_("Settings ({path})").format(path=cfg.path), [_("Setting"), _("Value"), _("Source")], rows)


@config_app.command("path")
def config_path(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print the path of the config file (it need not exist)."""
    _begin(ctx, "config path", json_output)
    from supportctl import paths

    p = paths.config_file()
    if json_output:
        out.write_out(out.envelope("config path", {"path": str(p), "exists": p.exists()}))
    else:
        out.write_out(str(p))


# ================================================================ fetch, show, print (issue 3)
# The document package commands: `fetch`, `fetch --request`, `show`, `print`.
# Core: supportctl/fetch.py, supportctl/documents.py, supportctl/printing.py.
# (section start)


@app.command(no_args_is_help=False)
def fetch(
    ctx: typer.Context,
    source: Annotated[
        str | None,
        typer.Argument(
            help=_(
                "https:// or http:// URL of a package zip, a package directory or a .zip (default: the "
                "configured package_url, else the bundled package)."
            ),
            metavar="[SOURCE]",
            show_default=False,
        ),
    ] = None,
    dest: Annotated[
        str | None,
        typer.Option(
            "--dest", "-d", help=_("Directory to write the package to (default ./registration-package)."), metavar="DIR"
        ),
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help=_("Expected sha256 of the downloaded zip."), metavar="HEX")
    ] = None,
    max_size: Annotated[
        str | None, typer.Option("--max-size", help=_("Largest download accepted (default 100MB)."), metavar="SIZE")
    ] = None,
    ca_bundle: Annotated[
        str | None,
        typer.Option(
            "--ca-bundle", help=_("CA certificates to verify https with (also SSL_CERT_FILE)."), metavar="FILE"
        ),
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            "--timeout", help=_("Seconds to wait for a connection or for data (default 30)."), metavar="SECONDS", min=1
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help=_("Replace --dest even if it is not a package written by fetch."))
    ] = False,
    print_after: Annotated[
        bool, typer.Option("--print", help=_("Print the printable documents after fetching."))
    ] = False,
    printer: Annotated[str | None, typer.Option("--printer", help=_("Printer for --print."), metavar="NAME")] = None,
    request: Annotated[
        bool,
        typer.Option(
            "--request",
            help=_("Do not download: write the e-mail asking the registration desk for the package (the fallback)."),
        ),
    ] = False,
    sender: Annotated[
        str | None, typer.Option("--from", help=_("Your e-mail address for --request."), metavar="ADDR")
    ] = None,
    eml: Annotated[
        str | None,
        typer.Option(
            "--eml",
            help=_("Write the --request e-mail to FILE instead of sending it (default without SMTP settings)."),
            metavar="FILE",
        ),
    ] = None,
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help=_("Send the --request e-mail now through the outbox (the default when SMTP is configured)."),
        ),
    ] = False,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Download, verify and unpack the document package (service description, terms, registration form).

    Examples:  supportctl fetch   ·   supportctl fetch https://example.com/pkg.zip --sha256 HEX
    ·   supportctl fetch --request --from you@example.com
    """
    _begin(ctx, "fetch", json_output)
    from pathlib import Path

    from supportctl import fetch as core

    cfg = _load_config(
        {
            "fetch.dest": dest,
            "fetch.max_size": max_size,
            "fetch.timeout": timeout,
            "fetch.ca_bundle": ca_bundle,
            "print.printer": printer,
        }
    )
    if request:
        _fetch_request(cfg, package, sender, eml, send, json_output)
        return
    if send or eml:
        raise typer.BadParameter(_("--send and --eml go with --request"), param_hint="--send" if send else "--eml")
    opts = core.FetchOptions(
        dest=Path(cfg.get("fetch.dest")),
        sha256=sha256,
        max_size=core.parse_size(cfg.get("fetch.max_size")),
        force=force,
        ca_bundle=cfg.get("fetch.ca_bundle"),
        timeout=float(cfg.get("fetch.timeout")),
    )
    with _progress_bar() as progress:
        result = core.fetch(source, opts, cfg.get("package_url"), progress)
    for w in result.warnings:
        out.say(_("warning: {message}").format(message=w))
    jobs: list[Any] = []
    if print_after:
        from supportctl import package as pkgmod
        from supportctl import printing

        pkg = pkgmod.load(result.dest)
        jobs = printing.print_documents(printing.select(pkg, []), cfg.get("print.printer"))
    if json_output:
        data = result.to_dict()
        data["printed"] = [j.to_dict() for j in jobs]
        out.write_out(out.envelope("fetch", data))
        return
    out.say(
        _("Fetched package {name} {version} into {dest}").format(
            name=result.name, version=result.version, dest=result.dest
        )
    )
    out.table(None, [_("Document"), _("File")], [[d["id"], d["file"]] for d in result.documents])
    for j in jobs:
        out.say(_("Sent {file} to the printer").format(file=j.item.file))


def _fetch_request(
    cfg: Any, package: str | None, sender: str | None, eml: str | None, send: bool, json_output: bool
) -> None:
    """The fallback: the request mail, sent through the outbox (SMTP configured or --send), else a .eml file."""
    from pathlib import Path

    from supportctl import fetch as core

    if send and eml:
        raise typer.BadParameter(_("give either --send or --eml"), param_hint="--send")
    pkg = _load_package(package, cfg)
    profile_email = cfg.values.get("profile.email")
    membership = cfg.values.get("profile.membership_id")
    sender = sender or (profile_email.value if profile_email else None)
    smtp_host = cfg.values.get("smtp.host")
    if send or (eml is None and smtp_host is not None and smtp_host.value):
        _send_request(cfg, pkg, sender, membership.value if membership else None, json_output)
        return
    msg = core.compose_request(pkg, sender, membership.value if membership else None)
    path = Path(eml or "package-request.eml")
    core.write_eml(msg, path)
    if eml is None:
        out.say(
            _("SMTP is not configured, so the request was written to a file (`supportctl config smtp`, then --send)")
        )
    if json_output:
        data = {"eml": str(path.absolute()), "to": msg["To"], "from": msg["From"], "subject": msg["Subject"]}
        out.write_out(out.envelope("fetch", data))
        return
    if not sender:
        out.say(_("note: no sender address given (--from); your mail program will fill it in"))
    out.say(
        _("Wrote the request to {path}; open it in your mail program and send it to {address}").format(
            path=path, address=msg["To"]
        )
    )
    out.write_out(str(path.absolute()))


def _send_request(cfg: Any, pkg: Any, sender: str | None, membership: str | None, json_output: bool) -> NoReturn:
    from supportctl import config, credentials, mail, outbox
    from supportctl import fetch as core
    from supportctl.errors import ConfigError

    credentials.refuse_secrets_in_file(config.read_file(cfg.path), cfg.path)
    sender = sender or cfg.get("smtp.from")
    if not sender:
        raise ConfigError(
            _("no sender address for the request"), _("pass --from, or set smtp.from (`supportctl config smtp`)")
        )
    from email.utils import parseaddr

    mail.check_address(parseaddr(sender)[1] or sender, "--from")  # the envelope sender: a plain ASCII address
    msg = core.compose_request(pkg, sender, membership)
    session = _open_session(cfg)  # no server: a configuration error (exit 8) before anything is queued
    try:
        entry = outbox.enqueue(msg)
        out.say(_("Queued the request to {address} as {id} in the outbox").format(address=msg["To"], id=entry.id))
        result = outbox_send_now(entry.id, session)
    finally:
        session.close()
    data = {"outbox": entry.id, "to": msg["To"], "from": msg["From"], "subject": msg["Subject"]}
    data["message_id"] = entry.message_id
    _report_sent(
        "fetch",
        result,
        data,
        json_output,
        _("read the server's reason; correct the addresses and run `supportctl fetch --request --send` again"),
    )


def _progress_bar() -> Any:
    """A context manager yielding a progress callback: a Rich bar on a terminal (stderr), else None."""
    import contextlib

    @contextlib.contextmanager
    def bar() -> Any:
        if not sys.stderr.isatty() or os_environ_get("TERM") == "dumb":
            yield None
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

        with Progress(
            "{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True, no_color=not out.use_color(sys.stderr), highlight=False),
            transient=True,
        ) as progress:
            task = progress.add_task(_("Downloading"), total=None)

            def update(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            yield update

    return bar()


def os_environ_get(name: str) -> str | None:
    import os

    return os.environ.get(name)


@app.command(no_args_is_help=True)
def show(
    ctx: typer.Context,
    what: Annotated[
        str,
        typer.Argument(
            help=_("service-description, terms, fields, or another document id of the package."),
            metavar="service-description|terms|fields|DOC",
        ),
    ],
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show a document's text (through a pager on a terminal) or the form's fields.

    Labels follow --lang. Examples:  supportctl show terms   ·   supportctl show fields --lang de --json
    """
    _begin(ctx, "show", json_output)
    from supportctl import documents
    from supportctl.i18n import current_language

    cfg = _load_config()
    pkg = _load_package(package, cfg)
    lang = current_language()
    if what == "fields":
        fields = documents.fields(pkg, lang)
        if json_output:
            out.write_out(out.envelope("show", {"what": "fields", "lang": lang, "fields": fields}))
            return
        rows = [
            [
                f["name"],
                f["type"],
                _("yes") if f["required"] else _("no"),
                "" if f["max_length"] is None else str(f["max_length"]),
                ", ".join(c["value"] for c in f["choices"]),
                f["label"],
            ]
            for f in fields
        ]
        out.table(
            _("Fields of {form}").format(form=pkg.form_document),
            [_("Field"), _("Type"), _("Required"), _("Max length"), _("Allowed values"), _("Label")],
            rows,
        )
        return
    doc = documents.text_of(pkg, what, lang)
    if json_output:
        out.write_out(out.envelope("show", {"what": what, "lang": lang, **doc.to_dict()}))
        return
    if out.stdout_is_tty():
        import pydoc

        pydoc.pager(doc.text)
    else:
        out.write_out(doc.text)


@app.command("print", no_args_is_help=False)
def print_cmd(
    ctx: typer.Context,
    docs: Annotated[
        list[str] | None,
        typer.Argument(
            help=_("Document ids, or terms (default: every printable document)."),
            metavar="[DOC]...",
            show_default=False,
        ),
    ] = None,
    printer: Annotated[
        str | None, typer.Option("--printer", help=_("Printer name (default: the system default)."), metavar="NAME")
    ] = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Print the service description and the form with the terms (CUPS lp, else lpr).

    Examples:  supportctl print   ·   supportctl print terms --printer office
    """
    _begin(ctx, "print", json_output)
    from supportctl import printing

    cfg = _load_config({"print.printer": printer})
    pkg = _load_package(package, cfg)
    jobs = printing.print_documents(printing.select(pkg, list(docs or [])), cfg.get("print.printer"))
    if json_output:
        out.write_out(out.envelope("print", {"printed": [j.to_dict() for j in jobs]}))
        return
    for j in jobs:
        out.say(_("Sent {file} to the printer").format(file=j.item.file))
        if j.output:
            out.write_out(j.output)


# (section end: fetch, show, print)


# ================================================================ fill, validate (issue 4)
# The registration form: `fill` (interactive and non-interactive), `validate`.
# Core: supportctl/form.py, supportctl/validation.py, supportctl/latin.py.
# (section start)


class _Abandon(Exception):
    """The terminal closed (EOF) in the middle of `fill`: the draft is kept."""


def _read_data(source: str) -> dict[str, Any]:
    """`--data FILE|-`: a JSON or TOML object of field values."""
    import json

    from supportctl.errors import InvalidInputError

    if source == "-":
        text = sys.stdin.read(1 << 20)
        where = _("standard input")
    else:
        try:
            with open(source, encoding="utf-8") as fh:
                text = fh.read(1 << 20)
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(_("cannot read {path}: {reason}").format(path=source, reason=exc)) from None
        where = source
    try:
        data = json.loads(text)
    except ValueError:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                _("{where} is neither a JSON nor a TOML object: {reason}").format(where=where, reason=exc),
                _('e.g. {{"first_name": "Łukasz", "terms_accepted": true}}'),
            ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(_("{where} must hold one object with field names as keys").format(where=where))
    return {str(k): v if isinstance(v, (str, bool)) else str(v) for k, v in data.items()}


def _finding_line(f: Any) -> str:
    if f.suggestion and f.code == "unknown-field":
        return str(f.message)
    if f.suggestion:
        return _("{message}; suggestion: {suggestion}").format(message=f.message, suggestion=f.suggestion)
    return str(f.message)


def _label(spec: Any, lang: str) -> str:
    return str(spec.label.get(lang) or spec.label.get("en") or spec.name)


def _shown(spec: Any, value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    for c in spec.choices:
        if c.value == value and (c.label.get(lang) or "") not in ("", c.value):
            return f"{value} ({c.label.get(lang)})"
    return "" if value is None else str(value)


def _ask(spec: Any, number: int, total: int, default: Any, known: dict[str, Any], chars: Any, lang: str) -> Any:
    """Ask for one field until the answer passes the rules; returns the normalised value."""
    from supportctl.validation import check_field, parse_bool

    label = _label(spec, lang)
    help_text = spec.help.get(lang) or spec.help.get("en") or ""
    out.say("")
    out.say(_("[{n}/{total}] {label}").format(n=number, total=total, label=label))
    if help_text:
        out.say("  " + help_text)
    if spec.type == "checkbox" and "supportctl show terms" not in help_text:
        out.say("  " + _("Read the terms with: supportctl show terms"))
    for i, choice in enumerate(spec.choices, 1):
        text = choice.label.get(lang) or choice.value
        out.say(f"  {i}) {choice.value}" + (f" — {text}" if text != choice.value else ""))
    while True:
        shown = _shown(spec, default, lang) if default not in (None, "") else ""
        if spec.type == "checkbox":
            prompt = _("{label} (y/n) [{default}]: ").format(label=label, default=shown or _("no"))
        elif spec.choices and shown:
            prompt = _("{label} (1-{n}) [{default}]: ").format(label=label, n=len(spec.choices), default=shown)
        elif spec.choices:
            prompt = _("{label} (1-{n}): ").format(label=label, n=len(spec.choices))
        elif shown:
            prompt = _("{label} [{default}]: ").format(label=label, default=shown)
        else:
            prompt = _("{label}: ").format(label=label)
        try:
            answer = input(prompt).strip()
        except EOFError:
            raise _Abandon() from None
        raw: Any = answer if answer else default
        if spec.choices and answer.isdigit() and 1 <= int(answer) <= len(spec.choices):
            raw = spec.choices[int(answer) - 1].value
        if spec.type == "checkbox" and answer:
            raw = parse_bool(answer)
            if raw is None:
                out.say("  " + _("answer y or n"))
                continue
        result = check_field(spec, raw, known, chars)
        if result.finding is None:
            return result.value
        out.say("  " + _finding_line(result.finding))


def _interactive(
    pkg: Any, fixed: dict[str, Any], defaults: dict[str, Any], answers: dict[str, Any], chars: Any
) -> None:
    """Ask for every field not in `answers`, then let the user review and change any field."""
    from supportctl import drafts
    from supportctl.i18n import current_language
    from supportctl.validation import check_field, validate_values

    lang = current_language()
    fields = list(pkg.fields)
    total = len(fields)

    def ask(n: int) -> None:
        spec = fields[n]
        default = answers.get(spec.name, defaults.get(spec.name))
        if default is None and spec.type == "date":
            from datetime import date

            default = date.today().isoformat()
        answers[spec.name] = _ask(spec, n + 1, total, default, answers, chars, lang)
        drafts.save(pkg.name, answers)

    for n, spec in enumerate(fields):
        if spec.name in answers:
            continue
        if spec.name in fixed:
            given = check_field(spec, fixed[spec.name], {**defaults, **answers, **fixed}, chars)
            if given.finding is None:
                answers[spec.name] = given.value
                drafts.save(pkg.name, answers)
                continue
            out.say(_finding_line(given.finding))
        ask(n)
    while True:
        _good, findings = validate_values(pkg, answers, chars)
        for f in findings:
            out.say(_finding_line(f))
            if f.field in answers:
                del answers[f.field]
        for n, spec in enumerate(fields):
            if spec.name not in answers:
                ask(n)
        if findings:
            continue
        out.say("")
        out.say(_("Review:"))
        for n, spec in enumerate(fields, 1):
            out.say(f"  {n:2d}. {_label(spec, lang)}: {_shown(spec, answers.get(spec.name), lang)}")
        try:
            choice = input(_("Number of a field to change, or Enter to write the form: ")).strip()
        except EOFError:
            raise _Abandon() from None
        if not choice:
            return
        if choice.isdigit() and 1 <= int(choice) <= total:
            ask(int(choice) - 1)
        else:
            out.say(_("enter a number from 1 to {n}, or nothing").format(n=total))


@app.command(no_args_is_help=False)
def fill(
    ctx: typer.Context,
    package: PackageOpt = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help=_("Field values from a JSON or TOML object; - reads stdin."), metavar="FILE|-"),
    ] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help=_("One field value, e.g. --set first_name=Łukasz."), metavar="FIELD=VALUE"),
    ] = None,
    out_path: Annotated[
        str, typer.Option("--out", "-o", help=_("Where to write the filled form."), metavar="FILE.pdf")
    ] = "registration-form-filled.pdf",
    no_input: Annotated[
        bool, typer.Option("--no-input", help=_("Never prompt; report every problem at once."))
    ] = False,
    resume: Annotated[bool, typer.Option("--resume", help=_("Continue the saved draft without asking."))] = False,
    restart: Annotated[bool, typer.Option("--restart", help=_("Discard the saved draft and start again."))] = False,
    check_deliverability: Annotated[
        bool, typer.Option("--check-deliverability", help=_("Also look up the e-mail domain in DNS."))
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Fill the registration form: interactively on a terminal, or from --data/--set.

    Examples:  supportctl fill   ·   supportctl fill --data me.toml --set date=2026-11-25 --no-input
    """
    _begin(ctx, "fill", json_output)
    from supportctl import drafts, form
    from supportctl.errors import UsageError
    from supportctl.validation import unknown_fields, validate_values

    if resume and restart:
        raise UsageError(_("use either --resume or --restart, not both"))
    cfg = _load_config()
    pkg = _load_package(package, cfg)
    chars = form.template(pkg).font.chars
    given: dict[str, Any] = _read_data(data) if data else {}
    for item in assignments or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(_("--set needs FIELD=VALUE, not {item!r}").format(item=item))
        given[key.strip()] = value
    unknown = unknown_fields(pkg, given)
    if unknown:
        for f in unknown:
            out.say(_finding_line(f))
        raise form.FormFindingsError(unknown)
    profile = {
        spec.name: cfg.get("profile." + spec.name)
        for spec in pkg.fields
        if "profile." + spec.name in cfg.values and cfg.get("profile." + spec.name) not in (None, "")
    }
    interactive = not no_input and sys.stdin.isatty() and sys.stdout.isatty()
    draft = None if restart else drafts.load(pkg.name)
    if restart:
        drafts.discard(pkg.name)
    answers: dict[str, Any] = {}
    if draft is not None:
        use = resume
        if not resume and interactive:
            try:
                reply = input(
                    _("A draft from {when} with {n} answers exists. Resume it? [Y/n] ").format(
                        when=draft.updated, n=len(draft.values)
                    )
                )
            except EOFError:
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            use = reply.strip().lower() not in ("n", "no", "nein")
        if use:
            answers = dict(draft.values)
        elif interactive:
            drafts.discard(pkg.name)
        else:
            out.say(_("note: a saved draft exists; --resume uses it, --restart discards it"))
    if interactive:
        try:
            _interactive(pkg, given, {**given, **profile}, answers, chars)
        except (KeyboardInterrupt, _Abandon):
            out.say("")
            out.say(_("Your answers are saved; run `supportctl fill` again to continue."))
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        values: dict[str, Any] = dict(answers)
    else:
        values = {**profile, **answers, **given}
        _good, findings = validate_values(pkg, values, chars, check_deliverability=check_deliverability)
        if findings:
            for f in findings:
                out.say(_finding_line(f))
            raise form.FormFindingsError(findings)
    pdf = form.fill_pdf(pkg, values, check_deliverability=check_deliverability)
    from pathlib import Path

    target = Path(out_path)
    form.write_atomic(target, pdf)
    drafts.discard(pkg.name)
    report = form.validate_pdf(pkg, pdf)
    if json_output:
        out.write_out(out.envelope("fill", {"path": str(target), **report.to_dict()}))
        return
    out.say(_("Filled form written to {path}; send it with `supportctl submit {path}`").format(path=target))
    out.write_out(str(target))


@app.command(no_args_is_help=True)
def validate(
    ctx: typer.Context,
    forms: Annotated[list[str], typer.Argument(help=_("Filled registration forms (PDF)."), metavar="FORM.pdf…")],
    package: PackageOpt = None,
    check_deliverability: Annotated[
        bool, typer.Option("--check-deliverability", help=_("Also look up the e-mail domain in DNS."))
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Check filled forms: values, Latin script, and that the form itself is unchanged.

    Exit status: 0 all valid, 4 a form is invalid, 3 a file is not a readable PDF.
    Example:  supportctl validate registration-form-filled.pdf
    """
    _begin(ctx, "validate", json_output)
    from supportctl import form, pdfutil
    from supportctl.errors import FormInvalidError, InvalidInputError

    cfg = _load_config()
    pkg = _load_package(package, cfg)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    worst = ExitCode.OK
    for name in forms:
        try:
            with open(name, "rb") as fh:
                data = fh.read(pdfutil.MAX_PDF_BYTES + 1)
            report = form.validate_pdf(pkg, data, name=name, check_deliverability=check_deliverability)
        except (OSError, InvalidInputError) as exc:
            err = exc if isinstance(exc, InvalidInputError) else InvalidInputError(_os_reason(exc))
            errors.append({**err.to_dict(), "path": name})
            results.append({"path": name, "ok": False, "error": err.to_dict()})
            worst = ExitCode.INVALID_INPUT
            out.say(out.error_line(err.message, err.hint))
            continue
        results.append({"path": name, "error": None, **report.to_dict()})
        if not report.ok:
            if worst is ExitCode.OK:
                worst = ExitCode.FORM_INVALID
            n = len(report.findings)
            errors.append(
                {**FormInvalidError(_("{path}: {n} problem(s)").format(path=name, n=n)).to_dict(), "path": name}
            )
        if not json_output:
            if report.ok:
                cls = report.activation_class
                line = (
                    _("{path}: valid").format(path=name)
                    if cls is None
                    else _("{path}: valid (activation class {cls})").format(path=name, cls=cls)
                )
                out.write_out(line)
            else:
                out.write_out(_("{path}: INVALID").format(path=name))
                for f in report.findings:
                    out.write_out("  " + _finding_line(f))
    if json_output:
        out.write_out(out.envelope("validate", {"forms": results}, errors, ok=worst is ExitCode.OK))
    if worst is not ExitCode.OK:
        raise typer.Exit(int(worst))


# (section end: fill, validate)


# ================================================================ submit, outbox (issue 5)
# Sending: `submit`, `outbox …`, `config smtp`.
# Core: supportctl/mail.py, supportctl/smtp.py, supportctl/outbox.py, supportctl/credentials.py.
# (section start)
_STATE_EXIT = {
    "sent": ExitCode.OK,
    "deferred": ExitCode.QUEUED,
    "queued": ExitCode.QUEUED,
    "failed": ExitCode.MAIL_REFUSED,
    "needs-credentials": ExitCode.CONFIG,
    "uncertain": ExitCode.UNCERTAIN,
}
# Worst first: the exit status of a run that sent several messages.
_EXIT_ORDER = [ExitCode.UNCERTAIN, ExitCode.MAIL_REFUSED, ExitCode.CONFIG, ExitCode.TRANSFER, ExitCode.QUEUED]


def _result_exit(result: Any) -> ExitCode:
    if result.skipped == "state":
        # A message named on the command line that is not sendable: its state is the answer.
        return _STATE_EXIT.get(result.state, ExitCode.OK) if result.state != "queued" else ExitCode.OK
    if result.skipped == "expired":
        return ExitCode.MAIL_REFUSED
    if result.skipped:
        return ExitCode.OK
    code = _STATE_EXIT.get(result.state, ExitCode.ERROR)
    if result.state == "deferred" and result.kind in ("network", "timeout", "tls", "starttls"):
        return ExitCode.TRANSFER
    return code


def _worst_exit(results: list[Any]) -> ExitCode:
    codes = {_result_exit(r) for r in results}
    for code in _EXIT_ORDER:
        if code in codes:
            return code
    return ExitCode.OK


def _smtp_values(cfg: Any) -> dict[str, Any]:
    return {k: r.value for k, r in cfg.values.items() if k.startswith("smtp.")}


def _mail_config(flags: dict[str, Any]) -> Any:
    from supportctl import config, credentials

    cfg = _load_config(flags)
    credentials.refuse_secrets_in_file(config.read_file(cfg.path), cfg.path)
    return cfg


def _password_prompt() -> Any:
    """A hidden prompt, only when a person is at a terminal; the core never prompts by itself."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return lambda text: getpass.getpass(text)


def _open_session(cfg: Any) -> Any:
    from supportctl import mail

    return mail.open_session(_smtp_values(cfg), prompt=_password_prompt(), warn=out.say)


def _send(cfg: Any, ids: list[str] | None, mode: str) -> list[Any]:
    from supportctl import outbox

    session = _open_session(cfg)
    try:
        return outbox.send(ids, session, mode=mode)
    finally:
        session.close()


# Outbox states as shown to people (i18n); --json keeps the codes.
_OUTBOX_STATE = {
    "queued": N_("queued"),
    "sent": N_("sent"),
    "deferred": N_("deferred"),
    "failed": N_("failed"),
    "needs-credentials": N_("needs-credentials"),
    "uncertain": N_("uncertain"),
}


def _state_label(state: str) -> str:
    return _(_OUTBOX_STATE[state]) if state in _OUTBOX_STATE else state


def _when(iso: Any) -> str:
    """An ISO time from the outbox, in the chosen language's format; as stored if it is not one."""
    if not iso:
        return ""
    try:
        return out.format_datetime(datetime.fromisoformat(str(iso)))
    except ValueError:
        return str(iso)


def _result_line(r: Any) -> str:
    if r.skipped == "busy":
        return _("{id}: skipped, another supportctl run is sending it").format(id=r.id)
    if r.skipped == "expired":
        return _("{id}: failed, given up after 5 days").format(id=r.id)
    if r.skipped:
        return _("{id}: not sent, it is {state} (see `supportctl outbox show {id}`)").format(
            id=r.id, state=_state_label(r.state)
        )
    lines = {
        "sent": _("{id}: sent ({text})"),
        "deferred": _("{id}: not sent, will be retried: {text}"),
        "failed": _("{id}: refused permanently: {text}"),
        "needs-credentials": _("{id}: login failed or no credentials: {text}"),
        "uncertain": _("{id}: UNCERTAIN whether it was delivered: {text}"),
    }
    code = f"{r.code} " if r.code else ""
    line = lines.get(r.state, "{id}: {text}").format(id=r.id, text=(code + r.text).strip())
    for addr, (rc, rt) in sorted(r.refused.items()):
        line += "\n  " + _("recipient {addr} refused: {code} {text}").format(addr=addr, code=rc, text=rt)
    return line


def _hint_for(state: str, entry_id: str) -> str | None:
    hints = {
        "deferred": _("it stays in the outbox; `supportctl outbox flush` (cron) or `supportctl outbox retry {id}`"),
        "needs-credentials": _("fix the login (`supportctl config smtp`), then `supportctl outbox retry {id}`"),
        "uncertain": _(
            "check the recipient's mailbox or the sent folder; then `supportctl outbox resolve {id} "
            "--delivered` or `--resend`"
        ),
        "failed": _("read the server's reason; correct and `supportctl submit --again`"),
    }
    h = hints.get(state)
    return h.format(id=entry_id) if h else None


@app.command(no_args_is_help=True)
def submit(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help=_("The filled registration form (PDF)."), metavar="FORM.pdf")],
    package: PackageOpt = None,
    to: Annotated[
        str | None, typer.Option("--to", help=_("Recipient (default: the package's registration address)."))
    ] = None,
    sender: Annotated[str | None, typer.Option("--from", help=_("Sender address (default: smtp.from)."))] = None,
    cc: Annotated[str | None, typer.Option("--cc", help=_("Copy to these addresses (comma-separated)."))] = None,
    again: Annotated[bool, typer.Option("--again", help=_("Send a form that was submitted before once more."))] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=_("Show the message and the server; send and queue nothing."))
    ] = False,
    eml: Annotated[
        str | None, typer.Option("--eml", help=_("Write the message to FILE instead of sending it."), metavar="FILE")
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help=_("CA certificates to verify the server with."), metavar="FILE")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """E-mail the filled form to the registration desk, through the durable outbox.

    Examples:  supportctl submit form.pdf --dry-run   ·   supportctl submit form.pdf --cc me@example.com
    """
    _begin(ctx, "submit", json_output)
    from pathlib import Path

    from supportctl import mail, outbox
    from supportctl.errors import InvalidInputError
    from supportctl.fsutil import atomic_write

    cfg = _mail_config({"smtp.from": sender, "smtp.cc": cc, "smtp.ca_bundle": ca_bundle})
    pkg = _load_package(package, cfg)
    path = Path(form)
    try:
        if path.stat().st_size > mail.MAX_FORM_BYTES:
            raise InvalidInputError(_("{path} is too large for a registration form").format(path=path))
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    report = mail.validate_form(pkg, data, path.name)
    if not report.ok:
        from supportctl import form as form_core

        if not json_output:
            for f in report.findings:
                line = (f"{f.field}: " if f.field else "") + f.message
                out.say("  " + (f"{line} ({f.suggestion})" if f.suggestion else line))
        # Exit 4; with --json the envelope's error carries every finding.
        raise form_core.FormFindingsError(list(report.findings))
    composed = mail.compose(
        pkg,
        report.values,
        data,
        path.name,
        cfg.get("smtp.from"),
        to=mail.split_addresses(to, "--to"),
        cc=mail.split_addresses(cfg.get("smtp.cc"), "--cc"),
    )
    if eml is not None:
        from email import policy

        atomic_write(Path(eml), composed.message.as_bytes(policy=policy.SMTP), 0o600)
        if json_output:
            out.write_out(out.envelope("submit", {"eml": eml, "message": composed.to_dict(), "sent": False}))
        else:
            out.say(_("Wrote the message to {path}; nothing was sent").format(path=eml))
        return
    if dry_run:
        _render_dry_run(composed, cfg, json_output)
        return
    session = _open_session(cfg)  # a missing server is a config error before anything is queued
    try:
        entry = outbox.enqueue(
            composed.message, outbox.make_dedupe_key(composed.pdf_sha256, composed.to[0]), again=again
        )
        outbox.failpoint("after-queue-write")
        if not json_output:
            out.say(_("Queued as {id} in the outbox").format(id=entry.id))
        result = outbox.send([entry.id], session, mode="submit")[0]
    finally:
        session.close()
    code = _result_exit(result)
    if json_output:
        errors = []
        if code != ExitCode.OK:
            errors.append(
                {
                    "code": result.state,
                    "exit_code": int(code),
                    "message": result.text,
                    "hint": _hint_for(result.state, entry.id),
                }
            )
        data_out = {"id": entry.id, "message": composed.to_dict(), "result": result.to_dict()}
        out.write_out(out.envelope("submit", data_out, errors, ok=code == ExitCode.OK))
    else:
        out.say(_result_line(result))
        hint = _hint_for(result.state, entry.id)
        if hint:
            out.say("  " + hint)
    raise typer.Exit(int(code))


def _render_dry_run(composed: Any, cfg: Any, json_output: bool) -> None:
    from supportctl import credentials, smtp

    values = _smtp_values(cfg)
    server = {
        "host": values.get("smtp.host"),
        "port": values.get("smtp.port") or smtp.DEFAULT_PORTS.get(values.get("smtp.security") or "starttls"),
        "security": values.get("smtp.security"),
        "username": values.get("smtp.username"),
        "auth": values.get("smtp.auth"),
        "password_source": credentials.describe_source(values),
    }
    if json_output:
        out.write_out(out.envelope("submit", {"dry_run": True, "message": composed.to_dict(), "server": server}))
        return
    d = composed.to_dict()
    lines = [
        f"From: {d['from']}",
        f"To: {', '.join(d['to'])}",
        *([f"Cc: {', '.join(d['cc'])}"] if d["cc"] else []),
        f"Date: {d['date']}",
        f"Message-ID: {d['message_id']}",
        f"Subject: {d['subject']}",
        _("Attachment: {name} (application/pdf, {size} bytes, sha256 {sha})").format(
            name=d["attachment"]["filename"], size=d["attachment"]["size"], sha=d["attachment"]["sha256"]
        ),
        "",
        d["body"].rstrip("\n"),
        "",
        _("Server: {host}:{port} ({security}), login {user}, password from {source}").format(
            host=server["host"] or _("(not configured)"),
            port=server["port"] or "-",
            security=server["security"],
            user=server["username"] or "-",
            source=server["password_source"],
        ),
        _("Dry run: nothing was sent or queued."),
    ]
    out.write_out("\n".join(lines))


outbox_app = typer.Typer(
    cls=_Group,
    help=_("The durable outbox of messages to send: list, show, retry, flush, resolve, purge."),
    invoke_without_command=True,
    rich_markup_mode=HELP_MARKUP,
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox_main(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Without a subcommand: list the outbox."""
    if ctx.invoked_subcommand is None:
        _begin(ctx, "outbox list", json_output)
        _outbox_list(json_output)


@outbox_app.command("list")
def outbox_list(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List every message: state, attempts, next try, the server's last reply."""
    _begin(ctx, "outbox list", json_output)
    _outbox_list(json_output)


def _outbox_list(json_output: bool) -> None:
    from supportctl import outbox

    items = outbox.entries()
    if json_output:
        out.write_out(out.envelope("outbox list", {"messages": [e.to_dict() for e in items]}))
        return
    if not items:
        out.say(_("The outbox is empty."))
        return
    rows = [
        [
            e.id,
            _state_label(e.state),
            str(e.attempts),
            _when(e.next_attempt),
            ", ".join(e.recipients),
            e.subject,
            f"{e.last_code or ''} {e.last_text or ''}".strip()[:80],
        ]
        for e in items
    ]
    out.table(
        _("Outbox"),
        [_("ID"), _("State"), _("Attempts"), _("Next try"), _("To"), _("Subject"), _("Last reply")],
        rows,
    )


@outbox_app.command("show", no_args_is_help=True)
def outbox_show(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help=_("Message id (a unique prefix is enough)."), metavar="ID")],
    json_output: JsonOpt = False,
) -> None:
    """Show one message: its state, headers and every attempt."""
    _begin(ctx, "outbox show", json_output)
    from supportctl import outbox

    e = outbox.get(message_id)
    if json_output:
        out.write_out(out.envelope("outbox show", e.to_dict()))
        return
    lines = [
        _("ID: {id}").format(id=e.id),
        _("State: {state}").format(state=_state_label(e.state)),
        f"Message-ID: {e.message_id}",
        f"From: {e.sender}",
        f"To: {', '.join(e.recipients)}",
        f"Subject: {e.subject}",
        _("Queued: {when}").format(when=_when(e.created)),
        _("Attempts: {n}").format(n=e.attempts),
    ]
    if e.queue_id:
        lines.append(_("Server queue id: {qid}").format(qid=e.queue_id))
    if e.next_attempt and e.state == "deferred":
        lines.append(_("Next try: {when}").format(when=_when(e.next_attempt)))
    for addr, (rc, rt) in sorted(e.refused.items()):
        lines.append(_("Recipient {addr} refused: {code} {text}").format(addr=addr, code=rc, text=rt))
    lines.append(_("History:"))
    for h in e.history:
        state = _state_label(str(h.get("state")))
        lines.append(f"  {_when(h.get('at'))}  {state}  {h.get('code') or ''} {h.get('text') or ''}".rstrip())
    lines.append(_("Message file: {path}").format(path=e.path / "message.eml"))
    out.write_out("\n".join(lines))


def _render_results(command: str, results: list[Any], json_output: bool) -> None:
    code = _worst_exit(results)
    if json_output:
        out.write_out(out.envelope(command, {"results": [r.to_dict() for r in results]}, ok=code == ExitCode.OK))
    else:
        for r in results:
            out.say(_result_line(r))
    raise typer.Exit(int(code))


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help=_("Message ids."), metavar="ID…")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help=_("Every queued, deferred or needs-credentials message."))
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Try these messages now, whatever their backoff, over one connection (never uncertain or failed ones)."""
    _begin(ctx, "outbox retry", json_output)
    from supportctl.errors import UsageError

    if not ids and not all_:
        raise UsageError(_("name message ids or use --all"), _("`supportctl outbox list` shows them"))
    cfg = _mail_config({})
    results = _send(cfg, None if all_ else list(ids or []), "retry")
    if all_:
        results = [r for r in results if r.skipped != "state"]
    _render_results("outbox retry", results, json_output)


@outbox_app.command("flush")
def outbox_flush(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Send what is due (for cron or a timer), over one connection."""
    _begin(ctx, "outbox flush", json_output)
    from supportctl import outbox

    cfg = _mail_config({})
    if not any(e.state in ("queued", "deferred") for e in outbox.entries()):
        _render_results("outbox flush", [], json_output)
    _render_results("outbox flush", [r for r in _send(cfg, None, "flush") if r.skipped != "state"], json_output)


@outbox_app.command("resolve", no_args_is_help=True)
def outbox_resolve(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help=_("Message id."), metavar="ID")],
    delivered: Annotated[bool, typer.Option("--delivered", help=_("It arrived: mark it sent."))] = False,
    resend: Annotated[bool, typer.Option("--resend", help=_("It did not arrive: queue it again."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Decide an uncertain message: it was delivered, or send it again."""
    _begin(ctx, "outbox resolve", json_output)
    from supportctl import outbox
    from supportctl.errors import UsageError

    if delivered == resend:
        raise UsageError(_("use exactly one of --delivered and --resend"))
    e = outbox.resolve(message_id, delivered=delivered)
    if json_output:
        out.write_out(out.envelope("outbox resolve", e.to_dict()))
    elif delivered:
        out.say(_("{id} marked as delivered").format(id=e.id))
    else:
        out.say(_("{id} queued again; `supportctl outbox retry {id}` sends it now").format(id=e.id))


@outbox_app.command("purge")
def outbox_purge(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help=_("Also delete failed messages."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete sent messages (and failed ones with --failed); the same form can then be submitted again."""
    _begin(ctx, "outbox purge", json_output)
    from supportctl import outbox

    removed = outbox.purge(("sent", "failed") if failed else ("sent",))
    if json_output:
        out.write_out(out.envelope("outbox purge", {"removed": removed}))
    else:
        out.say(_("Deleted {n} message(s) from the outbox").format(n=len(removed)))


@config_app.command("smtp")
def config_smtp(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help=_("SMTP server."))] = None,
    port: Annotated[int | None, typer.Option("--port", help=_("Port (587 starttls, 465 tls)."))] = None,
    security: Annotated[str | None, typer.Option("--security", help=_("starttls, tls or none."))] = None,
    username: Annotated[str | None, typer.Option("--username", help=_("Login name."))] = None,
    sender: Annotated[str | None, typer.Option("--from", help=_("Sender address."))] = None,
    auth: Annotated[str | None, typer.Option("--auth", help=_("password, xoauth2 or none."))] = None,
    password_source: Annotated[
        str | None, typer.Option("--password-source", help=_("auto, env, keyring, command or prompt."))
    ] = None,
    password_command: Annotated[
        str | None, typer.Option("--password-command", help=_("Command that prints the password (no shell)."))
    ] = None,
    token_command: Annotated[
        str | None, typer.Option("--token-command", help=_("Command that prints an OAuth2 access token."))
    ] = None,
    ca_bundle: Annotated[str | None, typer.Option("--ca-bundle", help=_("CA certificates file."))] = None,
    test: Annotated[bool, typer.Option("--test/--no-test", help=_("Log in once to check the settings."))] = True,
    json_output: JsonOpt = False,
) -> None:
    """Set up sending: server, security, login and where the password comes from. Never stores a password."""
    _begin(ctx, "config smtp", json_output)
    from supportctl import credentials, mail, smtp
    from supportctl.config import SETTINGS, _coerce

    cfg = _mail_config({})
    current = _smtp_values(cfg)
    tty = sys.stdin.isatty() and not json_output
    given = {
        "host": host,
        "port": port,
        "security": security,
        "username": username,
        "from": sender,
        "auth": auth,
        "password_source": password_source,
        "password_command": password_command,
        "token_command": token_command,
        "ca_bundle": ca_bundle,
    }
    questions = {
        "host": _("SMTP server"),
        "security": _("Security (starttls, tls, none)"),
        "port": _("Port"),
        "username": _("Login name (empty: no login)"),
        "from": _("Sender address"),
        "auth": _("Login method (password, xoauth2, none)"),
        "password_source": _("Password from (auto, env, keyring, command, prompt)"),
        "password_command": _("Command that prints the password"),
        "token_command": _("Command that prints the access token"),
    }
    chosen: dict[str, Any] = {}

    def ask(key: str) -> None:
        value = given.get(key)
        if value is None and tty:
            default = current.get(f"smtp.{key}")
            if key == "port" and default is None:
                default = smtp.DEFAULT_PORTS.get(chosen.get("security") or "starttls")
            answer = typer.prompt(questions[key], default="" if default is None else str(default), show_default=True)
            value = answer.strip() or None
        elif value is None:
            value = current.get(f"smtp.{key}")
        if value is not None:
            value = _coerce(SETTINGS[f"smtp.{key}"], value, f"smtp.{key}")
        chosen[key] = value

    for key in ("host", "security", "port", "username", "from", "auth"):
        ask(key)
    if chosen.get("auth") == "xoauth2":
        ask("token_command")
    elif chosen.get("username") and chosen.get("auth") != "none":
        ask("password_source")
        if chosen.get("password_source") in ("command", "auto") and (
            password_command is not None or chosen.get("password_source") == "command"
        ):
            ask("password_command")
    chosen["ca_bundle"] = given["ca_bundle"] if given["ca_bundle"] is not None else current.get("smtp.ca_bundle")
    if current.get("smtp.timeout") and cfg.source("smtp.timeout").source == "file":
        chosen["timeout"] = current["smtp.timeout"]
    if not chosen.get("host"):
        from supportctl.errors import UsageError

        raise UsageError(_("no SMTP server given"), _("pass --host or run on a terminal"))
    if (
        tty
        and chosen.get("password_source") == "keyring"
        and chosen.get("username")
        and credentials.keyring_available()
    ):
        import getpass

        pw = getpass.getpass(_("Password to store in the system keyring: "))
        if pw:
            credentials.store_in_keyring(chosen["username"], chosen["host"], pw)
    mail.write_smtp_config(cfg.path, chosen)
    result: dict[str, Any] = {"path": str(cfg.path), "settings": {f"smtp.{k}": v for k, v in chosen.items()}}
    if not json_output:
        out.say(_("Wrote the [smtp] settings to {path} (no password)").format(path=cfg.path))
    if test:
        fresh = _mail_config({})
        values = _smtp_values(fresh)
        creds = credentials.obtain(values, prompt=_password_prompt())
        outcome = smtp.check_login(smtp.SmtpSettings.from_settings(values), creds)
        result["test"] = {"ok": outcome.state == "sent", "code": outcome.code, "text": outcome.text}
        if outcome.state != "sent":
            from supportctl.errors import ConfigError

            raise ConfigError(
                _("the test login to {host} failed: {text}").format(host=values["smtp.host"], text=outcome.text),
                _("the settings are saved; correct them with `supportctl config smtp`"),
            )
        if not json_output:
            out.say(_("Test login to {host}: ok").format(host=values["smtp.host"]))
    if json_output:
        out.write_out(out.envelope("config smtp", result))


# (section end: submit, outbox)


# ================================================================ inbox (issue 6)
# Staff: `inbox SOURCE`, `inbox reply`.
# Core: supportctl/inbox.py, supportctl/mailsource.py.
# (section start)


class _InboxGroup(_Group):
    """`inbox SOURCE [options]` and `inbox reply …`: a SOURCE that names a subcommand routes to it."""

    allow_interspersed_args = True

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            args = ["--", "", *args]  # an empty SOURCE, then the subcommand and its arguments
        return super().parse_args(ctx, args)


inbox_app = typer.Typer(
    cls=_InboxGroup,
    rich_markup_mode=HELP_MARKUP,
    invoke_without_command=True,
    no_args_is_help=True,
    help=_("For the registration desk: triage a mailbox of registrations; reply to applicants."),
)
app.add_typer(inbox_app, name="inbox")


class InboxStatus(str, Enum):
    all = "all"
    open = "open"
    overdue = "overdue"
    invalid = "invalid"


class FailOn(str, Enum):
    overdue = "overdue"


_STATUS_FILTER = {
    "all": None,
    "open": {"open", "due-soon", "overdue"},
    "overdue": {"overdue"},
    "invalid": {"invalid"},
}


def _inbox_limits(cfg: Any) -> Any:
    from supportctl.inbox import Limits

    return Limits(
        max_message_bytes=cfg.get("inbox.max_message_bytes"),
        max_parts=cfg.get("inbox.max_parts"),
        max_depth=cfg.get("inbox.max_depth"),
    )


def _imap_password(cfg: Any) -> str:
    import os

    from supportctl.errors import ConfigError

    secret = os.environ.get("SUPPORTCTL_IMAP_PASSWORD")
    if secret:
        return secret
    command = cfg.get("imap.password_command")
    if command:
        from supportctl.mailsource import password_from_command

        return password_from_command(command)
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(_("IMAP password: "))
    raise ConfigError(
        _("no IMAP password"),
        _("set SUPPORTCTL_IMAP_PASSWORD or imap.password_command, or run on a terminal to be asked"),
    )


def _open_mail_source(spec: str, cfg: Any, limits: Any) -> Any:
    from supportctl import mailsource

    if spec.startswith(("imap://", "imaps://")):
        from supportctl.inbox import load_state

        target = mailsource.parse_imap_url(spec)
        wm = load_state("imap:" + target.url).get("imap")
        watermark = mailsource.Watermark(int(wm["uidvalidity"]), int(wm["last_uid"])) if wm else None
        return mailsource.ImapSource(
            target, _imap_password(cfg), limits.max_message_bytes, watermark, cfg.get("imap.ca_bundle")
        )
    return mailsource.open_local(spec, limits.max_message_bytes, sys.stdin.buffer)


def _inbox_engine(cfg: Any, pkg: Any) -> Any:
    from supportctl import eta as core

    schedule = core.effective_schedule(
        pkg.process.schedule,
        core.ScheduleOverrides(
            timezone=cfg.get("schedule.timezone"),
            days=cfg.get("schedule.days"),
            hours=cfg.get("schedule.hours"),
            holidays=cfg.get("schedule.holidays"),
            half_days=cfg.get("schedule.half_days"),
        ),
    )
    return core.Engine(schedule, pkg.process.classes, cfg.get("eta.standard_mode"))


@inbox_app.callback()
def inbox(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help=_("A Maildir, an mbox file, a directory of .eml files, - (stdin) or imaps://USER@HOST[:PORT]/FOLDER."),
            metavar="SOURCE",
        ),
    ] = "",
    package: PackageOpt = None,
    now: Annotated[
        str, typer.Option("--now", help=_("Assess due times as of WHEN (default: now)."), metavar="WHEN")
    ] = "now",
    status: Annotated[
        InboxStatus, typer.Option("--status", help=_("Which messages to list; open = open, due-soon and overdue."))
    ] = InboxStatus.all,
    fail_on: Annotated[
        FailOn | None, typer.Option("--fail-on", help=_("Exit with status 10 when anything is overdue."))
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help=_("CA certificates (PEM) for the IMAP server."), metavar="FILE")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help=_("Print one JSON object per message (NDJSON)."))] = False,
) -> None:
    """Triage registrations: status and due time of every message, most urgent first.

    Examples:  supportctl inbox ~/Maildir/.Registrations   ·   supportctl inbox imaps://desk@mail.example.com/INBOX
    """
    if ctx.invoked_subcommand is not None:
        return
    _begin(ctx, "inbox", json_output)
    from supportctl import inbox as core
    from supportctl.timeparse import parse_when, resolve_zone

    if not source:
        raise typer.BadParameter(_("give a SOURCE"), param_hint="SOURCE")
    cfg = _load_config({"imap.ca_bundle": ca_bundle})
    pkg = _load_package(package, cfg)
    engine = _inbox_engine(cfg, pkg)
    real_now = datetime.now(timezone.utc)
    when = parse_when(now, resolve_zone(cfg.get("input_tz")), real_now)
    limits = _inbox_limits(cfg)
    src = _open_mail_source(source, cfg, limits)
    try:
        result = core.triage(src, pkg, engine, when, limits=limits)
    finally:
        src.close()
    wanted = _STATUS_FILTER[status.value]
    items = [i for i in result.items if wanted is None or i.status in wanted]
    if json_output:
        for item in items:
            sys.stdout.write(out.ndjson(item.to_dict(when)) + "\n")
        sys.stdout.flush()
    else:
        _render_inbox(items, when, engine.calendar.to_local(when.timestamp()).tzinfo)
    counts: dict[str, int] = {}
    for i in result.items:
        counts[i.status] = counts.get(i.status, 0) + 1
    st = result.stats
    out.say(
        _("{n} message(s): {counts}; {validated} form(s) validated, {cached} from the cache").format(
            n=st["messages"] if not src.incremental else len(result.items),
            counts=", ".join(f"{counts[s]} {_status_label(s)}" for s in core.STATUSES if s in counts) or "-",
            validated=st["validated"],
            cached=st["cached"],
        )
    )
    for i in result.items:
        if i.status == "skipped":
            out.say(_("skipped {key}: {reason}").format(key=i.facts.key, reason="; ".join(i.reasons)))
    if fail_on is FailOn.overdue and counts.get("overdue"):
        out.say(_("{n} registration(s) overdue").format(n=counts["overdue"]))
        raise typer.Exit(ExitCode.OVERDUE)


# Statuses as shown to people (i18n); --json and NDJSON keep the codes.
_INBOX_STATUS = {
    "overdue": N_("overdue"),
    "due-soon": N_("due-soon"),
    "open": N_("open"),
    "invalid": N_("invalid"),
    "duplicate": N_("duplicate"),
    "skipped": N_("skipped"),
    "not-a-registration": N_("not-a-registration"),
    "done": N_("done"),
}


def _status_label(status: str) -> str:
    return _(_INBOX_STATUS[status]) if status in _INBOX_STATUS else status


def _render_inbox(items: list[Any], now: datetime, zone: Any) -> None:
    rows = []
    for i in items:
        f = i.facts
        due = ""
        if i.due is not None:
            due = (
                out.format_datetime(i.due.astimezone(zone))
                + " ("
                + out.relative(i.due.timestamp() - now.timestamp())
                + ")"
            )
        received = ""
        if f.received:
            received = (
                out.format_datetime(datetime.fromisoformat(f.received).astimezone(zone)) + f" [{f.received_from}]"
            )
        what = "; ".join(i.reasons) if i.reasons else f.subject
        rows.append([f.id, _status_label(i.status), due, i.activation_class or "", received, f.sender, what])
    out.table(
        _("Registrations"),
        [_("Id"), _("Status"), _("Due"), _("Class"), _("Received"), _("From"), _("Subject or reasons")],
        rows,
    )


@inbox_app.command("reply")
def inbox_reply(
    ctx: typer.Context,
    message: Annotated[str, typer.Argument(help=_("A message file, or an id shown by `inbox`."), metavar="MESSAGE")],
    contract: Annotated[
        str | None, typer.Option("--contract", help=_("Send the contract details with this number."), metavar="NUMBER")
    ] = None,
    reject: Annotated[
        bool, typer.Option("--reject", help=_("Send the list of everything wrong with the form."))
    ] = False,
    note: Annotated[
        str | None, typer.Option("--note", help=_("A line of your own for the mail."), metavar="TEXT")
    ] = None,
    queue_only: Annotated[
        bool,
        typer.Option(
            "--queue-only", help=_("Put the reply in the outbox without sending it (`supportctl outbox flush` sends).")
        ),
    ] = False,
    again: Annotated[
        bool, typer.Option("--again", help=_("Reply to a message that was answered before once more."))
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Print the reply; send nothing, mark nothing."))] = False,
    eml: Annotated[
        str | None, typer.Option("--eml", help=_("Write the reply to FILE instead of sending it."), metavar="FILE")
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help=_("CA certificates to verify the server with."), metavar="FILE")
    ] = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Reply to an applicant: the contract details (--contract), or what is wrong with the form (--reject).

    The reply goes into the outbox and is sent at once over SMTP (the settings of `submit`); the message is
    marked done as soon as the reply is safely in the outbox. Exit codes as for submit.

    Examples:  supportctl inbox reply 3f2a9c01b7de --contract V-2026-0042   ·   supportctl inbox reply msg.eml --reject
    """
    _begin(ctx, "inbox reply", json_output)
    from pathlib import Path

    from supportctl import inbox as core
    from supportctl import reply as replies
    from supportctl.fsutil import atomic_write

    if eml and queue_only:
        raise typer.BadParameter(_("--eml writes the reply to a file; it cannot also be queued"), param_hint="--eml")
    cfg = _mail_config({"smtp.ca_bundle": ca_bundle})
    pkg = _load_package(package, cfg)
    found = replies.find(message, pkg, _inbox_limits(cfg))
    msg = replies.compose(pkg, found, contract=contract, reject=reject, note=note, sender=cfg.get("inbox.reply_from"))
    action = "reject" if reject else "contract"
    data: dict[str, Any] = {
        "id": found.facts.id,
        "action": action,
        "to": str(msg["To"]),
        "message_id": str(msg["Message-ID"]),
    }
    if dry_run:
        if json_output:
            out.write_out(out.envelope("inbox reply", {**data, "dry_run": True, "message": msg.as_string()}))
        else:
            out.write_out(msg.as_string())
        return
    replies.refuse_if_answered(found.facts, again)
    if eml:
        # The reply is handed to the desk's own mail program: from here on it is theirs to send.
        atomic_write(Path(eml), bytes(msg), 0o600)
        core.mark_done(found.facts.id, replies.done_record(action, contract, None, data["message_id"]))
        out.say(_("reply to {to} written to {path}").format(to=msg["To"], path=eml))
        out.say(_("message {id} marked done").format(id=found.facts.id))
        if json_output:
            out.write_out(out.envelope("inbox reply", {**data, "eml": eml, "sent": False}))
        return
    # Without a server this is a configuration error before anything is queued or marked (as for submit).
    session = None if queue_only else _open_session(cfg)
    try:
        queued = replies.hand_to_outbox(msg, found.facts, action, again=again)
        entry = queued.entry
        data["outbox"] = entry.id
        data["message_id"] = entry.message_id
        if queued.reused:
            out.say(
                _("the reply to message {id} was queued before as {entry}; using that one").format(
                    id=found.facts.id, entry=entry.id
                )
            )
        else:
            out.say(_("reply to {to} queued in the outbox as {entry}").format(to=msg["To"], entry=entry.id))
        # Done once the reply is safely in the outbox: sending it is the outbox's job from here on.
        core.mark_done(found.facts.id, replies.done_record(action, contract, entry.id, entry.message_id))
        out.say(_("message {id} marked done").format(id=found.facts.id))
        if session is None:
            out.say(
                _("not sent yet: `supportctl outbox flush` or `supportctl outbox retry {entry}` sends it").format(
                    entry=entry.id
                )
            )
            if json_output:
                out.write_out(out.envelope("inbox reply", {**data, "sent": False}))
            return
        result = outbox_send_now(entry.id, session)
    finally:
        if session is not None:
            session.close()
    _report_sent("inbox reply", result, data, json_output, _("correct it and reply again with --again"))


def outbox_send_now(entry_id: str, session: Any) -> Any:
    """Send one message just queued (also for `fetch --request`): the result of `outbox.send`."""
    from supportctl import outbox

    return outbox.send([entry_id], session, mode="submit")[0]


def _report_sent(command: str, result: Any, data: dict[str, Any], json_output: bool, failed_hint: str) -> NoReturn:
    """The outcome of sending one queued message, with the exit codes of `submit` (also for `fetch --request`)."""
    code = _result_exit(result)
    hint = failed_hint if result.state == "failed" else _hint_for(result.state, result.id)
    if json_output:
        errors = []
        if code != ExitCode.OK:
            errors.append({"code": result.state, "exit_code": int(code), "message": result.text, "hint": hint})
        body = {**data, "sent": result.state == "sent", "result": result.to_dict()}
        out.write_out(out.envelope(command, body, errors, ok=code == ExitCode.OK))
    else:
        if result.skipped == "state" and result.state == "sent":
            out.say(_("{id}: sent before").format(id=result.id))
        else:
            out.say(_result_line(result))
        if hint:
            out.say("  " + hint)
    raise typer.Exit(int(code))


# (section end: inbox)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (see `supportctl.__main__`, which picks the language first)."""
    args = hoist_lang(list(sys.argv[1:] if argv is None else argv))
    only_for(args)(args=args, prog_name="supportctl")


_GLOBAL_FLAGS = ("-h", "--help", "--version", "--install-completion", "--show-completion")


def only_for(args: list[str]) -> typer.Typer:
    """The app with just the subcommand being run.

    Typer turns every registered command into a Click command on each start; building only the one
    asked for keeps start-up flat as commands are added. Help, completion and unknown names get the
    whole app, so listings and "did you mean" stay complete.
    """
    import copy
    import os

    if os.environ.get("_SUPPORTCTL_COMPLETE"):
        return app
    name = None
    i = 0
    while i < len(args):
        a = args[i]
        if a in _GLOBAL_FLAGS:
            return app
        if a == "--lang":
            i += 2
            continue
        if not a.startswith("-"):
            name = a
            break
        i += 1
    if name is None:
        return app
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    slim = copy.copy(app)
    slim.registered_commands = commands
    slim.registered_groups = groups
    return slim


def _command_name(info: Any) -> str:
    if info.name:
        return str(info.name)
    return str(info.callback.__name__).lower().replace("_", "-")


def hoist_lang(args: list[str]) -> list[str]:
    """Accept `--lang X` anywhere (`supportctl fill --lang de`): move it before the subcommand."""
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
    return lang + rest
