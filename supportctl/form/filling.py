"""`fill`'s values: from --data and --set, the profile and the draft, and the interview that asks for the rest.

The interview's rules live here (the asking order, numbers for choices, a suggestion one key takes, the
review, the draft saved after every answer); the CLI supplies how to ask and how to talk (`input`, stderr).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Container, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from supportctl.errors import ExitCode, InvalidInputError, SupportctlError, UsageError
from supportctl.i18n import _, localized

if TYPE_CHECKING:
    from pathlib import Path

    from supportctl.config import Config
    from supportctl.form.pdfform import FormReport
    from supportctl.form.validation import Value
    from supportctl.package.manifest import FieldSpec, Package

MAX_DATA_BYTES = 1 << 20


class Abandoned(Exception):
    """The person stopped answering (end of input) in the middle of the interview: the draft is kept."""


class Stopped(Exception):
    """`fill` stopped by the person (Ctrl-C, SIGTERM, end of input) before the form was written; what became of
    the answers was said. `exit_code`: 130, or 143 for SIGTERM, as every other command exits on it."""

    def __init__(self, exit_code: ExitCode) -> None:
        super().__init__(int(exit_code))
        self.exit_code = exit_code


def read_values(source: str) -> dict[str, Any]:
    """`--data FILE|-`: a JSON or TOML object of field values."""
    import json

    from supportctl.errors import os_reason
    from supportctl.fsutil import open_regular

    if source == "-":
        text = sys.stdin.read(MAX_DATA_BYTES).removeprefix("\ufeff")
        where = _("standard input")
    else:
        try:
            with open_regular(source, follow_symlinks=True) as fh:  # a FIFO or device is refused, not read
                text = fh.read(MAX_DATA_BYTES).decode("utf-8-sig")  # Notepad and PowerShell 5 write a BOM
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


def assign(values: dict[str, Any], assignments: Iterable[str]) -> dict[str, Any]:
    """`--set FIELD=VALUE`, each over what `values` holds."""
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(_("--set needs FIELD=VALUE, not {item!r}").format(item=item))
        values[key.strip()] = value
    return values


def profile(pkg: Package, cfg: Config) -> dict[str, Any]:
    """The `profile.*` settings that name a field of the form: the defaults for what is asked."""
    return {
        spec.name: cfg.get("profile." + spec.name)
        for spec in pkg.fields
        if "profile." + spec.name in cfg.values and cfg.get("profile." + spec.name) not in (None, "")
    }


def today() -> str:
    return date.today().isoformat()


def dates_not_given(pkg: Package, values: dict[str, Any]) -> list[str]:
    """Fill in today for every date field nobody gave (the same default as on a terminal); their names."""
    filled = [s.name for s in pkg.fields if s.type == "date" and values.get(s.name) in (None, "")]
    values.update(dict.fromkeys(filled, today()))
    return filled


def refuse_unknown(pkg: Package, given: dict[str, Any], say: Callable[[str], None]) -> None:
    """Before the first question: values given for fields the form does not have are each said, then refused
    (`FormFindingsError`); without questions `check_without_questions` lists them with every other problem."""
    from supportctl.form.pdfform import FormFindingsError
    from supportctl.form.validation import finding_line, unknown_fields

    unknown = unknown_fields(pkg, given)
    if unknown:
        for f in unknown:
            say(finding_line(f, label=False))
        raise FormFindingsError(unknown)


def check_without_questions(
    pkg: Package,
    values: dict[str, Any],
    chars: Container[str] | None,
    *,
    check_deliverability: bool,
    skipping_meant: bool,
    say: Callable[[str], None],
) -> None:
    """`fill` without questions: every date nobody gave becomes today (and is said), then every problem is said at
    once and refused (`FormFindingsError`). `skipping_meant`: the values came from --data/--set or --no-input was
    given; if not, nobody meant to skip the questions, so why none came is said too."""
    from supportctl.form.pdfform import FormFindingsError
    from supportctl.form.validation import finding_line, validate_values

    for name in dates_not_given(pkg, values):
        say(_('"{field}" not given: today, {date}').format(field=name, date=values[name]))
    _good, findings = validate_values(pkg, values, chars, check_deliverability=check_deliverability)
    if not findings:
        return
    for f in findings:
        say(finding_line(f, label=False))
    if not skipping_meant:
        say(
            _(
                "No questions were asked: standard input or output is not a terminal. Give the values with "
                "--data FILE or --set NAME=VALUE, or run `supportctl fill` in a terminal."
            )
        )
    raise FormFindingsError(findings)


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


def shown(spec: FieldSpec, value: object, lang: str) -> str:
    """A value as the person reads it: yes/no, a choice with its label."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    for c in spec.choices:
        if c.value == value and (c.label.get(lang) or "") not in ("", c.value):
            return f"{value} ({c.label.get(lang)})"
    return "" if value is None else str(value)


