"""`supportctl fetch`, `show`, `print`: the document package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

import supportctl.cli.completion as completion
from supportctl import output as out
from supportctl.cli import common
from supportctl.cli._base import app
from supportctl.cli.common import (
    JsonOpt,
    PackageOpt,
    argument,
    begin,
    load_config,
    load_package,
    option,
    seconds_option,
)
from supportctl.errors import UsageError
from supportctl.i18n import _

if TYPE_CHECKING:
    from supportctl.config import Config


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
        str | None, option("--dest -d", _("Directory to write the package to (default ./registration-package)."), "DIR")
    ] = None,
    sha256: Annotated[str | None, option("--sha256", _("Expected sha256 of the downloaded zip."), "HEX")] = None,
    max_size: Annotated[
        str | None, option("--max-size", _("Largest download accepted (default 100MB)."), "SIZE")
    ] = None,
    ca_bundle: Annotated[
        str | None, option("--ca-bundle", _("CA certificates to verify https with (also SSL_CERT_FILE)."), "FILE")
    ] = None,
    timeout: Annotated[
        int | None, seconds_option("--timeout", _("Seconds to wait for a connection or for data (default 30)."), 1)
    ] = None,
    deadline: Annotated[
        int | None,
        seconds_option(
            "--deadline", _("Seconds the whole download may take, however slowly data arrives (default 600)."), 1
        ),
    ] = None,
    force: Annotated[
        bool,
        option(
            "--force",
            _("Replace --dest even if it is not a package written by fetch; it is moved aside, never deleted."),
        ),
    ] = False,
    force_download: Annotated[
        bool,
        option(
            "--force-download", _("Download even if the server says the package is unchanged since the last fetch.")
        ),
    ] = False,
    print_after: Annotated[bool, option("--print", _("Print the printable documents after fetching."))] = False,
    printer: Annotated[str | None, option("--printer", _("Printer for --print."), "NAME")] = None,
    request: Annotated[
        bool,
        option(
            "--request",
            _("Do not download: write the e-mail asking the registration desk for the package (the fallback)."),
        ),
    ] = False,
    sender: Annotated[str | None, option("--from", _("Your e-mail address for --request."), "ADDR")] = None,
    eml: Annotated[
        str | None,
        option(
            "--eml",
            _("Write the --request e-mail to FILE instead of sending it (default without SMTP settings)."),
            "FILE",
        ),
    ] = None,
    send: Annotated[
        bool,
        option("--send", _("Send the --request e-mail now through the outbox (the default when SMTP is configured).")),
    ] = False,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Download, verify and unpack the document package (service description, terms, registration form).

    Examples:  supportctl fetch   ·   supportctl fetch https://example.com/pkg.zip --sha256 HEX
    ·   supportctl fetch --request --from you@example.com
    """
    begin(ctx, "fetch", json_output)
    from supportctl.package import fetch as core

    cfg = load_config(
        {
            "fetch.dest": dest,
            "fetch.max_size": max_size,
            "fetch.timeout": timeout,
            "fetch.deadline": deadline,
            "fetch.ca_bundle": ca_bundle,
            "print.printer": printer,
        }
    )
    if request:
        _fetch_request(cfg, package, sender, eml, send, json_output)
        return
    if send or eml:
        raise UsageError(_("--send and --eml go with --request"))
    opts = core.options_from(
        cfg, sha256=sha256, force=force, force_download=force_download, prompt=common.password_prompt()
    )
    with out.download_progress(_("Downloading")) as progress:
        result = core.fetch(source, opts, cfg.get("package_url"), progress)
    out.say_lines(result.notes(text=not json_output))
    if print_after:
        setting = cfg.source("print.printer")
        result = core.print_documents(result, setting.value, setting.source)
    if json_output:
        out.write_out(out.envelope("fetch", result.to_dict(), result.errors(), ok=result.print_error is None))
    else:
        out.say_lines(result.lines())
        out.table(*result.documents_table())
    out.say_lines(result.closing_lines(text=not json_output))
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


