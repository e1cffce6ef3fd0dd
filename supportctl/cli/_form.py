"""`supportctl fill` and `validate`: the registration form."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import DeliverabilityOpt, JsonOpt, PackageOpt, begin, load_config, load_package
from supportctl.errors import ExitCode, Terminated
from supportctl.i18n import _


@app.command(no_args_is_help=False)
def fill(
    ctx: typer.Context,
    package: PackageOpt = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help=_("Field values from a JSON or TOML object; - reads stdin."), metavar="FILE|-"),
    ] = None,
    assignments: Annotated[
        list[str] | None,
        typer.Option("--set", help=_("One field value, e.g. --set first_name=Łukasz."), metavar="FIELD=VALUE"),
    ] = None,
    out_path: Annotated[
        str, typer.Option("--out", "-o", help=_("Where to write the filled form."), metavar="FILE.pdf")
    ] = "registration-form-filled.pdf",
    no_input: Annotated[
        bool, typer.Option("--no-input", help=_("Never prompt; report every problem at once."))
    ] = False,
    resume: Annotated[bool, typer.Option("--resume", help=_("Continue the saved draft without asking."))] = False,
    restart: Annotated[bool, typer.Option("--restart", help=_("Discard the saved draft and start again."))] = False,
    check_deliverability: DeliverabilityOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Fill the registration form: interactively on a terminal, or from --data/--set.

    Examples:  supportctl fill   ·   supportctl fill --data me.toml --set date=2026-11-25 --no-input
    """
    begin(ctx, "fill", json_output)
    from supportctl.errors import UsageError
    from supportctl.form import drafts, filling
    from supportctl.form import pdfform as form

    if resume and restart:
        raise UsageError(_("use either --resume or --restart, not both"))
    cfg = load_config()
    pkg = load_package(package, cfg)
    chars = form.template(pkg).font.chars
    given = filling.assign(filling.read_values(data) if data else {}, assignments or [])
    profile = filling.profile(pkg, cfg)
    interactive = not no_input and sys.stdin.isatty() and sys.stdout.isatty()
    if interactive:  # before any question; without questions, every problem is listed at once below
        filling.refuse_unknown(pkg, given, out.say)
    try:
        answers, use = filling.draft_answers(pkg.name, resume, restart, input if interactive else None, out.say)
    except EOFError:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    if interactive:
        from supportctl.i18n import current_language

        try:
            filling.Interview(pkg, chars, current_language(), input, out.say).run(given, {**given, **profile}, answers)
        except (KeyboardInterrupt, filling.Abandoned) as exc:
            out.say("")
            if answers:
                out.say(_("Your answers are saved; run `supportctl fill` again to continue."))
            else:  # stopped at the first question: there is no draft to speak of
                out.say(_("Nothing was answered, so nothing was saved."))
            # SIGTERM arrives as `Terminated`: 143, as every other command exits on it.
            raise typer.Exit(ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED) from None
        values: dict[str, Any] = dict(answers)
    else:
        values = {**profile, **answers, **given}
        skipping_meant = bool(data or assignments or no_input)
        filling.check_without_questions(
            pkg, values, chars, check_deliverability=check_deliverability, skipping_meant=skipping_meant, say=out.say
        )
    pdf = form.fill_pdf(pkg, values, check_deliverability=check_deliverability)
    from pathlib import Path

    target = Path(out_path)
    form.write_atomic(target, pdf)
    if interactive or use:
        # Only the draft this run filled in is finished; one a --no-input run left aside stays.
        drafts.discard(pkg.name)
    report = form.validate_pdf(pkg, pdf)
    if json_output:
        out.write_out(out.envelope("fill", {"path": str(target), **report.to_dict()}))
        return
    out.say(_("Filled form written to {path}").format(path=target))
    for line in filling.next_steps(pkg, cfg, str(target), report.activation_class):
        out.say(line)
    out.write_out(str(target))


@app.command()
def validate(
    ctx: typer.Context,
    forms: Annotated[list[str], typer.Argument(help=_("Filled registration forms (PDF)."), metavar="FORM.pdf…")],
    package: PackageOpt = None,
    check_deliverability: DeliverabilityOpt = False,
    canonical: Annotated[
        str | None,
        typer.Option(
            "--canonical",
            metavar="OUT.pdf",
            help=_("For a valid form: write the package's form re-filled by supportctl with the validated values."),
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
        for note in c.notes():
            out.say(note)
        text = c.text()
        if text is not None and not json_output:
            out.write_out(text)
    worst = worst_exit(checked)
    if json_output:
        data, errors = checks_json(checked)
        out.write_out(out.envelope("validate", data, errors, ok=not worst))
    if worst:
        raise typer.Exit(int(worst))