def draft_answers(
    name: str, resume: bool, restart: bool, ask: Callable[[str], str] | None, say: Callable[[str], None]
) -> tuple[dict[str, Any], bool]:
    """The saved answers to start from, and whether the draft was taken up (`fill --resume`, `--restart`).

    `ask` is given only when a person is at the terminal: unless --resume, it asks whether to resume (an
    EOFError from it ends `fill`), and a draft declined there is discarded. Without `ask` the draft is left."""
    from supportctl.form import drafts
    from supportctl.output import format_iso

    draft = None if restart else drafts.load(name)
    if restart:
        drafts.discard(name)
    if draft is None:
        return {}, False
    use = resume
    if not resume and ask is not None:
        question = _("A draft from {when} with {n} answers exists. Resume it? [Y/n] ")
        reply = ask(question.format(when=format_iso(draft.updated, None), n=len(draft.values)))
        use = reply.strip().lower() not in ("n", "no", "nein")
    if use:
        return dict(draft.values), True
    if ask is not None:
        drafts.discard(name)
    else:
        say(_("note: a saved draft exists; --resume uses it, --restart discards it"))
    return {}, False


def gather(
    pkg: Package,
    cfg: Config,
    data: str | None,
    assignments: list[str],
    *,
    ask: Callable[[str], str] | None,
    no_input: bool,
    resume: bool,
    restart: bool,
    check_deliverability: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], bool]:
    """`fill`'s values: --data and --set over the draft and the profile; with `ask` (a person at the terminal) the
    interview asks for the rest, without it every problem is refused at once (`FormFindingsError`). Also whether
    the draft is this run's, to be discarded once the form is written. `Stopped` when the person stops."""
    from supportctl.errors import Terminated
    from supportctl.form import pdfform

    chars = pdfform.template(pkg).font.chars
    given = assign(read_values(data) if data else {}, assignments)
    defaults = profile(pkg, cfg)
    if ask is not None:  # before any question; without questions, every problem is listed at once below
        refuse_unknown(pkg, given, say)
    try:
        answers, use = draft_answers(pkg.name, resume, restart, ask, say)
    except EOFError:
        raise Stopped(ExitCode.INTERRUPTED) from None
    if ask is None:
        values = {**defaults, **answers, **given}
        skipping_meant = bool(data or assignments or no_input)
        check_without_questions(
            pkg, values, chars, check_deliverability=check_deliverability, skipping_meant=skipping_meant, say=say
        )
        return values, use  # a draft a --no-input run left aside stays
    from supportctl.i18n import current_language

    try:
        Interview(pkg, chars, current_language(), ask, say).run(given, {**given, **defaults}, answers)
    except (KeyboardInterrupt, Abandoned) as exc:
        say("")
        if answers:
            say(_("Your answers are saved; run `supportctl fill` again to continue."))
        else:  # stopped at the first question: there is no draft to speak of
            say(_("Nothing was answered, so nothing was saved."))
        # SIGTERM arrives as `Terminated`: 143, as every other command exits on it.
        raise Stopped(ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED) from None
    return dict(answers), True


def write_form(
    pkg: Package, values: dict[str, Any], path: str, *, check_deliverability: bool, discard_draft: bool
) -> tuple[Path, FormReport]:
    """The filled form written to `path` (its draft, when this run's, discarded), and its check."""
    from pathlib import Path

    from supportctl.form import drafts, pdfform

    pdf = pdfform.fill_pdf(pkg, values, check_deliverability=check_deliverability)
    target = Path(path)
    pdfform.write_atomic(target, pdf)
    if discard_draft:  # only the draft this run filled in is finished
        drafts.discard(pkg.name)
    return target, pdfform.validate_pdf(pkg, pdf)


def next_steps(pkg: Package, cfg: Config, path: str, activation_class: str | None) -> list[str]:
    """What to do after `fill`: check, send, and when support would be active if it were sent now."""
    from datetime import datetime, timezone

    from supportctl.output import format_datetime, shell_arg
    from supportctl.schedule import eta

    lines = [
        _("Next: `supportctl validate {path}` checks it, `supportctl submit {path}` sends it.").format(
            path=shell_arg(path)
        )
    ]
    if activation_class is None:
        return lines
    try:
        result = eta.engine_for(pkg.process, cfg).compute(datetime.now(timezone.utc), activation_class)
    except SupportctlError:  # a schedule problem must not spoil a written form; `eta` reports it
        return lines
    lines.append(
        _("Sent now, {label} would be active by {due} (`supportctl eta --class {cls}`).").format(
            label=localized(result.label, activation_class),
            due=format_datetime(result.due, long=True),
            cls=activation_class,
        )
    )
    return lines


