"""`supportctl inbox` and its subcommands: staff triage.

No `from __future__ import annotations` (see cli/_base.py; a desk's cron job starts `inbox` every few minutes):
names imported only for type checking are quoted.
"""

import functools
import sys
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

import supportctl.cli.completion as completion
from supportctl import output as out
from supportctl.cli import common
from supportctl.cli._base import HELP_MARKUP, Group, app
from supportctl.cli.common import JsonOpt, PackageOpt, ServerCaOpt, begin, load_config, load_package, option
from supportctl.errors import ExitCode
from supportctl.i18n import _

if TYPE_CHECKING:
    from collections.abc import Callable

    from supportctl.config import Config
    from supportctl.desk.sources import Source
    from supportctl.desk.triage import Triage


class _InboxGroup(Group):
    """`inbox SOURCE [options]` and `inbox reply …`: a SOURCE that names a subcommand routes to it."""

    allow_interspersed_args = True

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            args = ["--", "", *args]  # an empty SOURCE, then the subcommand and its arguments
        elif args and _mistyped_command(args[0], self.known_commands()):
            self.resolve_command(ctx, args[:1])  # `inbox shw ID`: "No such command 'shw'. Did you mean 'show'?"
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        # Two forms, both as they are typed: `inbox [OPTIONS] SOURCE` and `inbox COMMAND ARGS...`.
        return ["[OPTIONS] SOURCE", "|", "COMMAND [ARGS]..."]

    def get_params(self, ctx: Any) -> list[Any]:
        # Click builds a subcommand's usage line ("Usage: …", "Try '… --help'") from this group's parameters
        # too, which made it `inbox [SOURCE] claim …`: a line that fails as typed. A subcommand takes no SOURCE.
        params: list[Any] = super().get_params(ctx)
        if ctx.command is not self:
            params = [p for p in params if p.name != "source"]
        return params


def _mistyped_command(word: str, commands: list[str]) -> bool:
    """A first word that is no mailbox (no such path, no URL, no `-`) but close to a subcommand's name."""
    import os
    from difflib import get_close_matches

    if word.startswith("-") or "/" in word or os.sep in word or ":" in word or os.path.lexists(word):
        return False
    return bool(get_close_matches(word, commands))


inbox_app = typer.Typer(
    cls=_InboxGroup,
    rich_markup_mode=HELP_MARKUP,
    invoke_without_command=True,
    no_args_is_help=False,  # `inbox` alone reads the configured inbox.mailbox (else: give a SOURCE)
    # Typer shows this, not the callback's docstring: the examples of `inbox SOURCE` belong here.
    help=_(
        "For the registration desk: triage a mailbox of registrations (status and due time of every message, "
        "most urgent first); reply to applicants.\n\n"
        "Examples:  supportctl inbox ~/Maildir/.Registrations   ·   supportctl inbox imaps://desk@mail.example.com/INBOX"
    ),
)
app.add_typer(inbox_app, name="inbox")


# The IMAP server's CA, for every inbox command that talks to the mailbox (`imap.ca_bundle` otherwise).
ImapCaOpt = Annotated[str | None, option("--ca-bundle", _("CA certificates (PEM) for the IMAP server."), "FILE")]


class InboxStatus(str, Enum):
    all = "all"
    open = "open"
    overdue = "overdue"
    invalid = "invalid"


class FailOn(str, Enum):
    overdue = "overdue"


def _open_mail_source(spec: str, cfg: "Config") -> "Source":
    from supportctl.desk.sources import open_source

    # No watermark: over IMAP, triage reads it from the desk's store.
    return open_source(spec, cfg, prompt=common.password_prompt(), stdin=sys.stdin.buffer)


