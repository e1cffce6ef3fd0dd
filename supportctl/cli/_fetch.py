"""`supportctl fetch`, `show`, `print`: the document package (issue 3)."""

from __future__ import annotations

import sys
from typing import Annotated, Any, NoReturn

import typer

from supportctl import output as out
from supportctl.cli._base import (
    JsonOpt,
    PackageOpt,
    _begin,
    _load_config,
    _load_package,
    app,
)
from supportctl.cli._mail import _open_session, _report_sent, outbox_send_now
from supportctl.i18n import _

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
    deadline: Annotated[
        int | None,
        typer.Option(
            "--deadline",
            help=_("Seconds the whole download may take, however slowly data arrives (default 600)."),
            metavar="SECONDS",
            min=1,
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

    from supportctl.package import fetch as core

    cfg = _load_config(
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
        raise typer.BadParameter(_("--send and --eml go with --request"), param_hint="--send" if send else "--eml")
    opts = core.FetchOptions(
        dest=Path(cfg.get("fetch.dest")),
        sha256=sha256,
        max_size=core.parse_size(cfg.get("fetch.max_size")),
        force=force,
        ca_bundle=cfg.get("fetch.ca_bundle"),
        timeout=float(cfg.get("fetch.timeout")),
        deadline=float(cfg.get("fetch.deadline")),
    )
    with _progress_bar() as progress:
        result = core.fetch(source, opts, cfg.get("package_url"), progress)
    for w in result.warnings:
        out.say(_("warning: {message}").format(message=w))
    jobs: list[Any] = []
    if print_after:
        from supportctl.package import manifest as pkgmod
        from supportctl.package import printing

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

    from supportctl.package import fetch as core

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
    from supportctl import config
    from supportctl.errors import ConfigError
    from supportctl.mail import compose as mail
    from supportctl.mail import credentials, outbox
    from supportctl.package import fetch as core

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
    from supportctl.i18n import current_language
    from supportctl.package import documents

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
    from supportctl.package import printing

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