class Interview:
    """Ask for every field not answered yet, then let the person review and change any field.

    `ask(prompt)` returns the line typed (EOFError at the end of input); `say(line)` talks to the person.
    """

    def __init__(
        self,
        pkg: Package,
        chars: Container[str] | None,
        lang: str,
        ask: Callable[[str], str],
        say: Callable[[str], None],
    ) -> None:
        self.pkg = pkg
        self.chars = chars
        self.lang = lang
        self.say = say
        self.fields = asking_order(list(pkg.fields))
        self._ask = ask

    def read(self, prompt: str) -> str:
        """One answer, stripped; the end of input abandons the interview (the draft stays)."""
        try:
            return self._ask(prompt).strip()
        except EOFError:
            raise Abandoned() from None

    def run(self, fixed: dict[str, Any], defaults: dict[str, Any], answers: dict[str, Any]) -> None:
        """Fill `answers` (saved as a draft after each one); `fixed` values are taken when they pass."""
        from supportctl.form import drafts
        from supportctl.form.validation import check_field, finding_line, validate_values

        for n, spec in enumerate(self.fields):
            if spec.name in answers:
                continue
            if spec.name in fixed:
                given = check_field(spec, fixed[spec.name], {**defaults, **answers, **fixed}, self.chars)
                if given.finding is None:
                    answers[spec.name] = given.value
                    drafts.save(self.pkg.name, answers)
                    continue
                self.say(finding_line(given.finding, label=False))
            self.ask_field(n, defaults, answers)
        total = len(self.fields)
        while True:
            _good, findings = validate_values(self.pkg, answers, self.chars)
            for f in findings:
                self.say(finding_line(f, label=False))
                if f.field in answers:
                    del answers[f.field]
            for n, spec in enumerate(self.fields):
                if spec.name not in answers:
                    self.ask_field(n, defaults, answers)
            if findings:
                continue
            self.say("")
            self.say(_("Review:"))
            for n, spec in enumerate(self.fields, 1):
                label = localized(spec.label, spec.name, self.lang)
                self.say(f"  {n:2d}. {label}: {shown(spec, answers.get(spec.name), self.lang)}")
            choice = self.read(_("Number of a field to change, or Enter to write the form: "))
            if not choice:
                return
            if choice.isdigit() and 1 <= int(choice) <= total:
                self.ask_field(int(choice) - 1, defaults, answers)
            else:
                self.say(_("enter a number from 1 to {n}, or nothing").format(n=total))

    def ask_field(self, n: int, defaults: dict[str, Any], answers: dict[str, Any]) -> None:
        from supportctl.form import drafts

        spec = self.fields[n]
        default = answers.get(spec.name, defaults.get(spec.name))
        if default is None and spec.type == "date":
            default = today()
        answers[spec.name] = self.answer(spec, n + 1, default, answers)
        drafts.save(self.pkg.name, answers)

    def answer(self, spec: FieldSpec, number: int, default: object, known: dict[str, Any]) -> Value | None:
        """Ask for one field until the answer passes the rules; returns the normalised value."""
        from supportctl.form.validation import check_field, finding_line, parse_bool

        lang = self.lang
        say = self.say
        label = localized(spec.label, spec.name, lang)
        help_text = localized(spec.help, "", lang)
        say("")
        say(_("[{n}/{total}] {label}").format(n=number, total=len(self.fields), label=label))
        if help_text:
            say("  " + help_text)
        if spec.type == "checkbox" and "supportctl show terms" not in help_text:
            say("  " + _("Read the terms with: supportctl show terms"))
        for i, choice in enumerate(spec.choices, 1):
            text = choice.label.get(lang) or choice.value
            say(f"  {i}) {choice.value}" + (f" — {text}" if text != choice.value else ""))
        while True:
            answer = self.read(
                self._prompt(spec, label, shown(spec, default, lang) if default not in (None, "") else "")
            )
            raw: object = answer if answer else default
            if spec.choices and answer.isdigit() and answer not in spec.choice_values():
                if not 1 <= int(answer) <= len(spec.choices):
                    say("  " + _("enter a number from 1 to {n}").format(n=len(spec.choices)))
                    continue
                raw = spec.choices[int(answer) - 1].value
            if spec.type == "checkbox" and answer:
                raw = parse_bool(answer)
                if raw is None:
                    say("  " + _("answer y or n"))
                    continue
            result = check_field(spec, raw, known, self.chars)
            if result.finding is None:
                return result.value
            # On the terminal the person sees the label, not the field's internal name.
            line = finding_line(result.finding, label=False)
            say("  " + line.replace(f'"{spec.name}"', f'"{label}"').replace(f"„{spec.name}“", f"„{label}“"))
            suggestion = result.finding.suggestion
            if suggestion and check_field(spec, suggestion, known, self.chars).finding is None:
                # One key takes it: the suggestion becomes what Enter answers (it is shown in the prompt).
                say("  " + _("press Enter to use {suggestion!r}, or type another answer").format(suggestion=suggestion))
                default = suggestion

    def _prompt(self, spec: FieldSpec, label: str, default: str) -> str:
        n = len(spec.choices)
        if spec.type == "checkbox":
            return _("{label} (y/n) [{default}]: ").format(label=label, default=default or _("no"))
        if spec.choices and default:
            return _("{label} (1-{n}) [{default}]: ").format(label=label, n=n, default=default)
        if spec.choices:
            return _("{label} (1-{n}): ").format(label=label, n=n)
        if default:
            return _("{label} [{default}]: ").format(label=label, default=default)
        return _("{label}: ").format(label=label)
