"""Start-up: which command modules a command line needs, and the app built with only those.

`main` imports the module of the command being run and builds only its Click command (Typer builds every
registered command on each start); help, completion and unknown names get the whole app. Options the user
may put anywhere (`--lang`, `--json`) are moved to where Click reads them.
"""

import sys
from typing import Any

import typer

from supportctl.cli._base import LEFT_OUT, app
from supportctl.errors import Terminated
from supportctl.i18n import lang_flag


def main(argv: list[str] | None = None) -> None:
    """Console entry point (see `supportctl.__main__`, which picks the language first)."""
    args = hoist_lang(list(sys.argv[1:] if argv is None else argv))
    _terminate_like_interrupt()
    only_for(args)(args=args, prog_name="supportctl")


def hoist_lang(args: list[str]) -> list[str]:
    """`--lang X` is accepted anywhere (`supportctl fill --lang de`): Click reads it before the subcommand.

    And `--json` before the command's word (`supportctl --json eta`) goes to the end, where the command takes it."""
    langs, rest = lang_flag(args)
    if rest[-1:] == ["--lang"] and "--" not in rest:  # its value is missing: Click says so for the root option
        langs, rest = [*langs, ""], rest[:-1]
    return [*(arg for lang in langs for arg in ("--lang", lang)), *_json_to_the_end(rest)]


def _terminate_like_interrupt() -> None:
    """SIGTERM (kill, systemd, a CI timeout) cleans up as Ctrl-C does, instead of dying mid-write."""
    import _signal  # type: ignore[import-not-found]  # `signal` turns its constants into enums: 4 M instructions
    import threading

    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    if threading.current_thread() is threading.main_thread():
        _signal.signal(_signal.SIGTERM, handler)


_GLOBAL_FLAGS = ("-h", "--help", "--version", "--install-completion", "--show-completion")


# Which module registers each top-level command, in the order of `--help`'s command list.
VERB_MODULES = {
    "eta": "_eta",
    **dict.fromkeys(("fetch", "show", "print"), "_fetch"),
    **dict.fromkeys(("fill", "validate"), "_form"),
    "config": "_config",
    **dict.fromkeys(("submit", "outbox"), "_mail"),
    "status": "_status",
    "inbox": "_inbox",
}


def load(*modules: str) -> None:
    """Import command modules; importing one registers its commands on `app`."""
    import importlib

    for m in modules:
        importlib.import_module(f"supportctl.cli.{m}")


def load_all() -> typer.Typer:
    load(*dict.fromkeys(VERB_MODULES.values()))
    return app


def only_for(args: list[str]) -> typer.Typer:
    """The app with just the subcommand being run.

    Only the module of that command is imported, and only its Click command is built: Typer turns every
    registered command into a Click command on each start, so this keeps start-up flat as commands are
    added; of a group (`inbox`, `outbox`, `config`), only the subcommands named on the line. Help,
    completion and unknown names get the whole app, so listings and "did you mean" stay complete.
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
            return _listing()
        if a == "--lang":  # hoisted to the front by `main`
            i += 2
            continue
        if not a.startswith("-"):
            name = a
            break
        i += 1
    if name is None or name not in VERB_MODULES:
        return _listing()
    load(VERB_MODULES[name])
    commands = [c for c in app.registered_commands if command_name(c) == name]
    groups = [_only_named(g, args[i + 1 :]) for g in app.registered_groups if g.name == name]
    slim = copy.copy(app)  # without Typer's --install/--show-completion: they come before a command (`_listing`)
    slim.registered_commands, slim.registered_groups, slim._add_completion = commands, groups, False
    return slim


def _only_named(group: Any, rest: list[str]) -> Any:
    """A command group with just the subcommands named in `rest` (`inbox imaps://…` builds none of inbox's).

    Its help (or no arguments: Click may show it) lists them all, so then the group stays whole.
    """
    import copy

    sub = group.typer_instance
    if not rest or "-h" in rest or "--help" in rest or sub is None:
        return group
    named = [c for c in sub.registered_commands if command_name(c) in rest]
    if len(named) == len(sub.registered_commands):
        return group
    LEFT_OUT[group.name] = [command_name(c) for c in sub.registered_commands if c not in named]
    group = copy.copy(group)
    group.typer_instance = copy.copy(sub)
    group.typer_instance.registered_commands = named
    return group


def _listing() -> typer.Typer:
    """The app for `--help`, `--version` and unknown names: every command's name and help, no parameters.

    Typer builds each command's parameters before Click lists the names: a sixth of `supportctl --help`.
    """
    import copy
    import inspect

    listing = copy.copy(load_all())
    listing.registered_commands = [copy.copy(c) for c in app.registered_commands]
    for c in listing.registered_commands:
        c.name, c.help, c.callback = command_name(c), c.help or inspect.getdoc(c.callback), _nothing
    listing.registered_groups = [copy.copy(g) for g in app.registered_groups]
    for g in listing.registered_groups:
        assert g.typer_instance is not None
        g.typer_instance = sub = copy.copy(g.typer_instance)
        sub.registered_commands, sub.registered_groups, sub.registered_callback = [], [], None
    return listing


def _nothing() -> None:
    """Stands in for a command's function where only its name and help are shown."""


def command_name(info: Any) -> str:
    if info.name:
        return str(info.name)
    return str(info.callback.__name__).lower().replace("_", "-")


def _json_to_the_end(args: list[str]) -> list[str]:
    """`--json` before the word of the command that runs goes to the end, where that command takes it:
    `supportctl --json eta`, and `supportctl outbox --json list` (where the group would take it and the
    subcommand print text)."""
    if "--json" not in args:
        return args
    end = args.index("--") if "--" in args else len(args)
    words = [i for i in range(end) if not args[i].startswith("-")]
    if not words:
        return args
    subcommands = _subcommands(args[words[0]])
    runs = next((i for i in words[1:] if args[i] in subcommands), words[0])
    if "--json" not in args[:runs]:
        return args
    rest = [a for i, a in enumerate(args) if not (a == "--json" and i < runs)]
    at = rest.index("--") if "--" in rest else len(rest)
    return [*rest[:at], "--json", *rest[at:]]


def _subcommands(name: str) -> set[str]:
    """The subcommands of the group `name` (none for a command or an unknown word)."""
    if name not in VERB_MODULES:
        return set()
    load(VERB_MODULES[name])
    groups = [g.typer_instance for g in app.registered_groups if g.name == name]
    return {command_name(c) for sub in groups if sub is not None for c in sub.registered_commands}
