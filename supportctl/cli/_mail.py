"""`supportctl submit` and `outbox …`: sending through the durable outbox (`config smtp` sets it up)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

import supportctl.cli.completion as completion
from supportctl import output as out
from supportctl.cli import common
from supportctl.cli._base import HELP_MARKUP, Group, app
from supportctl.cli.common import JsonOpt, PackageOpt, ServerCaOpt, argument, begin, load_package, option
from supportctl.errors import ExitCode
from supportctl.i18n import _

if TYPE_CHECKING:
    from supportctl.mail.outbox import Entry, Purged, Resolved, SendRun


@app.command()
def submit(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help=_("The filled registration form (PDF)."), metavar="FORM.pdf")],
    package: PackageOpt = None,
    to: Annotated[
        str | None, option("--to", _("Recipient (default: the package's registration address)."), "ADDR")
    ] = None,
    sender: Annotated[str | None, option("--from", _("Sender address (default: smtp.from)."), "ADDR")] = None,
    cc: Annotated[str | None, option("--cc", _("Copy to these addresses (comma-separated)."), "ADDR")] = None,
    again: Annotated[bool, option("--again", _("Send a form that was submitted before once more."))] = False,
    dry_run: Annotated[
        bool, option("--dry-run", _("Show the message and the server; send and queue nothing."))
    ] = False,
    eml: Annotated[str | None, option("--eml", _("Write the message to FILE instead of sending it."), "FILE")] = None,
    ca_bundle: ServerCaOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """E-mail the filled form to the registration desk, through the durable outbox.

    Examples:  supportctl submit form.pdf --dry-run   ·   supportctl submit form.pdf --cc me@example.com
    """
    begin(ctx, "submit", json_output)
    from pathlib import Path

    from supportctl.form import pdfform as form_core
    from supportctl.mail import submit as workflow
    from supportctl.mail.setup import check_configured_sender

    cfg, smtp = common.mail_config({"smtp.from": sender, "smtp.cc": cc, "smtp.ca_bundle": ca_bundle})
    check_configured_sender(cfg)
    pkg = load_package(package, cfg)

    def queued(entry: Entry, _reused: bool) -> None:
        if not json_output:
            out.say(_("Queued as {id} in the outbox").format(id=entry.id))

    try:
        result = workflow.submit(
            pkg,
            Path(form),
            smtp,
            to=to,
            again=again,
            dry_run=dry_run,
            eml=Path(eml) if eml is not None else None,
            hooks=common.hooks(queued),
        )
    except form_core.FormFindingsError as exc:
        if not json_output:  # with --json the envelope's error carries every finding
            out.say_lines(exc.lines())
        raise
    if result.sent is not None:
        common.report_sent("submit", result.sent, result.to_dict(), json_output, next_step=result.next_step)
    if json_output:
        out.write_out(out.envelope("submit", result.to_dict()))
        return
    out.say_lines(result.notes())
    out.write_out(result.text())


outbox_app = typer.Typer(
    cls=Group,
    help=_("The durable outbox of messages to send: list, show, retry, flush, resolve, purge."),
    invoke_without_command=True,
    rich_markup_mode=HELP_MARKUP,
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox_main(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    if ctx.invoked_subcommand is None:
        begin(ctx, "outbox list", json_output)
        _outbox_list(json_output)


@outbox_app.command("list")
def outbox_list(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List every message: state, attempts, next try, the server's last reply."""
    begin(ctx, "outbox list", json_output)
    _outbox_list(json_output)


def _outbox_list(json_output: bool) -> None:
    from supportctl.mail.outbox import entries, table

    items = entries()
    if json_output:
        out.write_out(out.envelope("outbox list", {"messages": [e.to_dict() for e in items]}))
        return
    if not items:
        out.say(_("The outbox is empty."))
        return
    out.table(_("Outbox"), *table(items, out.stdout_is_tty()), whole=(0,))


@outbox_app.command("show")
def outbox_show(
    ctx: typer.Context,
    message_id: Annotated[str, argument(_("Message id (a unique prefix is enough)."), "ID", completion.outbox_ids)],
    json_output: JsonOpt = False,
) -> None:
    """Show one message: its state, headers and every attempt."""
    begin(ctx, "outbox show", json_output)
    from supportctl.mail.outbox import describe, get

    e = get(message_id)
    if json_output:
        out.write_out(out.envelope("outbox show", e.to_dict()))
        return
    out.write_out(describe(e))


def _render_run(command: str, run: SendRun, json_output: bool) -> NoReturn:
    """One line per message (`SendRun.lines`), the uncertain ones named, then the exit code of the worst."""
    if json_output:
        out.write_out(out.envelope(command, run.to_dict(), run.errors(), ok=run.exit_code == ExitCode.OK))
    out.say_lines(run.lines(json_output))
    raise typer.Exit(int(run.exit_code))


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None,
        typer.Argument(help=_("Message ids."), metavar="ID…", autocompletion=completion.outbox_pending_ids),
    ] = None,
    all_: Annotated[bool, option("--all", _("Every queued, deferred or needs-credentials message."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Try these messages now, whatever their backoff, over one connection (never uncertain or failed ones)."""
    begin(ctx, "outbox retry", json_output)
    from supportctl.errors import UsageError

    if not ids and not all_:
        raise UsageError(_("name message ids or use --all"), _("`supportctl outbox list` shows them"))
    from supportctl.mail import submit

    _cfg, smtp = common.mail_config({})
    _render_run("outbox retry", submit.retry(smtp, None if all_ else list(ids or []), common.hooks()), json_output)


@outbox_app.command("flush")
def outbox_flush(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Send what is due (for cron or a timer), over one connection."""
    begin(ctx, "outbox flush", json_output)
    from supportctl.mail import submit

    _cfg, smtp = common.mail_config({})
    _render_run("outbox flush", submit.flush(smtp, common.hooks()), json_output)


@outbox_app.command("resolve")
def outbox_resolve(
    ctx: typer.Context,
    message_id: Annotated[str, argument(_("Message id."), "ID", completion.outbox_ids)],
    delivered: Annotated[bool, option("--delivered", _("It arrived: mark it sent."))] = False,
    resend: Annotated[bool, option("--resend", _("It did not arrive: queue it again."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Decide an uncertain message: it was delivered, or send it again."""
    begin(ctx, "outbox resolve", json_output)
    from supportctl.mail import outbox

    _render("outbox resolve", outbox.decide(message_id, delivered=delivered, resend=resend), json_output)


@outbox_app.command("purge")
def outbox_purge(
    ctx: typer.Context,
    failed: Annotated[bool, option("--failed", _("Also delete failed messages."))] = False,
    yes: Annotated[bool, option("--yes -y", _("Do not ask (for scripts)."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete sent and superseded messages (and failed ones with --failed). Duplicate protection stays."""
    begin(ctx, "outbox purge", json_output)
    from supportctl.mail import outbox

    ask = (lambda question: typer.confirm(question, default=False)) if sys.stdin.isatty() and not json_output else None
    _render("outbox purge", outbox.purge_asking(failed, yes, ask), json_output)


def _render(command: str, result: Resolved | Purged, json_output: bool) -> None:
    """Its --json data, or its lines (on stderr)."""
    if json_output:
        out.write_out(out.envelope(command, result.to_dict()))
    else:
        out.say_lines(result.lines())