@inbox_app.callback()
def inbox(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help=_("A Maildir, an mbox file, a directory of .eml files, - (stdin) or imaps://USER@HOST[:PORT]/FOLDER."),
            metavar="SOURCE",
            autocompletion=completion.inbox_commands,
        ),
    ] = "",
    package: PackageOpt = None,
    now: Annotated[str, option("--now", _("Assess due times as of WHEN (default: now)."), "WHEN")] = "now",
    status: Annotated[
        InboxStatus, option("--status", _("Which messages to list; open = open, due-soon and overdue."))
    ] = InboxStatus.all,
    fail_on: Annotated[FailOn | None, option("--fail-on", _("Exit with status 10 when anything is overdue."))] = None,
    ca_bundle: ImapCaOpt = None,
    json_output: Annotated[bool, option("--json", _("Print one JSON object per message (NDJSON)."))] = False,
    watch: Annotated[
        bool, option("--watch", _("Stay connected and print new registrations and status changes as they happen."))
    ] = False,
    interval: Annotated[
        float,
        common.seconds_option(
            "--interval", _("With --watch: look at least every SECONDS (IMAP also wakes on new mail)."), 0.1
        ),
    ] = 60.0,
) -> None:
    # Its help is inbox_app's (Typer shows that one, not a callback's docstring).
    if ctx.invoked_subcommand is not None:
        return
    begin(ctx, "inbox", json_output, stream=True)
    from supportctl.desk import triage as core
    from supportctl.desk.report import SHOWN, Tally, as_of, inbox_table
    from supportctl.desk.sources import configured
    from supportctl.schedule.eta import engine_for

    cfg = load_config({"imap.ca_bundle": ca_bundle})
    source = configured(source, cfg)
    pkg = load_package(package, cfg)
    engine = engine_for(pkg.process, cfg)
    triage = functools.partial(core.triage, pkg=pkg, engine=engine, limits=core.Limits.from_config(cfg))
    if watch:
        _watch(source, cfg, triage, interval, fail_on is FailOn.overdue, json_output)
        return
    when = as_of(now, cfg)
    src = _open_mail_source(source, cfg)
    try:
        result = triage(src, now=when)
    finally:
        src.close()
    out.say_lines(result.warnings())
    wanted, tally = SHOWN[status.value], Tally()
    try:
        if json_output:  # streamed: a rerun that found nothing new holds no list in memory
            for rec in tally.records(result.records(when), wanted):
                sys.stdout.write(rec.line + "\n")
            sys.stdout.flush()
        else:
            zone = engine.calendar.to_local(when.timestamp()).tzinfo
            rows = inbox_table(tally.items(result.items, wanted), when, zone, pkg, out.stdout_is_tty())
            out.table(_("Registrations"), *rows, whole=(0,))
    finally:
        result.close()
    out.say_lines(tally.lines(source, result.stats))
    code, why = tally.verdict(fail_on is FailOn.overdue)
    if why:
        out.say(why)
    if code:
        raise typer.Exit(code)


def _watch(
    source: str, cfg: "Config", triage: "Callable[..., Triage]", interval: float, fail: bool, as_json: bool
) -> None:
    """`inbox --watch`: one line (or NDJSON record) per new registration or status change, until Ctrl-C."""
    from supportctl.desk.watch import watch
    from supportctl.errors import UsageError

    if source == "-":
        raise UsageError(_("--watch needs a mailbox to look at again, not standard input"))
    src = _open_mail_source(source, cfg)
    out.say(_("watching {source} (Ctrl-C to stop)").format(source=source))
    try:
        for result, changes in watch(src, lambda s, when: triage(s, now=when), interval):
            for change in changes:
                if as_json:
                    sys.stdout.write(out.ndjson(change.to_dict(datetime.now(timezone.utc))) + "\n")
                else:
                    out.write_out(change.line())
            sys.stdout.flush()
            overdue = [i for i in result.items if i.status == "overdue"]
            if fail and overdue:
                out.say(_("{n} registration(s) overdue").format(n=len(overdue)))
                raise typer.Exit(ExitCode.OVERDUE)
    finally:
        src.close()


