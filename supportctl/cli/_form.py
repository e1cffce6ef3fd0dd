"""`supportctl fill` and `validate`: the registration form."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supportctl import output as out
from supportctl.cli._base import app
from supportctl.cli.common import JsonOpt, PackageOpt, begin, load_config, load_package, os_reason
from supportctl.errors import ExitCode
from supportctl.fsutil import open_regular
from supportctl.i18n import _

if TYPE_CHECKING:
    from collections.abc import Container

    from supportctl.form.validation import Finding, Value
    from supportctl.package.manifest import FieldSpec, Package


def finding_line(f: Finding) -> str:
    from supportctl.form.validation import finding_line as line

    return line(f, label=False)


class _Abandon(Exception):
    """The terminal closed (EOF) in the middle of `fill`: the draft is kept."""


def _read_data(source: str) -> dict[str, Any]:
    """`--data FILE|-`: a JSON or TOML object of field values."""
    import json

    from supportctl.errors import InvalidInputError, os_reason

    if source == "-":
        text = sys.stdin.read(1 << 20)
        where = _("standard input")
    else:
        try:
            with open_regular(source, follow_symlinks=True) as fh:  # a FIFO or device is refused, not read
                text = fh.read(1 << 20).decode("utf-8")
        except OSError as exc:
            raise InvalidInputError(
                _("cannot read {path}: {reason}").format(path=source, reason=os_reason(exc))
            ) from None
        except UnicodeDecodeError:
            raise InvalidInputError(
                _("cannot read {path}: it is not UTF-8 text").format(path=source),
                _("save it as UTF-8 (JSON or TOML)"),
            ) from None
        where = source
    try:
        data = json.loads(text)
    except ValueError:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                _("{where} is neither a JSON nor a TOML object: {reason}").format(where=where, reason=exc),
                _('e.g. {"first_name": "Łukasz", "terms_accepted": true}'),
            ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(_("{where} must hold one object with field names as keys").format(where=where))
    return {str(k): v if isinstance(v, (str, bool)) else str(v) for k, v in data.items()}


def _draft_time(iso: str) -> str:
    """When a draft was saved, to the minute in the local zone (it is stored as UTC ISO 8601)."""
    from datetime import datetime

    try:
        return out.format_datetime(datetime.fromisoformat(iso).astimezone())
    except ValueError:
        return iso


def _today() -> str:
    from datetime import date

    return date.today().isoformat()


def _label(spec: FieldSpec, lang: str) -> str:
    return str(spec.label.get(lang) or spec.label.get("en") or spec.name)


def _shown(spec: FieldSpec, value: object, lang: str) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    for c in spec.choices:
        if c.value == value and (c.label.get(lang) or "") not in ("", c.value):
            return f"{value} ({c.label.get(lang)})"
    return "" if value is None else str(value)


def _ask(
    spec: FieldSpec,
    number: int,
    total: int,
    default: object,
    known: dict[str, Any],
    chars: Container[str] | None,
    lang: str,
) -> Value | None:
    """Ask for one field until the answer passes the rules; returns the normalised value."""
    from supportctl.form.validation import check_field, parse_bool

    label = _label(spec, lang)
    help_text = spec.help.get(lang) or spec.help.get("en") or ""
    out.say("")
    out.say(_("[{n}/{total}] {label}").format(n=number, total=total, label=label))
    if help_text:
        out.say("  " + help_text)
    if spec.type == "checkbox" and "supportctl show terms" not in help_text:
        out.say("  " + _("Read the terms with: supportctl show terms"))
    for i, choice in enumerate(spec.choices, 1):
        text = choice.label.get(lang) or choice.value
        out.say(f"  {i}) {choice.value}" + (f" — {text}" if text != choice.value else ""))
    while True:
        shown = _shown(spec, default, lang) if default not in (None, "") else ""
        if spec.type == "checkbox":
            prompt = _("{label} (y/n) [{default}]: ").format(label=label, default=shown or _("no"))
        elif spec.choices and shown:
            prompt = _("{label} (1-{n}) [{default}]: ").format(label=label, n=len(spec.choices), default=shown)
        elif spec.choices:
            prompt = _("{label} (1-{n}): ").format(label=label, n=len(spec.choices))
        elif shown:
            prompt = _("{label} [{default}]: ").format(label=label, default=shown)
        else:
            prompt = _("{label}: ").format(label=label)
        try:
            answer = input(prompt).strip()
        except EOFError:
            raise _Abandon() from None
        raw: object = answer if answer else default
        if spec.choices and answer.isdigit() and answer not in spec.choice_values():
            if not 1 <= int(answer) <= len(spec.choices):
                out.say("  " + _("enter a number from 1 to {n}").format(n=len(spec.choices)))
                continue
            raw = spec.choices[int(answer) - 1].value
        if spec.type == "checkbox" and answer:
            raw = parse_bool(answer)
            if raw is None:
                out.say("  " + _("answer y or n"))
                continue
        result = check_field(spec, raw, known, chars)
        if result.finding is None:
            return result.value
        # On the terminal the person sees the label, not the field's internal name.
        line = finding_line(result.finding)
        out.say("  " + line.replace(f'"{spec.name}"', f'"{label}"').replace(f"„{spec.name}“", f"„{label}“"))
        suggestion = result.finding.suggestion
        if suggestion and check_field(spec, suggestion, known, chars).finding is None:
            # One key takes it: the suggestion becomes what Enter answers (it is shown in the prompt).
            out.say("  " + _("press Enter to use {suggestion!r}, or type another answer").format(suggestion=suggestion))
            default = suggestion


def asking_order(fields: list[Any]) -> list[Any]:
    """The form's fields in the order they are asked: the country before the phone number (its region hint),
    so a national number such as 030 1234567 is understood, as it is from --data."""
    countries = [f for f in fields if f.type == "country"]
    first_phone = next((i for i, f in enumerate(fields) if f.type == "phone"), None)
    if not countries or first_phone is None or fields.index(countries[0]) < first_phone:
        return list(fields)
    rest = [f for f in fields if f.type != "country"]
    at = rest.index(fields[first_phone])
    return rest[:at] + countries + rest[at:]


def _interactive(
    pkg: Package, fixed: dict[str, Any], defaults: dict[str, Any], answers: dict[str, Any], chars: Container[str] | None
) -> None:
    """Ask for every field not in `answers`, then let the user review and change any field."""
    from supportctl.form import drafts
    from supportctl.form.validation import check_field, validate_values
    from supportctl.i18n import current_language

    lang = current_language()
    fields = asking_order(list(pkg.fields))
    total = len(fields)

    def ask(n: int) -> None:
        spec = fields[n]
        default = answers.get(spec.name, defaults.get(spec.name))
        if default is None and spec.type == "date":
            default = _today()
        answers[spec.name] = _ask(spec, n + 1, total, default, answers, chars, lang)
        drafts.save(pkg.name, answers)

    for n, spec in enumerate(fields):
        if spec.name in answers:
            continue
        if spec.name in fixed:
            given = check_field(spec, fixed[spec.name], {**defaults, **answers, **fixed}, chars)
            if given.finding is None:
                answers[spec.name] = given.value
                drafts.save(pkg.name, answers)
                continue
            out.say(finding_line(given.finding))
        ask(n)
    while True:
        _good, findings = validate_values(pkg, answers, chars)
        for f in findings:
            out.say(finding_line(f))
            if f.field in answers:
                del answers[f.field]
        for n, spec in enumerate(fields):
            if spec.name not in answers:
                ask(n)
        if findings:
            continue
        out.say("")
        out.say(_("Review:"))
        for n, spec in enumerate(fields, 1):
            out.say(f"  {n:2d}. {_label(spec, lang)}: {_shown(spec, answers.get(spec.name), lang)}")
        try:
            choice = input(_("Number of a field to change, or Enter to write the form: ")).strip()
        except EOFError:
            raise _Abandon() from None
        if not choice:
            return
        if choice.isdigit() and 1 <= int(choice) <= total:
            ask(int(choice) - 1)
        else:
            out.say(_("enter a number from 1 to {n}, or nothing").format(n=total))


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
    check_deliverability: Annotated[
        bool, typer.Option("--check-deliverability", help=_("Also look up the e-mail domain in DNS."))
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Fill the registration form: interactively on a terminal, or from --data/--set.

    Examples:  supportctl fill   ·   supportctl fill --data me.toml --set date=2026-11-25 --no-input
    """
    begin(ctx, "fill", json_output)
    from supportctl.errors import UsageError
    from supportctl.form import drafts
    from supportctl.form import pdfform as form
    from supportctl.form.validation import unknown_fields, validate_values

    if resume and restart:
        raise UsageError(_("use either --resume or --restart, not both"))
    cfg = load_config()
    pkg = load_package(package, cfg)
    chars = form.template(pkg).font.chars
    given: dict[str, Any] = _read_data(data) if data else {}
    for item in assignments or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(_("--set needs FIELD=VALUE, not {item!r}").format(item=item))
        given[key.strip()] = value
    unknown = unknown_fields(pkg, given)
    if unknown:
        for f in unknown:
            out.say(finding_line(f))
        raise form.FormFindingsError(unknown)
    profile = {
        spec.name: cfg.get("profile." + spec.name)
        for spec in pkg.fields
        if "profile." + spec.name in cfg.values and cfg.get("profile." + spec.name) not in (None, "")
    }
    interactive = not no_input and sys.stdin.isatty() and sys.stdout.isatty()
    draft = None if restart else drafts.load(pkg.name)
    if restart:
        drafts.discard(pkg.name)
    answers: dict[str, Any] = {}
    use = False
    if draft is not None:
        use = resume
        if not resume and interactive:
            try:
                reply = input(
                    _("A draft from {when} with {n} answers exists. Resume it? [Y/n] ").format(
                        when=_draft_time(draft.updated), n=len(draft.values)
                    )
                )
            except EOFError:
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            use = reply.strip().lower() not in ("n", "no", "nein")
        if use:
            answers = dict(draft.values)
        elif interactive:
            drafts.discard(pkg.name)
        else:
            out.say(_("note: a saved draft exists; --resume uses it, --restart discards it"))
    if interactive:
        try:
            _interactive(pkg, given, {**given, **profile}, answers, chars)
        except (KeyboardInterrupt, _Abandon):
            out.say("")
            out.say(_("Your answers are saved; run `supportctl fill` again to continue."))
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        values: dict[str, Any] = dict(answers)
    else:
        values = {**profile, **answers, **given}
        for spec in pkg.fields:
            # The same default as on a terminal: a date nobody gave is today's.
            if spec.type == "date" and values.get(spec.name) in (None, ""):
                values[spec.name] = _today()
                out.say(_('"{field}" not given: today, {date}').format(field=spec.name, date=values[spec.name]))
        _good, findings = validate_values(pkg, values, chars, check_deliverability=check_deliverability)
        if findings:
            for f in findings:
                out.say(finding_line(f))
            raise form.FormFindingsError(findings)
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
    for line in _next_steps(pkg, cfg, str(target), report.activation_class):
        out.say(line)
    out.write_out(str(target))


