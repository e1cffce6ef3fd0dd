"""The verdict's findings: a filled form against the package's template, in words a person understands.

Integrity (pages, resources, fields, annotations, actions, embedded files, data outside the PDF, broken
structures), the values as stored (radio buttons must hold a choice, not text) and the appearances: text
fields must show their value as a reader draws it, each button state must look like the template's.
"""

from __future__ import annotations

from supportctl.form.snapshot import Snapshot
from supportctl.form.validation import Finding
from supportctl.i18n import N_, _
from supportctl.package.manifest import Package


def _forbidden_message(code: str, key: str) -> str:
    if code == "javascript":
        return _("the form contains JavaScript ({key}), which could run when it is opened").format(key=key)
    if code == "xfa":
        return _("the form contains a second, XFA form definition that some readers show instead of this one")
    if code == "embedded-file":
        return _("the form carries an attached file")
    detail = {
        "/URI": _("opens a web address"),
        "/GoToR": _("opens another file"),
        "/GoToE": _("opens an attached file"),
        "/Launch": _("starts a program"),
        "/Named": _("runs a menu command such as Print"),
        "/SubmitForm": _("sends the form somewhere"),
        "/ImportData": _("loads data from another file"),
        "/ResetForm": _("clears the form"),
        "/AA": _("runs when a field or page is used"),
        "/OpenAction": _("runs when the form is opened"),
    }.get(key, _("does something when clicked ({key})").format(key=key))
    return _("the form contains an action that {what}").format(what=detail)


def outside(before: int, after: int) -> list[Finding]:
    """Findings for bytes before `%PDF-` or after the last `%%EOF` (a file that is also a zip, HTML…)."""
    where = (
        (before, N_("the file has {n} bytes of other data before the PDF starts")),
        (after, N_("the file has {n} bytes of other data after the PDF ends")),
    )
    hint = N_("send the PDF file itself, as the PDF program saved it")
    return [Finding(None, "data-outside-pdf", _(text).format(n=n), _(hint)) for n, text in where if n]


def integrity(tpl: Snapshot, got: Snapshot) -> list[Finding]:
    found: list[Finding] = []
    if len(got.pages) != len(tpl.pages):
        found.append(
            Finding(
                None,
                "page-changed",
                _("the form has {got} pages; the package's form has {want}").format(
                    got=len(got.pages), want=len(tpl.pages)
                ),
            )
        )
    for n, (a, b) in enumerate(zip(tpl.pages, got.pages, strict=False), 1):
        if a != b:
            found.append(
                Finding(None, "page-changed", _("page {n}: its content differs from the package's form").format(n=n))
            )
    if any(got.resources.get(k) != v for k, v in tpl.resources.items()) or any(
        k not in tpl.resources and not k.startswith("/Font/") for k in got.resources
    ):
        found.append(Finding(None, "field-changed", _("the form's field fonts and resources were changed")))
    for page, subtype in got.other_annotations:
        found.append(
            Finding(
                None,
                "annotation-added",
                _("page {page}: an annotation was added ({kind})").format(page=page, kind=subtype),
            )
        )
    if got.orphan_widgets:
        found.append(Finding(None, "annotation-added", _("a widget that belongs to no form field was added")))
    found += hazards(tpl, got)
    found += [Finding(odd.field, "structure", odd.message) for odd in got.oddities]
    for name in tpl.fields:
        if name not in got.fields:
            found.append(Finding(name, "field-changed", _('field "{field}" is missing').format(field=name)))
    for name, info in got.fields.items():
        want = tpl.fields.get(name)
        if want is None:
            found.append(
                Finding(name, "field-changed", _('field "{field}" is not on the package\'s form').format(field=name))
            )
        elif info.signature() != want.signature():
            if [w.rect for w in info.widgets] != [w.rect for w in want.widgets]:
                what = _('field "{field}" was moved or resized').format(field=name)
            else:
                what = _('field "{field}" was changed (type, flags, options or widgets)').format(field=name)
            found.append(Finding(name, "field-changed", what))
    return found


def hazards(tpl: Snapshot, got: Snapshot) -> list[Finding]:
    """What the PDF does beyond the template's: actions, scripts, a second form definition, attached files."""
    return [Finding(None, code, _forbidden_message(code, key)) for code, key in sorted(got.forbidden - tpl.forbidden)]


def no_fields() -> Finding:
    """A PDF without any of the form's fields: every finding about a field or a page would only repeat this."""
    return Finding(
        None,
        "no-fields",
        _(
            "the PDF has none of the form's fields (a printout, scan or flattened copy of the form, or another "
            "document): send the PDF that `supportctl fill` or your PDF program saved"
        ),
    )


def raw_values(pkg: Package, snap: Snapshot) -> tuple[dict[str, object], list[Finding]]:
    """The values as stored, and a finding for each button whose value is not stored as a choice."""
    raw: dict[str, object] = {}
    found: list[Finding] = []
    for spec in pkg.fields:
        info = snap.fields.get(spec.name)
        if info is None:
            continue
        if info.ft == "/Btn" and info.value_kind not in ("name", "none"):
            found.append(
                Finding(
                    spec.name,
                    "choice",
                    _(
                        '"{field}": the choice is stored as the text {value!r}, not as one of the form\'s '
                        "buttons; the program that filled the form sets this button the wrong way"
                    ).format(field=spec.name, value=info.value or ""),
                    _("fill the form with `supportctl fill` or a PDF reader such as Adobe Reader or Firefox"),
                )
            )
            continue
        if spec.type == "checkbox":
            raw[spec.name] = info.value == (spec.export_value or "Yes")
        elif info.value not in (None, "Off") or info.ft != "/Btn":
            raw[spec.name] = info.value
    return raw, found


def appearances(pkg: Package, tpl: Snapshot, snap: Snapshot) -> list[Finding]:
    found: list[Finding] = []
    for spec in pkg.fields:
        info = snap.fields.get(spec.name)
        want = tpl.fields.get(spec.name)
        if info is None or want is None:
            continue
        value = info.value or ""
        problem: str | None = None
        for i, w in enumerate(info.widgets):
            if info.ft == "/Btn":
                on = value if value and "/" + value in w.states else "Off"
                if (w.state or "/Off") != "/" + on:
                    problem = _('"{field}" shows {shown!r} but its value is {value!r}').format(
                        field=spec.name, shown=(w.state or "/Off")[1:], value=value
                    )
                elif i < len(want.widgets) and w.state_looks != want.widgets[i].state_looks:
                    # Redrawn by the filler (PyMuPDF, pdf-lib do): each state must still show what the
                    # template's does — a mark for "on", nothing for "Off" — and no letters or pictures.
                    mine, theirs = dict(w.state_kinds), dict(want.widgets[i].state_kinds)
                    state = next((s for s in theirs if mine.get(s) != theirs[s]), None)
                    if state is not None:
                        problem = _(
                            '"{field}": the drawing of its "{state}" state differs from the package\'s form'
                        ).format(field=spec.name, state=state[1:])
            elif w.pictures:
                problem = _('"{field}": its appearance draws a picture, not only text').format(field=spec.name)
            else:
                shows = (w.shown or "").strip()
                if shows != value.strip():
                    problem = _('"{field}" shows {shown!r} but its value is {value!r}').format(
                        field=spec.name, shown=shows, value=value
                    )
            if problem:
                found.append(Finding(spec.name, "appearance-mismatch", problem))
                break
    return found