@inbox_app.command("reply")
def inbox_reply(
    ctx: typer.Context,
    message: Annotated[
        str, common.argument(_("A message file, or an id shown by `inbox`."), "MESSAGE", completion.reply_ids)
    ],
    contract: Annotated[
        str | None, option("--contract", _("Send the contract details with this number."), "NUMBER")
    ] = None,
    reject: Annotated[bool, option("--reject", _("Send the list of everything wrong with the form."))] = False,
    note: Annotated[str | None, option("--note", _("A line of your own for the mail."), "TEXT")] = None,
    queue_only: Annotated[
        bool,
        option("--queue-only", _("Put the reply in the outbox without sending it (`supportctl outbox flush` sends).")),
    ] = False,
    again: Annotated[bool, option("--again", _("Reply to a message that was answered before once more."))] = False,
    force: Annotated[
        bool,
        option("--force", _("Reply even to a duplicate, or to a message that is not a registration (exit 2 without).")),
    ] = False,
    dry_run: Annotated[bool, option("--dry-run", _("Print the reply; send nothing, mark nothing."))] = False,
    eml: Annotated[str | None, option("--eml", _("Write the reply to FILE instead of sending it."), "FILE")] = None,
    ca_bundle: ServerCaOpt = None,
    imap_ca_bundle: Annotated[
        str | None,
        option("--imap-ca-bundle", _("CA certificates (PEM) for the IMAP server the message is in."), "FILE"),
    ] = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Reply to an applicant: the contract details (--contract), or what is wrong with the form (--reject).

    The reply goes into the outbox and is sent at once over SMTP (the settings of `submit`); the message is
    marked done as soon as the reply is safely in the outbox. Exit codes as for submit.

    Examples:  supportctl inbox reply 3f2a9c01b7de --contract V-2026-0042   ·   supportctl inbox reply msg.eml --reject
    """
    begin(ctx, "inbox reply", json_output)
    from pathlib import Path

    from supportctl.desk import reply as replies

    replies.check_options(contract, reject, Path(eml) if eml else None, queue_only)
    cfg, smtp = common.mail_config({"smtp.ca_bundle": ca_bundle, "imap.ca_bundle": imap_ca_bundle})
    pkg = load_package(package, cfg)
    result = replies.reply_to(
        message,
        pkg,
        cfg,
        smtp,
        common.hooks(),
        contract=contract,
        reject=reject,
        eml=Path(eml) if eml else None,
        queue_only=queue_only,
        dry_run=dry_run,
        force=force,
        note=note,
        again=again,
    )
    data = result.to_dict()
    if result.sent is not None:
        common.report_sent("inbox reply", result.sent, data, json_output, _("correct it and reply again with --again"))
    if json_output:
        out.write_out(out.envelope("inbox reply", data))
    elif result.dry_run:
        out.write_out(data["message"])
    if not (json_output and result.dry_run):  # the dry run's own --json says it
        out.say_lines(result.notes())


@inbox_app.command("show")
def inbox_show(
    ctx: typer.Context,
    message: Annotated[
        str,
        common.argument(
            _("A message file, or an id (or its first 6+ characters) shown by `inbox`."), "ID", completion.inbox_ids
        ),
    ],
    now: Annotated[str, option("--now", _("Assess the due time as of WHEN (default: now)."), "WHEN")] = "now",
    pdf: Annotated[
        str | None,
        option(
            "--pdf",
            _("Write the canonical copy of a valid form to FILE: the package's form with the values it activated."),
            "FILE",
        ),
    ] = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """One registration in full: its mail, the files it carries, every finding, class, due time and history.

    Examples:  supportctl inbox show 3f2a9c   ·   supportctl inbox show 3f2a9c01b7de.2 --json
    """
    begin(ctx, "inbox show", json_output)
    from supportctl.desk.report import as_of, detail, show_text
    from supportctl.desk.triage import Limits
    from supportctl.schedule.eta import engine_for

    cfg = load_config({})
    pkg = load_package(package, cfg)
    engine = engine_for(pkg.process, cfg)
    when = as_of(now, cfg)
    found, item, data = detail(message, pkg, engine, when, Limits.from_config(cfg))
    if pdf is not None:
        from pathlib import Path

        from supportctl.desk.reply import write_canonical

        write_canonical(pkg, found, Path(pdf))
        data["pdf"] = pdf
        out.say(_("canonical copy of {id} written to {path}").format(id=found.facts.id, path=pdf))
    if json_output:
        out.write_out(out.envelope("inbox show", data))
        return
    zone = engine.calendar.to_local(when.timestamp()).tzinfo
    out.write_out(show_text(found, item, data, pkg, zone))


IdArg = Annotated[str, typer.Argument(help=_("An id (or its first 6+ characters) shown by `inbox`."), metavar="ID")]


def inbox_claim_or_release(
    ctx: typer.Context, message: IdArg, ca_bundle: ImapCaOpt = None, json_output: JsonOpt = False
) -> None:
    """`inbox claim` and `inbox release` (one command under two names: `ctx.info_name` says which)."""
    from supportctl.desk import shared

    claim = ctx.info_name == "claim"
    begin(ctx, "inbox claim" if claim else "inbox release", json_output)
    cfg = load_config({"imap.ca_bundle": ca_bundle})
    taken = shared.take(message, load_package(None, cfg), cfg, claim, common.password_prompt())
    out.say_lines(taken.lines())
    if json_output:
        out.write_out(out.envelope(taken.command, taken.to_dict()))


# The help of each name is its own: Typer shows `help=` as it would the docstring (the same msgids).
inbox_app.command(
    "claim",
    help=_(
        "Take a registration before working on it: every desk member's `inbox` shows it as yours.\n\n"
        "Examples:  supportctl inbox claim 3f2a9c"
    ),
)(inbox_claim_or_release)
inbox_app.command(
    "release", help=_("Give back a registration you claimed.\n\nExamples:  supportctl inbox release 3f2a9c")
)(inbox_claim_or_release)


@inbox_app.command("report")
def inbox_report(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help=_("The mailbox, as for `inbox` (default: inbox.mailbox)."), metavar="SOURCE")
    ] = "",
    since: Annotated[str | None, option("--since", _("Registrations received from DATE on."), "DATE")] = None,
    until: Annotated[str | None, option("--until", _("Registrations received before DATE."), "DATE")] = None,
    ca_bundle: ImapCaOpt = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """How the desk meets its SLA, per activation class, computed from the mailbox itself.

    Received, answered within the SLA, answered late, still open, overdue now, and the median and 90th
    percentile business time to the reply.

    Examples:  supportctl inbox report imaps://desk@mail.example.com/INBOX --since 2026-11-01 --until 2026-12-01
    """
    begin(ctx, "inbox report", json_output)
    from supportctl.desk.report import as_of, sla, sla_data, sla_table
    from supportctl.desk.sources import configured
    from supportctl.desk.triage import Limits
    from supportctl.schedule.eta import engine_for

    cfg = load_config({"imap.ca_bundle": ca_bundle})
    source = configured(source, cfg)
    pkg = load_package(package, cfg)
    now = datetime.now(timezone.utc)
    start, end = (as_of(x, cfg, now) if x else None for x in (since, until))
    limits = Limits.from_config(cfg)
    figures = sla(_open_mail_source(source, cfg), pkg, engine_for(pkg.process, cfg), limits, now, start, end)
    if json_output:
        out.write_out(out.envelope("inbox report", sla_data(source, start, end, figures)))
        return
    columns, rows = sla_table(figures, pkg, out.stdout_is_tty())
    out.table(_("SLA report"), columns, rows)
    if not rows:
        out.say(_("no registrations received in this period"))
