"""`supportctl status`: the applicant's registrations after `submit`, until the contract number arrives (issue 14).

Core: supportctl/mail/status.py (registrations, due times, the remembered state, --watch),
supportctl/mail/replies.py (the desk's reply in the applicant's mailbox).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import JsonOpt, PackageOpt, begin, load_config, load_package, password_prompt
from supportctl.errors import ExitCode
from supportctl.i18n import _


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
            "--interval", help=_("With --watch: seconds between looks at a local mailbox (default 60)."), min=1
        ),
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help=_("Your time zone for display (default: local)."), metavar="TZ")
    ] = None,
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
    source = _open_mailbox(spec, cfg) if spec else None
    if source is None and not json_output:
        out.say(
            _(
                "No mailbox given: the desk's reply is not looked for, only what was found before "
                "(--mailbox, status.mailbox or SUPPORTCTL_STATUS_MAILBOX)"
            )
        )
    try:
        if watch:
            _watch(core, pkg, engine, source, float(cfg.get("status.interval")), registration, user_tz, json_output)
        snap = core.refresh(pkg, engine, source, registration)
    finally:
        if source is not None:
            source.close()
    now = core.now_utc()
    if json_output:
        out.write_out(out.envelope("status", _data(snap, now, spec)))
        return
    if not snap.registrations:
        out.say(_("No registration submitted yet: `supportctl submit FORM.pdf` sends it."))
        return
    out.write_out(_screen(snap.registrations, now, user_tz, pkg))


def _data(snap: Any, now: datetime, spec: str | None) -> dict[str, Any]:
    return {
        "now": now.isoformat(),
        "mailbox": spec,
        "registrations": [r.to_dict(now) for r in snap.registrations],
    }


def _imap_password(cfg: Any, user: str, host: str) -> str:
    """The same sources as `inbox`: SUPPORTCTL_IMAP_PASSWORD, the keyring, imap.password_command, a prompt."""
    from supportctl.mail import credentials

    return credentials.imap_password(user, host, cfg.get("imap.password_command"), prompt=password_prompt()).value


def _open_mailbox(spec: str, cfg: Any) -> Any:
    from supportctl.desk import sources

    limit = cfg.get("inbox.max_message_bytes")
    if spec.startswith(("imap://", "imaps://")):
        from supportctl.mail import status as core

        target = sources.parse_imap_url(spec)
        wm = core.watermark("imap:" + target.url)
        return sources.ImapSource(
            target, _imap_password(cfg, target.user, target.host), limit, wm, cfg.get("imap.ca_bundle")
        )
    if spec == "-":
        from supportctl.errors import UsageError

        raise UsageError(
            _("status reads a mailbox, not standard input"), _("give a Maildir, mbox, directory or imaps://")
        )
    return sources.open_local(spec, limit)


# ---------------------------------------------------------------- --watch


def _watch(
    core: Any, pkg: Any, engine: Any, source: Any, interval: float, only: str | None, user_tz: Any, json_output: bool
) -> None:
    shown: dict[str, tuple[Any, Any, Any]] = {}
    last: list[Any] = []

    def on_update(snap: Any) -> None:
        last[:] = [snap]
        now = core.now_utc()
        if not shown:
            if not json_output:
                out.write_out(_screen(snap.registrations, now, user_tz, pkg))
            out.say(_("Waiting for the desk's reply (Ctrl-C stops; nothing is lost)…"))
        elif not json_output:
            for r in snap.registrations:
                if shown.get(r.id) != (r.contract, r.rejected, r.state):
                    out.write_out(_screen((r,), now, user_tz, pkg))
        shown.update({r.id: (r.contract, r.rejected, r.state) for r in snap.registrations})

    try:
        snap, verdict = core.watch(pkg, engine, source, interval, only, on_update)
    except KeyboardInterrupt:
        if json_output and last:
            error = {
                "code": "interrupted",
                "exit_code": int(ExitCode.INTERRUPTED),
                "message": _("interrupted"),
                "hint": None,
            }
            out.write_out(out.envelope("status", _data(last[0], core.now_utc(), None), [error], ok=False))
        out.say(_("interrupted; what was found is saved"))
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    finally:
        if source is not None:
            source.close()
    code = verdict.exit_code
    message = _verdict_line(verdict)
    if json_output:
        errors = []
        if code != ExitCode.OK:
            errors.append({"code": verdict.reason, "exit_code": int(code), "message": message, "hint": None})
        spec = None
        out.write_out(out.envelope("status", _data(snap, core.now_utc(), spec), errors, ok=code == ExitCode.OK))
    else:
        out.say(message)
    raise typer.Exit(int(code))


def _verdict_line(v: Any) -> str:
    lines = {
        "contract": _("Every registration has its contract number."),
        "rejected": _("{id}: the registration desk rejected the form."),
        "overdue": _("{id}: OVERDUE, the due time passed without a contract number."),
        "failed": _("{id}: the mail server refused the submission; it will not arrive."),
        "needs-credentials": _("{id}: not sent, the login failed; fix it and `supportctl outbox retry {id}`."),
        "uncertain": _("{id}: it is uncertain whether the submission arrived; resolve it first."),
    }
    return str(lines.get(v.reason, v.reason)).format(id=v.registration or "")


# ---------------------------------------------------------------- the screen


def _class_label(pkg: Any, name: str | None) -> str:
    from supportctl.i18n import current_language

    if not name:
        return _("unknown (the submitted form could not be read with this package)")
    c = pkg.process.classes.get(name)
    if c is None:
        return name
    return str(c.label.get(current_language()) or c.label.get("en") or name)


def _next_step(r: Any, now: datetime, pkg: Any) -> str | None:
    if r.superseded_by:
        return _("superseded by {id}").format(id=r.superseded_by)
    if r.rejected is not None:
        return _("correct the form (`supportctl fill`), then `supportctl submit --again FORM.pdf`")
    if r.contract is not None:
        return None
    steps = {
        "queued": _("not sent yet: `supportctl outbox retry {id}` sends it now"),
        "deferred": _(
            "the server asked to try later: `supportctl outbox flush` (cron) or `supportctl outbox retry {id}`"
        ),
        "failed": _("the server refused it ({text}): correct it and `supportctl submit --again FORM.pdf`"),
        "needs-credentials": _(
            "the login failed: fix it (`supportctl config smtp`), then `supportctl outbox retry {id}`"
        ),
        "uncertain": _(
            "the connection broke after the form was handed over: check your sent mail or ask the desk, then "
            "`supportctl outbox resolve {id} --delivered` or `--resend`"
        ),
    }
    if r.state in steps:
        return steps[r.state].format(id=r.id, text=r.last_text or "")
    if r.overdue(now):
        return _("the due time has passed: ask the registration desk ({address}), quoting “{subject}”").format(
            address=pkg.process.request_address, subject=r.subject
        )
    return None


def _screen(regs: Any, now: datetime, user_tz: Any, pkg: Any) -> str:
    from supportctl.mail.outbox import state_label

    def when(dt: datetime) -> str:
        return out.format_datetime(dt.astimezone(user_tz))

    blocks = []
    for r in regs:
        lines = [f"{r.id}  {state_label(r.state)} → {', '.join(r.to)}"]
        if r.submitted_at is not None:
            lines.append("  " + _("Accepted by the mail server: {when}").format(when=when(r.submitted_at)))
        else:
            lines.append("  " + _("Not accepted by the mail server yet: the activation clock has not started"))
        lines.append("  " + _("Activation class: {label}").format(label=_class_label(pkg, r.activation_class)))
        if r.due is not None:
            if r.contract is not None or r.rejected is not None:
                lines.append("  " + _("Due: {when}").format(when=when(r.due)))
            else:
                relative = out.relative(r.due.timestamp() - now.timestamp())
                lines.append("  " + _("Due: {when}, {relative}").format(when=when(r.due), relative=relative))
        if r.contract is not None:
            lines.append(
                "  "
                + _("Contract number: {contract} (arrived {when})").format(
                    contract=r.contract, when=when(r.contract_received_at)
                )
            )
        elif r.rejected is not None:
            lines.append("  " + _("REJECTED by the registration desk ({when}):").format(when=when(r.rejected_at)))
            lines.extend("    - " + reason for reason in r.rejected or [_("(no reasons given)")])
        elif r.submitted_at is not None:
            lines.append("  " + _("Contract number: not arrived yet"))
        step = _next_step(r, now, pkg)
        if step:
            lines.append("  " + _("Next: {step}").format(step=step))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