def _fetch_request(
    cfg: Config, package: str | None, sender: str | None, eml: str | None, send: bool, json_output: bool
) -> None:
    """The fallback: the request mail, sent through the outbox (SMTP configured or --send), else a .eml file."""
    from pathlib import Path

    from supportctl.package.request import RequestResult, request_package

    pkg = load_package(package, cfg)
    hooks = common.hooks(lambda entry, _reused: out.say(RequestResult.queued_line(entry)))
    path = Path(eml) if eml is not None else None
    result = request_package(pkg, cfg, sender=sender, send=send, eml=path, hooks=hooks)
    if result.sent is not None:
        common.report_sent("fetch", result.sent, result.to_dict(), json_output, result.failed_hint())
    assert result.eml is not None
    out.say_lines(result.lines(text=not json_output))
    out.write_out(out.envelope("fetch", result.to_dict()) if json_output else str(result.eml.absolute()))


@app.command()
def show(
    ctx: typer.Context,
    what: Annotated[
        str,
        argument(
            _("service-description, terms, fields, or another document id of the package."),
            "service-description|terms|fields|DOC",
            completion.show_targets,
        ),
    ],
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show a document's text (through a pager on a terminal) or the form's fields.

    Labels follow --lang. Examples:  supportctl show terms   ·   supportctl show fields --lang de --json
    """
    begin(ctx, "show", json_output)
    from supportctl.i18n import current_language
    from supportctl.package import documents

    cfg = load_config()
    pkg = load_package(package, cfg)
    shown = documents.show(pkg, what, current_language())
    if json_output:
        out.write_out(out.envelope("show", shown.to_dict()))
    elif shown.fields is not None:
        out.table(*documents.fields_table(pkg, shown.fields))
    elif out.stdout_is_tty():
        out.page(shown.text)
    else:
        out.write_out(shown.text)


@app.command("print", no_args_is_help=False)
def print_cmd(
    ctx: typer.Context,
    docs: Annotated[
        list[str] | None,
        typer.Argument(
            help=_("Document ids, terms, or a filled form FILE.pdf (default: every printable document)."),
            metavar="[DOC|FILE.pdf]...",
            show_default=False,
            autocompletion=completion.print_targets,
        ),
    ] = None,
    printer: Annotated[
        str | None,
        option("--printer", _("Printer name (default: print.printer, PRINTER, LPDEST, the system default)."), "NAME"),
    ] = None,
    wait: Annotated[
        float,
        seconds_option("--wait", _("Seconds to wait until the print system has taken the jobs (0: do not wait)."), 0),
    ] = 30.0,
    force: Annotated[bool, option("--force", _("Print a filled form even if it is invalid."))] = False,
    canonical: Annotated[
        bool,
        option(
            "--canonical",
            _("Print a valid filled form's canonical copy: the package's form re-filled with the checked values."),
        ),
    ] = False,
    again: Annotated[
        bool, option("--again", _("Print documents that were printed or queued before once more."))
    ] = False,
    list_printers: Annotated[
        bool, option("--list-printers", _("List the printers and their state, then exit."))
    ] = False,
    package: PackageOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Print the service description and the form with the terms, or a filled form (CUPS lp, lpr, Windows).

    Examples:  supportctl print   ·   supportctl print terms --printer office
    ·   supportctl print registration-form-filled.pdf   ·   supportctl print --list-printers
    """
    begin(ctx, "print", json_output)
    from supportctl.package import printing

    if list_printers:
        found = printing.list_printers()
        if json_output:
            out.write_out(out.envelope("print", found.to_dict()))
        elif found.printers:
            out.table(*found.table())
        else:
            out.say(found.none_line())
        return
    cfg = load_config({"print.printer": printer})
    pkg = load_package(package, cfg)
    wanted = list(docs or [])
    if canonical and not any(printing.is_file_argument(w) for w in wanted):
        raise typer.BadParameter(_("--canonical goes with a filled form FILE.pdf"), param_hint="--canonical")
    items = printing.items_for(pkg, wanted, lambda path: printing.reported_form(pkg, path, force, canonical, out.say))
    setting = cfg.source("print.printer")
    result = printing.print_items(items, setting.value, setting.source, wait=wait, again=again)
    if json_output:
        out.write_out(out.envelope("print", result.to_dict(), ok=not result.exit_code))
    out.say_lines(result.lines())
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))
