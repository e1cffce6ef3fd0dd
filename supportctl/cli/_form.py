"""`supportctl fill` and `validate`: the registration form."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import DeliverabilityOpt, JsonOpt, PackageOpt, begin, load_config, load_package, option
from supportctl.i18n import _


@app.command(no_args_is_help=False)
def fill(
    ctx: typer.Context,
    package: PackageOpt = None,
    data: Annotated[
        str | None, option("--data", _("Field values from a JSON or TOML object; - reads stdin."), "FILE|-")
    ] = None,
    assignments: Annotated[
        list[str] | None, option("--set", _("One field value, e.g. --set first_name=Łukasz."), "FIELD=VALUE")
    ] = None,
    out_path: Annotated[
        str, option("--out -o", _("Where to write the filled form."), "FILE.pdf")
    ] = "registration-form-filled.pdf",
    no_input: Annotated[bool, option("--no-input", _("Never prompt; report every problem at once."))] = False,
    resume: Annotated[bool, option("--resume", _("Continue the saved draft without asking."))] = False,
    restart: Annotated[bool, option("--restart", _("Discard the saved draft and start again."))] = False,
    check_deliverability: DeliverabilityOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Fill the registration form: interactively on a terminal, or from --data/--set.

    Examples:  supportctl fill   ·   supportctl fill --data me.toml --set date=2026-11-25 --no-input
    """
    begin(ctx, "fill", json_output)
    from supportctl.errors import UsageError
    from supportctl.form import filling

    if resume and restart:
        raise UsageError(_("use either --resume or --restart, not both"))
    cfg = load_config()
    pkg = load_package(package, cfg)
    interactive = not no_input and sys.stdin.isatty() and sys.stdout.isatty()
    try:
        values, ours = filling.gather(
            pkg,
            cfg,
            data,
            assignments or [],
            ask=input if interactive else None,
            no_input=no_input,
            resume=resume,
            restart=restart,
            check_deliverability=check_deliverability,
            say=out.say,
        )
    except filling.Stopped as exc:
        raise typer.Exit(int(exc.exit_code)) from None
    target, report = filling.write_form(
        pkg, values, out_path, check_deliverability=check_deliverability, discard_draft=ours
    )
    if json_output:
        out.write_out(out.envelope("fill", {"path": str(target), **report.to_dict()}))
        return
    out.say(_("Filled form written to {path}").format(path=target))
    out.say_lines(filling.next_steps(pkg, cfg, str(target), report.activation_class))
    out.write_out(str(target))


@app.command()
def validate(
    ctx: typer.Context,
    forms: Annotated[list[str], typer.Argument(help=_("Filled registration forms (PDF)."), metavar="FORM.pdf…")],
    package: PackageOpt = None,
    check_deliverability: DeliverabilityOpt = False,
    canonical: Annotated[
        str | None,
        option(
            "--canonical",
            _("For a valid form: write the package's form re-filled by supportctl with the validated values."),
            "OUT.pdf",
        ),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Check filled forms: values, Latin script, and that the form itself is unchanged.

    Exit status: 0 all valid, 4 a form is invalid, 3 a file is not a readable PDF.
    Example:  supportctl validate registration-form-filled.pdf --canonical clean.pdf
    """
    begin(ctx, "validate", json_output)
    if canonical is not None and len(forms) != 1:
        from supportctl.errors import UsageError

        raise UsageError(_("give exactly one form with --canonical"))
    from supportctl.form.pdfform import check_files, checks_json, worst_exit

    cfg = load_config()
    pkg = load_package(package, cfg)
    checked = []
    for c in check_files(pkg, forms, check_deliverability=check_deliverability, canonical=canonical):
        checked.append(c)
        out.say_lines(c.notes())
        text = c.text()
        if text is not None and not json_output:
            out.write_out(text)
    worst = worst_exit(checked)
    if json_output:
        data, errors = checks_json(checked)
        out.write_out(out.envelope("validate", data, errors, ok=not worst))
    if worst:
        raise typer.Exit(int(worst))
