"""`supportctl status`: the applicant's registrations after `submit`, until the contract number arrives (issue 14).

Core: supportctl/mail/status.py (registrations, due times, the remembered state, --watch),
supportctl/mail/replies.py (the desk's reply in the applicant's mailbox).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import (
    JsonOpt,
    PackageOpt,
    TzOpt,
    begin,
    load_config,
    load_package,
    option,
    password_prompt,
    seconds_option,
)
from supportctl.i18n import _

if TYPE_CHECKING:
    from supportctl.mail.status import WatchEnd


@app.command()
def status(
    ctx: typer.Context,
    registration: Annotated[
        str | None, typer.Argument(help=_("One registration: its outbox id (a unique prefix is enough)."), metavar="ID")
    ] = None,
    mailbox: Annotated[
        str | None,
        option(
            "--mailbox",
            _(
                "Your mailbox, where the desk's reply arrives: Maildir, mbox, .eml directory or imaps://USER@HOST/FOLDER."
            ),
            "SOURCE",
        ),
    ] = None,
    watch: Annotated[
        bool, option("--watch", _("Wait until every registration has its contract number (exit 0)."))
    ] = False,
    interval: Annotated[
        int | None,
        seconds_option("--interval", _("With --watch: seconds between looks at a local mailbox (default 60)."), 1),
    ] = None,
    tz: TzOpt = None,
    ca_bundle: Annotated[
        str | None, option("--ca-bundle", _("CA certificates to verify the IMAP server with."), "FILE")
    ] = None,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Where your submitted registrations stand: accepted when, due when, contract number once it arrived.

    Examples:  supportctl status --mailbox ~/Maildir   ·   supportctl status --watch --json
    """
    begin(ctx, "status", json_output)
    from supportctl.mail import status as core
    from supportctl.schedule import eta
    from supportctl.schedule.timeparse import resolve_zone

    cfg = load_config({"status.mailbox": mailbox, "status.interval": interval, "tz": tz, "imap.ca_bundle": ca_bundle})
    pkg = load_package(package, cfg)
    engine = eta.engine_for(pkg.process, cfg)
    user_tz = resolve_zone(cfg.get("tz"))
    spec = cfg.get("status.mailbox")
    source = core.open_mailbox(spec, cfg, password_prompt()) if spec else None
    if source is None and not json_output:
        out.say(core.no_mailbox_note())
    try:
        if watch:
            write = None if json_output else out.write_out
            end = core.watch_for(
                pkg, engine, source, float(cfg.get("status.interval")), registration, user_tz, write, out.say
            )
            _watched(end, json_output, spec)
        snap = core.refresh(pkg, engine, source, registration)
    finally:
        if source is not None:
            source.close()
    now = core.now_utc()
    if json_output:
        out.write_out(out.envelope("status", snap.to_dict(now, spec)))
        return
    if not snap.registrations:
        out.say(_("No registration submitted yet: `supportctl submit FORM.pdf` sends it."))
        return
    out.write_out(core.screen(snap.registrations, now, user_tz, pkg))


def _watched(end: WatchEnd, json_output: bool, spec: str | None) -> NoReturn:
    """The end of `status --watch`: its --json document (the last look) or its line, and its exit status."""
    from supportctl.mail import status as core

    if json_output and end.snapshot is not None:
        data = end.snapshot.to_dict(core.now_utc(), spec)
        out.write_out(out.envelope("status", data, end.errors(), ok=end.ok))
    out.say_lines(end.lines(json_output))
    raise typer.Exit(int(end.exit_code))
