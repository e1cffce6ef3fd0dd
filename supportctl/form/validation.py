"""The one set of value rules for the registration form, used by fill, validate, submit and inbox.

`validate_values` checks every field of the package's schema at once and returns the normalised values
(international phone format, ISO date, upper-case country, NFC text, checkboxes as bool) with one finding per bad field.
`check_field` checks one answer (interactive `fill` validates on the spot). Nothing here prints or prompts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from supportctl.form import latin
from supportctl.i18n import N_, _, current_language, gettext_in

if TYPE_CHECKING:
    from supportctl.package.manifest import FieldSpec, Package

Value = str | bool


@dataclass(frozen=True)
class Finding:
    """One problem: with a field name for value findings, `field=None` for form-level (integrity) ones."""

    field: str | None
    code: str
    message: str
    suggestion: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"field": self.field, "code": self.code, "message": self.message, "suggestion": self.suggestion}


def finding_line(finding: Finding | Mapping[str, Any], lang: str | None = None, *, label: bool = True) -> str:
    """The one rendering of a finding: for the terminal, the inbox and the reject mail.

    `field last_name: contains U+0416 …; suggestion: Zhukova`. Without `label` the field name is left to
    the message (the terminal lists a form's findings under its name: `"email": not a valid … ; suggestion: …`).
    A form-level finding (no field) is its message. In `lang` when given (mail to the applicant), else in
    the interface language. An unknown field's message already names its suggestion.
    """
    d = finding.to_dict() if isinstance(finding, Finding) else finding
    message = str(d.get("message") or d.get("code") or "")
    field, suggestion = d.get("field"), d.get("suggestion")
    if field is None:
        return message
    tr = _ if lang is None else (lambda text: gettext_in(lang, text))
    hint = suggestion if suggestion and d.get("code") != "unknown-field" else None
    if label:
        template = _FIELD_HINT if hint else _FIELD
    else:
        template = _HINT if hint else "{message}"
    return tr(template).format(field=field, message=message, suggestion=hint)


_FIELD = N_("field {field}: {message}")
_FIELD_HINT = N_("field {field}: {message}; suggestion: {suggestion}")
_HINT = N_("{message}; suggestion: {suggestion}")


@dataclass(frozen=True)
class Checked:
    """The outcome for one field: the normalised value, or the finding that refuses it."""

    value: Value | None
    finding: Finding | None = None


_TRUE = {"1", "true", "yes", "y", "on", "x", "ja", "j"}
_FALSE = {"0", "false", "no", "n", "off", "", "nein"}
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DE_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def _latin_finding(name: str, text: str, font_chars: Container[str] | None) -> Finding | None:
    problems = latin.check(text, font_chars)
    if not problems:
        return None
    first = problems[0]
    more = len(problems) - 1
    if first.code == "control-char":
        msg = _('{char} in "{field}": control or invisible formatting character').format(char=first.label, field=name)
    elif first.code == "font":
        msg = _('{char} in "{field}": the form\'s font cannot display this character').format(
            char=first.label, field=name
        )
    else:
        msg = _('{char} in "{field}": not a Latin-script character').format(char=first.label, field=name)
    if more:
        msg = _("{message} (and {n} more)").format(message=msg, n=more)
    return Finding(name, first.code, msg, latin.suggest(text, font_chars))


def parse_bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _TRUE:
        return True
    if isinstance(raw, str) and raw.strip().lower() in _FALSE:
        return False
    return None


def check_field(
    spec: FieldSpec,
    raw: object,
    values: Mapping[str, object] | None = None,
    font_chars: Container[str] | None = None,
    *,
    stored: bool = False,
    check_deliverability: bool = False,
) -> Checked:
    """Check one field's value. `values` gives the other fields (the phone's region hint is `country`).

    `stored=True` means the value was read from a PDF: a value that is not NFC is reported, not fixed.
    """
    name = spec.name
    if spec.type == "checkbox":
        flag = parse_bool(raw) if raw is not None else False
        if flag is None:
            return Checked(None, Finding(name, "choice", _('"{field}": answer yes or no').format(field=name)))
        if spec.required and not flag:
            return Checked(
                flag,
                Finding(
                    name,
                    "terms",
                    _('"{field}" must be checked: read the terms first (`supportctl show terms`)').format(field=name),
                ),
            )
        return Checked(flag)
    if raw is None or isinstance(raw, bool) or (isinstance(raw, str) and not raw.strip()):
        if isinstance(raw, bool):
            return Checked(None, Finding(name, "choice", _('"{field}" needs text, not true/false').format(field=name)))
        if spec.required:
            return Checked(None, Finding(name, "required", _('"{field}" is required').format(field=name)))
        return Checked("")
    text = str(raw).strip()
    if stored and not latin.is_nfc(text):
        return Checked(
            None,
            Finding(
                name,
                "not-nfc",
                _('"{field}" is not stored in Unicode normal form NFC').format(field=name),
                latin.normalize(text),
            ),
        )
    text = latin.normalize(text)
    if spec.max_length is not None and len(text) > max(10 * spec.max_length, 1000):
        # Far too long (a PDF can carry megabytes in a field): its length is the finding; the script rule
        # would look at every character of it first (9 MB: ~18 s, beyond validate's time limit).
        return Checked(None, _too_long(name, len(text), spec.max_length))
    bad = _latin_finding(name, text, font_chars)
    if bad is not None:
        return Checked(None, bad)
    checked = _typed(spec, text, values or {}, check_deliverability)
    if checked.finding is None and spec.max_length is not None and isinstance(checked.value, str):
        if len(checked.value) > spec.max_length:
            return Checked(None, _too_long(name, len(checked.value), spec.max_length))
    return checked


def _too_long(name: str, n: int, max_length: int) -> Finding:
    return Finding(
        name,
        "max-length",
        _('"{field}" is {n} characters long; at most {max} fit').format(field=name, n=n, max=max_length),
    )


def _typed(spec: FieldSpec, text: str, values: Mapping[str, object], deliverability: bool) -> Checked:
    name = spec.name
    if spec.type == "choice":
        options = spec.choice_values()
        if text in options:
            return Checked(text)
        folded = {o.casefold(): o for o in options}
        if text.casefold() in folded:
            return Checked(folded[text.casefold()])
        near = difflib.get_close_matches(text, options, n=1)
        return Checked(
            None,
            Finding(
                name,
                "choice",
                _('"{field}": {value!r} is not one of {choices}').format(
                    field=name, value=text, choices=", ".join(options)
                ),
                near[0] if near else None,
            ),
        )
    if spec.type == "email":
        return _email(name, text, deliverability)
    if spec.type == "phone":
        return _phone(name, text, values.get("country"))
    if spec.type == "country":
        return _country(name, text)
    if spec.type == "date":
        return _date(name, text)
    return Checked(text)


# email-validator gives its reasons in English: the common ones are said in the interface language; any other
# reason only in English, where it is shown as the library words it (elsewhere a hint in the user's language).
_EMAIL_REASONS = {
    "An email address must have an @-sign.": N_("the @ is missing"),
    "There must be something before the @-sign.": N_("something is missing before the @"),
    "There must be something after the @-sign.": N_("something is missing after the @"),
    "The part after the @-sign is not valid. It should have a period.": N_(
        "a period is missing after the @ (like example.com)"
    ),
    "An email address cannot have two periods in a row.": N_("it has two periods in a row"),
}


def _email(name: str, text: str, deliverability: bool) -> Checked:
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(text, check_deliverability=deliverability)
    except EmailNotValidError as exc:
        reason = str(exc)
        if current_language() != "en":
            known = _EMAIL_REASONS.get(reason)
            reason = _(known) if known else _("write it like name@example.com")
        return Checked(
            None,
            Finding(
                name, "email", _('"{field}": not a valid e-mail address: {reason}').format(field=name, reason=reason)
            ),
        )
    return Checked(result.normalized)


def _phone(name: str, text: str, country: object) -> Checked:
    import phonenumbers

    region = country.strip().upper() if isinstance(country, str) and country.strip() else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        hint = (
            _("start with + and the country code, e.g. +49 30 1234567") if region is None else _("e.g. +49 30 1234567")
        )
        return Checked(
            None, Finding(name, "phone", _('"{field}": not a phone number ({hint})').format(field=name, hint=hint))
        )
    if not phonenumbers.is_valid_number(number):
        return Checked(
            None,
            Finding(
                name,
                "phone",
                _('"{field}": {value} is not a valid phone number{where}').format(
                    field=name, value=text, where=f" ({region})" if region else ""
                ),
            ),
        )
    # As people write it (+49 30 1234567), not E.164: it is printed on the form the desk reads.
    return Checked(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def _country(name: str, text: str) -> Checked:
    import phonenumbers

    code = text.upper()
    if re.fullmatch(r"[A-Z]{2}", code) and code in phonenumbers.SUPPORTED_REGIONS:
        return Checked(code)
    near = difflib.get_close_matches(code, sorted(phonenumbers.SUPPORTED_REGIONS), n=1)
    return Checked(
        None,
        Finding(
            name,
            "country",
            _('"{field}": {value!r} is not a two-letter ISO 3166 country code such as DE, AT or CH').format(
                field=name, value=text
            ),
            near[0] if near and len(code) == 2 else None,
        ),
    )


def _date(name: str, text: str) -> Checked:
    m = _ISO_DATE.fullmatch(text)
    parts: tuple[int, int, int] | None = None
    if m:
        parts = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    else:
        m = _DE_DATE.fullmatch(text)
        if m:
            parts = (int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if parts is not None:
        try:
            return Checked(date(*parts).isoformat())
        except ValueError:
            pass
    return Checked(
        None,
        Finding(
            name,
            "date",
            _('"{field}": {value!r} is not a date (YYYY-MM-DD or DD.MM.YYYY)').format(field=name, value=text),
        ),
    )


def unknown_fields(pkg: Package, values: Mapping[str, object]) -> list[Finding]:
    """A finding for every key that is not a field of the form, with a "did you mean"."""
    names = [f.name for f in pkg.fields]
    found = []
    for key in values:
        if key in names:
            continue
        near = difflib.get_close_matches(key, names, n=1)
        if near:
            msg = _('unknown field "{field}"; did you mean "{near}"?').format(field=key, near=near[0])
        else:
            msg = _('unknown field "{field}"; the fields are: {names}').format(field=key, names=", ".join(names))
        found.append(Finding(key, "unknown-field", msg, near[0] if near else None))
    return found


def validate_values(
    pkg: Package,
    values: Mapping[str, object],
    font_chars: Container[str] | None = None,
    *,
    stored: bool = False,
    check_deliverability: bool = False,
) -> tuple[dict[str, Value], list[Finding]]:
    """Check every field at once: (normalised values of the good fields, one finding per bad field)."""
    findings = unknown_fields(pkg, values)
    good: dict[str, Value] = {}
    # The country is checked first: it is the phone number's region hint.
    country_spec = next((f for f in pkg.fields if f.type == "country"), None)
    context: dict[str, object] = dict(values)
    if country_spec is not None:
        c = check_field(country_spec, values.get(country_spec.name), font_chars=font_chars, stored=stored)
        context[country_spec.name] = c.value if c.finding is None else None
    for spec in pkg.fields:
        result = check_field(
            spec, values.get(spec.name), context, font_chars, stored=stored, check_deliverability=check_deliverability
        )
        if result.finding is not None:
            findings.append(result.finding)
        elif result.value is not None:
            good[spec.name] = result.value
    return good, findings


def activation_class(pkg: Package, values: Mapping[str, object]) -> str | None:
    """The activation class chosen on the form (via `process.class_field`), None if unknown."""
    field_name = pkg.process.class_field
    if field_name is None:
        return None
    chosen = values.get(field_name)
    for spec in pkg.fields:
        if spec.name == field_name:
            for choice in spec.choices:
                if choice.value == chosen:
                    return choice.activation_class
    return None
