"""`supportctl eta`: due times from the package's business-hours rules.

No `from __future__ import annotations` (see cli/_base.py): names imported only for type checking are quoted.
"""

import sys
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

import supportctl.cli.completion as completion
from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import JsonOpt, PackageOpt, TzOpt, begin, load_config, load_package, option
from supportctl.errors import ExitCode, InvalidInputError
from supportctl.i18n import _

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from supportctl.schedule.eta import Engine


class Mode(str, Enum):
    hours = "hours"
    eod = "eod"


class BatchFormat(str, Enum):
    ndjson = "ndjson"
    csv = "csv"


@app.command(no_args_is_help=False)
def eta(
    ctx: typer.Context,
    submission: Annotated[
        str | None,
        typer.Argument(help=_("With --since-submit: the submission's outbox id (default: the newest)."), metavar="ID"),
    ] = None,
    at: Annotated[str, option("--at", _("Start: ISO 8601, an e-mail Date: header, or now."), "WHEN")] = "now",
    activation_class: Annotated[
        str,
        typer.Option(
            "--class",
            "-c",
            help=_("Activation class: critical, standard or all."),
            metavar="CLASS",
            autocompletion=completion.activation_classes,
        ),
    ] = "all",
    input_tz: Annotated[
        str | None, option("--input-tz", _("Zone of a --at without offset (default: local)."), "TZ")
    ] = None,
    tz: TzOpt = None,
    standard_mode: Annotated[
        Mode | None, option("--standard-mode", _("standard: +9 business hours, or end of that day."))
    ] = None,
    explain: Annotated[bool, option("--explain", _("Show each window, skipped day and DST change."))] = False,
    batch: Annotated[bool, option("--batch", _("Read one start per line from stdin; stream results."))] = False,
    fmt: Annotated[BatchFormat, option("--format", _("Output format of --batch."))] = BatchFormat.ndjson,
    schedule_tz: Annotated[str | None, option("--schedule-tz", _("Override the schedule's time zone."), "TZ")] = None,
    hours: Annotated[
        str | None, option("--hours", _("Override business hours, e.g. 08:00-17:00."), "HH:MM-HH:MM")
    ] = None,
    days: Annotated[str | None, option("--days", _("Override business days, e.g. mon-sat."))] = None,
    holidays: Annotated[str | None, option("--holidays", _("Override holidays: DE, DE-BY, … or none."), "SPEC")] = None,
    half_days: Annotated[
        str | None, option("--half-days", _("Shortened days, e.g. 12-24=09:00-13:00,12-31=09:00-13:00, or none."))
    ] = None,
    since_submit: Annotated[
        bool, option("--since-submit", _("Start when the mail server accepted your submission (`supportctl submit`)."))
    ] = False,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """When will support be active? Due times from the package's business-hours rules.

    Examples:  supportctl eta --at "2026-11-27 17:30"   ·   supportctl eta --class critical --explain
    """
    begin(ctx, "eta", json_output)
    from supportctl.schedule import eta as core

    cfg = load_config(
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
    pkg = load_package(package, cfg)
    engine = core.engine_for(pkg.process, cfg)
    in_tz, user_tz = core.zones(cfg)
    try:
        names = engine.class_names(activation_class)
    except InvalidInputError as exc:  # --class is an option value: a wrong command line, exit 2
        raise typer.BadParameter(f"{exc.message} ({exc.hint})", param_hint="'--class'") from None
    if batch:
        core.check_batch(at, since_submit, submission)
        if json_output and fmt is BatchFormat.csv:
            raise typer.BadParameter(_("--json streams NDJSON; leave out --format csv"), param_hint="--json")
        # --json with --batch is the NDJSON stream (one object per line), the machine-readable form of a stream.
        _eta_batch(engine, activation_class, in_tz, fmt)
        return
    now = datetime.now(timezone.utc)
    start = core.start_of(at, since_submit, submission, in_tz, now)
    report = core.report(engine, pkg, start, names, now, user_tz, explain)
    if json_output:
        out.write_out(out.envelope("eta", report.to_dict()))
        return
    color = out.use_color()
    out.write_out(report.text(color), styled=color)


def _eta_batch(engine: "Engine", default_class: str, in_tz: "ZoneInfo", fmt: BatchFormat) -> None:
    from supportctl.schedule.eta import write_batch

    if sys.stdin.isatty():
        out.say(_("Reading start times from standard input, one per line; Ctrl-D ends."))
    failed = write_batch(engine, sys.stdin, default_class, in_tz, sys.stdout, fmt.value)
    sys.stdout.flush()
    if failed:
        out.say(_("{n} input line(s) could not be read; see the error records").format(n=failed))
        raise typer.Exit(ExitCode.INVALID_INPUT)
