"""`supportctl status`: the applicant's registrations after `submit`, until the contract number arrives (issue 14).

Core: supportctl/mail/status.py (registrations, due times, the remembered state, --watch),
supportctl/mail/replies.py (the desk's reply in the applicant's mailbox).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import JsonOpt, PackageOpt, TzOpt, begin, load_config, load_package, password_prompt
from supportctl.errors import ExitCode, Terminated
from supportctl.i18n import _

if TYPE_CHECKING:
    from datetime import tzinfo

    from supportctl.mail.status import Snapshot
    from supportctl.package.manifest import Package
    from supportctl.schedule.eta import Engine


@app.command()
def status(
    ctx: typer.Context,
    registration: Annotated[
        str | None, typer.Argument(help=_("One registration: its outbox id (a unique prefix is enough)."), metavar="ID")
    ] = None,
    mailbox: Annotated[
        str | None,
        typer.Option(
            "--mailbox",
            help=_(
                "Your mailbox, where the desk's reply arrives: Maildir, mbox, .eml directory or imaps://USER@HOST/FOLDER."
            ),
            metavar="SOURCE",
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help=_("Wait until every registration has its contract number (exit 0).")),
    ] = False,
    interval: Annotated[
        int | None,
        typer.Option(
            "--interval",
            help=_("With --watch: seconds between looks at a local mailbox (default 60)."),
            metavar="SECONDS",
            min=1,
        ),
    ] = None,
    tz: TzOpt = None,
    ca_bundle: Annotated[
        str | None,
        typer.Option("--ca-bundle", help=_("CA certificates to verify the IMAP server with."), metavar="FILE"),
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
        out.say(
            _(
                "No mailbox given: the desk's reply is not looked for, only what was found before "
                "(--mailbox, status.mailbox or SUPPORTCTL_STATUS_MAILBOX)"
            )
        )
    try:
        if watch:
            interval_s = float(cfg.get("status.interval"))
            _watch(pkg, engine, source, interval_s, registration, user_tz, json_output, spec)
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


# ---------------------------------------------------------------- --watch


def _watch(
    pkg: Package,
    engine: Engine,
    source: Any,
    interval: float,
    only: str | None,
    user_tz: tzinfo,
    json_output: bool,
    spec: str | None,
) -> None:
    from supportctl.mail import status as core

    shown: dict[str, tuple[Any, ...]] = {}
    last: list[Snapshot] = []

    def on_update(snap: Snapshot) -> None:
        last[:] = [snap]
        now = core.now_utc()
        if not shown:
            if not json_output:
                out.write_out(core.screen(snap.registrations, now, user_tz, pkg))
            out.say(_("Waiting for the desk's reply (Ctrl-C stops; nothing is lost)…"))
        elif not json_output:
            for r in snap.registrations:
                if shown.get(r.id) != (r.contract, r.rejected, r.bounced, r.state):
                    out.write_out(core.screen((r,), now, user_tz, pkg))
        shown.update({r.id: (r.contract, r.rejected, r.bounced, r.state) for r in snap.registrations})

    try:
        snap, verdict = core.watch(pkg, engine, source, interval, only, on_update)
    except KeyboardInterrupt as exc:
        # SIGTERM (systemd, kill) arrives as `Terminated`: exit 143 as everywhere else, not Ctrl-C's 130.
        terminated = isinstance(exc, Terminated)
        exit_code = ExitCode.TERMINATED if terminated else ExitCode.INTERRUPTED
        if json_output and last:
            error = {
                "code": "terminated" if terminated else "interrupted",
                "exit_code": int(exit_code),
                "message": _("terminated") if terminated else _("interrupted"),
                "hint": None,
            }
            out.write_out(out.envelope("status", last[0].to_dict(core.now_utc(), spec), [error], ok=False))
        if terminated:
            out.say(_("terminated; what was found is saved"))
        else:
            out.say(_("interrupted; what was found is saved"))
        raise typer.Exit(exit_code) from None
    finally:
        if source is not None:
            source.close()
    code = verdict.exit_code
    assert code is not None  # `watch` returns once it has decided
    message = verdict.message
    if json_output:
        errors = []
        if code != ExitCode.OK:
            errors.append({"code": verdict.reason, "exit_code": int(code), "message": message, "hint": None})
        out.write_out(out.envelope("status", snap.to_dict(core.now_utc(), spec), errors, ok=code == ExitCode.OK))
    else:
        out.say(message)
    raise typer.Exit(int(code))