def _next_steps(pkg: Any, cfg: Any, path: str, activation_class: str | None) -> list[str]:
    """What to do after `fill`: check, send, and when support would be active if it were sent now."""
    from datetime import datetime, timezone

    from supportctl.i18n import current_language

    lines = [_("Next: `supportctl validate {path}` checks it, `supportctl submit {path}` sends it.").format(path=path)]
    if activation_class is not None:
        from supportctl.errors import SupportctlError
        from supportctl.schedule import eta

        try:
            result = eta.engine_for(pkg.process, cfg).compute(datetime.now(timezone.utc), activation_class)
        except SupportctlError:  # a schedule problem must not spoil a written form; `eta` reports it
            return lines
        lang = current_language()
        label = result.label.get(lang) or result.label.get("en") or activation_class
        lines.append(
            _("Sent now, {label} would be active by {due} (`supportctl eta --class {cls}`).").format(
                label=label, due=out.format_datetime(result.due, long=True), cls=activation_class
            )
        )
    return lines


@app.command(no_args_is_help=True)
def validate(
    ctx: typer.Context,
    forms: Annotated[list[str], typer.Argument(help=_("Filled registration forms (PDF)."), metavar="FORM.pdf…")],
    package: PackageOpt = None,
    check_deliverability: Annotated[
        bool, typer.Option("--check-deliverability", help=_("Also look up the e-mail domain in DNS."))
    ] = False,
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
    from supportctl.errors import FormInvalidError, InvalidInputError
    from supportctl.form import pdfform as form
    from supportctl.form import pdfutil

    cfg = load_config()
    pkg = load_package(package, cfg)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    worst = ExitCode.OK
    for name in forms:
        try:
            with open_regular(name, follow_symlinks=True) as fh:  # a FIFO or device is refused, not read
                data = fh.read(pdfutil.MAX_PDF_BYTES + 1)
            report = form.validate_pdf(pkg, data, name=name, check_deliverability=check_deliverability)
        except (OSError, InvalidInputError) as exc:
            err = exc if isinstance(exc, InvalidInputError) else InvalidInputError(os_reason(exc))
            errors.append({**err.to_dict(), "path": name})
            results.append({"path": name, "ok": False, "error": err.to_dict()})
            worst = ExitCode.INVALID_INPUT
            out.say(out.error_line(err.message, err.hint))
            continue
        result: dict[str, Any] = {"path": name, "error": None, **report.to_dict()}
        if canonical is not None:
            result["canonical"] = None
            if report.ok:
                from pathlib import Path

                form.write_atomic(Path(canonical), form.canonical_pdf(pkg, report))
                result["canonical"] = canonical
                out.say(_("Canonical copy written to {path}").format(path=canonical))
            else:
                out.say(_("No canonical copy: {path} is not valid").format(path=name))
        results.append(result)
        if not report.ok:
            if worst is ExitCode.OK:
                worst = ExitCode.FORM_INVALID
            n = len(report.findings)
            errors.append(
                {**FormInvalidError(_("{path}: {n} problem(s)").format(path=name, n=n)).to_dict(), "path": name}
            )
        if not json_output:
            if report.ok:
                cls = report.activation_class
                line = (
                    _("{path}: valid").format(path=name)
                    if cls is None
                    else _("{path}: valid (activation class {cls})").format(path=name, cls=cls)
                )
                out.write_out(line)
            else:
                out.write_out(_("{path}: INVALID").format(path=name))
                for f in report.findings:
                    out.write_out("  " + finding_line(f))
    if json_output:
        out.write_out(out.envelope("validate", {"forms": results}, errors, ok=worst is ExitCode.OK))
    if worst is not ExitCode.OK:
        raise typer.Exit(int(worst))
