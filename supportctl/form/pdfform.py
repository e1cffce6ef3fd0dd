"""The registration form: fill it, read it back, and prove it is the package's form, unchanged.

`fill_pdf` validates the values (validation.py), then appends an incremental update to the package's
template that changes only field values and appearance streams — the template's bytes stay untouched.
Text appearances are drawn with the form's own embedded font (/DR /DV): hex CIDs from its ToUnicode map,
the font size shrunk from /W widths until the value fits. Radio buttons and checkboxes are set by their
export value as PDF names (never as text). `validate_pdf` reads any PDF with limits, compares it with the
template (pages, fields, annotations, actions) and checks the values and what their appearances show.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from supportctl.errors import ExitCode, FormInvalidError, InvalidInputError, SupportctlError, os_reason
from supportctl.form import checks, fonts, pdfutil
from supportctl.form.snapshot import Snapshot, read, text
from supportctl.form.validation import Finding, activation_class, finding_line, validate_values
from supportctl.i18n import _
from supportctl.package.manifest import Package

__all__ = ["Finding", "FormFindingsError", "FormReport", "canonical_pdf", "fill_pdf", "validate_pdf"]


@dataclass(frozen=True)
class FormReport:
    ok: bool
    values: dict[str, str | bool]
    findings: tuple[Finding, ...]
    activation_class: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "values": dict(self.values),
            "findings": [f.to_dict() for f in self.findings],
            "activation_class": self.activation_class,
        }


class FormFindingsError(FormInvalidError):
    """The values cannot go on the form; `findings` lists every problem (one per field)."""

    def __init__(self, findings: list[Finding]) -> None:
        first = findings[0].message
        if len(findings) == 1:
            message = first
        else:
            names = ", ".join(dict.fromkeys(f.field or "-" for f in findings))
            message = _("the form has {n} problems: {fields}").format(n=len(findings), fields=names)
        super().__init__(message, _("correct the values and run the command again"))
        self.findings = tuple(findings)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "findings": [f.to_dict() for f in self.findings]}

    def lines(self) -> list[str]:
        """Every finding, one indented line each (said before the error; with --json its `findings` say it)."""
        return ["  " + finding_line(f) for f in self.findings]


# ---------------------------------------------------------------- the package's template


@dataclass(frozen=True)
class Template:
    data: bytes
    snapshot: Snapshot
    font: pdfutil.FontMap
    font_ref: tuple[int, int]
    font_name: str
    font_size: float
    prev_xref: int
    trailer: dict[str, bytes]


def template(pkg: Package) -> Template:
    path = pkg.form_path
    try:
        st = path.stat()
    except OSError as exc:
        raise InvalidInputError(
            _("the package's form {path} cannot be read: {reason}").format(path=path, reason=os_reason(exc)),
            _("run `supportctl fetch` to get the package again"),
        ) from None
    return _template(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=4)
def _template(path: str, mtime_ns: int, size: int) -> Template:
    from supportctl.fsutil import read_regular

    what = _("the package's form {path}").format(path=path)
    try:
        data = read_regular(path, pdfutil.MAX_PDF_BYTES)
    except OSError as exc:
        raise InvalidInputError(
            _("the package's form {path} cannot be read: {reason}").format(path=path, reason=os_reason(exc))
        ) from None
    with pdfutil.guarded(what):
        reader = pdfutil.open_pdf(data, what)
        snap = read(reader, pdfutil.Budget(what))
        acro = reader.trailer["/Root"]["/AcroForm"].get_object()
        da = (text(acro.get("/DA")) or "/DV 10 Tf 0 g").encode("latin-1")
        m = pdfutil.DA_SIZE.search(da)
        font_name = m.group(1).decode() if m else "DV"
        font_ref: Any = acro["/DR"].get_object()["/Font"].get_object().raw_get("/" + font_name)
        font = pdfutil.font_map(font_ref)
        # Filled forms draw every value in this font (an object `fill` leaves untouched): decode it once here,
        # not once per validated form (its ToUnicode map was ~10 % of each validation).
        snap.fonts.setdefault(font_ref.idnum, fonts.font(font_ref))
        snap.form_font = font_ref.idnum
        tail = re.findall(rb"startxref\s+(\d+)", data[-2048:])
        trailer = {}
        for key in ("/Root", "/Info"):
            ref = reader.trailer.raw_get(key) if key in reader.trailer else None
            if ref is not None and hasattr(ref, "idnum"):
                trailer[key] = f"{ref.idnum} {ref.generation} R".encode()
        if "/ID" in reader.trailer:
            ids = reader.trailer["/ID"]
            trailer["/ID"] = b"[" + b" ".join(b"<" + bytes(i.original_bytes).hex().encode() + b">" for i in ids) + b"]"
    return Template(
        data=data,
        snapshot=snap,
        font=font,
        font_ref=(font_ref.idnum, font_ref.generation),
        font_name=font_name,
        font_size=float(m.group(2)) if m else 10.0,
        prev_xref=int(tail[-1]) if tail else 0,
        trailer=trailer,
    )


# ---------------------------------------------------------------- validate


def validate_pdf(
    pkg: Package, data: bytes, *, name: str | None = None, check_deliverability: bool = False
) -> FormReport:
    """Check a filled form: integrity against the package's template, values, appearances.

    Raises `InvalidInputError` (exit 3) when `data` is not a readable PDF.
    """
    tpl = template(pkg)
    what = name or _("the form")
    with pdfutil.guarded(what):
        reader = pdfutil.open_pdf(data, what)
        snap = read(reader, pdfutil.Budget(what), tpl.snapshot, data.startswith(tpl.data))
    findings = checks.outside(*pdfutil.outside(data))
    if tpl.snapshot.fields and not snap.fields:  # "Microsoft Print to PDF", "Save as PDF", a scan, a flattened copy
        # One finding says it all (what a flattening program left broken is beside the point); what the file
        # would do when opened is still said.
        return FormReport(False, {}, (*findings, checks.no_fields(), *checks.hazards(tpl.snapshot, snap)), None)
    findings += checks.integrity(tpl.snapshot, snap)
    raw, stored_findings = checks.raw_values(pkg, snap)
    values, value_findings = validate_values(
        pkg, raw, tpl.font.chars, stored=True, check_deliverability=check_deliverability
    )
    stored = {f.field for f in stored_findings}
    findings += stored_findings + [f for f in value_findings if f.field not in stored]
    bad_fields = {f.field for f in findings}
    findings += [f for f in checks.appearances(pkg, tpl.snapshot, snap) if f.field not in bad_fields]
    return FormReport(not findings, values, tuple(findings), activation_class(pkg, values))


@dataclass(frozen=True)
class FileCheck:
    """One file of `validate`: its report, or why it is not a readable PDF; where its canonical copy went."""

    path: str
    report: FormReport | None = None
    error: InvalidInputError | None = None
    canonical: str | None = None
    wants_canonical: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if self.report is None:
            return ExitCode.INVALID_INPUT
        return ExitCode.OK if self.report.ok else ExitCode.FORM_INVALID

    def to_dict(self) -> dict[str, object]:
        if self.report is None:
            assert self.error is not None
            return {"path": self.path, "ok": False, "error": self.error.to_dict()}
        d: dict[str, object] = {"path": self.path, "error": None, **self.report.to_dict()}
        if self.wants_canonical:
            d["canonical"] = self.canonical
        return d

    def error_dict(self) -> dict[str, object] | None:
        """The --json error of this file, with its path; None for a valid form."""
        if self.error is not None:
            return {**self.error.to_dict(), "path": self.path}
        if self.report is None or self.report.ok:
            return None
        problems = _("{path}: {n} problem(s)").format(path=self.path, n=len(self.report.findings))
        return {**FormInvalidError(problems).to_dict(), "path": self.path}

    def notes(self) -> list[str]:
        """What `validate` tells the person about this file (stderr): why it is not a readable PDF, or where its
        canonical copy went and why there is none."""
        if self.error is not None:
            from supportctl.output import error_line

            return [error_line(self.error.message, self.error.hint)]
        if self.canonical is not None:
            return [_("Canonical copy written to {path}").format(path=self.canonical)]
        if self.wants_canonical:
            return [_("No canonical copy: {path} is not valid").format(path=self.path)]
        return []

    def text(self) -> str | None:
        """The file's verdict as `validate` prints it (stdout): valid, with its activation class, or INVALID with
        each finding on its own line; None for a file that is not a readable PDF (`notes` says why)."""
        if self.report is None:
            return None
        cls = self.report.activation_class
        if not self.report.ok:
            lines = [_("{path}: INVALID").format(path=self.path)]
            return "\n".join([*lines, *("  " + finding_line(f, label=False) for f in self.report.findings)])
        if cls is None:
            return _("{path}: valid").format(path=self.path)
        return _("{path}: valid (activation class {cls})").format(path=self.path, cls=cls)


def worst_exit(checks: Iterable[FileCheck]) -> ExitCode:
    """`validate`'s exit status: 3 if a file is not a readable PDF, else 4 if a form is invalid, else 0."""
    codes = {c.exit_code for c in checks}
    return next((code for code in (ExitCode.INVALID_INPUT, ExitCode.FORM_INVALID) if code in codes), ExitCode.OK)


def checks_json(checks: list[FileCheck]) -> tuple[dict[str, object], list[dict[str, object]]]:
    """`validate --json`: the data (every form) and the errors (each unreadable file or invalid form, with its path)."""
    errors = [e for e in (c.error_dict() for c in checks) if e is not None]
    return {"forms": [c.to_dict() for c in checks]}, errors


def check_files(
    pkg: Package, paths: Iterable[str], *, check_deliverability: bool = False, canonical: str | None = None
) -> Iterator[FileCheck]:
    """`validate`: each file checked in turn; a valid one's canonical copy written to `canonical`."""
    from supportctl.errors import os_message
    from supportctl.fsutil import open_regular

    for name in paths:
        try:
            with open_regular(name, follow_symlinks=True) as fh:  # a FIFO or device is refused, not read
                data = fh.read(pdfutil.MAX_PDF_BYTES + 1)
            report = validate_pdf(pkg, data, name=name, check_deliverability=check_deliverability)
        except (OSError, InvalidInputError) as exc:
            yield FileCheck(
                name, error=exc if isinstance(exc, InvalidInputError) else InvalidInputError(os_message(exc))
            )
            continue
        written = None
        if canonical is not None and report.ok:
            write_atomic(Path(canonical), canonical_pdf(pkg, report))
            written = canonical
        yield FileCheck(name, report, canonical=written, wants_canonical=canonical is not None)


# ---------------------------------------------------------------- fill


def _serialize(obj: Any) -> bytes:
    from io import BytesIO

    buf = BytesIO()
    obj.write_to_stream(buf)
    return buf.getvalue()


def fill_pdf(pkg: Package, values: Mapping[str, object], *, check_deliverability: bool = False) -> bytes:
    """The package's form with `values` filled in, as an incremental update of the template.

    Raises `FormFindingsError` (a `FormInvalidError`, exit 4) listing every problem.
    """
    from io import BytesIO

    from pypdf import PdfReader
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        IndirectObject,
        NameObject,
        TextStringObject,
    )

    tpl = template(pkg)
    good, findings = validate_values(pkg, values, tpl.font.chars, check_deliverability=check_deliverability)
    if findings:
        raise FormFindingsError(findings)
    reader = PdfReader(BytesIO(tpl.data), strict=False)
    next_num = int(reader.trailer["/Size"])  # type: ignore[call-overload]
    changed: dict[int, bytes] = {}
    font_ref = IndirectObject(tpl.font_ref[0], tpl.font_ref[1], reader)

    def update(num: int, **keys: Any) -> Any:
        obj: Any = DictionaryObject(reader.get_object(num))  # type: ignore[call-overload]
        for k, v in keys.items():
            obj[NameObject("/" + k)] = v
        return obj

    for spec in pkg.fields:
        info = tpl.snapshot.fields.get(spec.name)
        if info is None:
            raise SupportctlError(
                _('the package\'s form has no field "{field}"').format(field=spec.name),
                _("the package is inconsistent; fetch it again"),
            )
        value = good.get(spec.name, "")
        if info.ft == "/Btn":
            on = (
                (spec.export_value or "Yes")
                if value is True
                else (value if isinstance(value, str) and value else "Off")
            )
            state = NameObject("/" + on)
            if info.widgets and info.widgets[0].obj != info.obj:
                changed[info.obj] = _serialize(update(info.obj, V=state))
                for w in info.widgets:
                    as_ = state if "/" + on in w.states else NameObject("/Off")
                    changed[w.obj] = _serialize(update(w.obj, AS=as_))
            else:
                changed[info.obj] = _serialize(update(info.obj, V=state, AS=state))
            continue
        text = str(value)
        w = info.widgets[0]
        width, height = w.rect[2] - w.rect[0], w.rect[3] - w.rect[1]
        stream = DecodedStreamObject()
        stream.set_data(pdfutil.text_appearance(text, tpl.font, width, height, tpl.font_size, tpl.font_name))
        stream[NameObject("/Type")] = NameObject("/XObject")
        stream[NameObject("/Subtype")] = NameObject("/Form")
        stream[NameObject("/BBox")] = ArrayObject(
            [FloatObject(0), FloatObject(0), FloatObject(width), FloatObject(height)]
        )
        stream[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/" + tpl.font_name): font_ref})}
        )
        ap_num = next_num
        next_num += 1
        changed[ap_num] = _serialize(stream)
        ap = DictionaryObject({NameObject("/N"): IndirectObject(ap_num, 0, reader)})
        changed[info.obj] = _serialize(update(info.obj, V=TextStringObject(text), AP=ap))
    out = _append_update(tpl, changed, next_num)
    report = validate_pdf(pkg, out)
    if not report.ok:
        raise SupportctlError(
            _("the filled form failed its own check: {problem}").format(problem=report.findings[0].message),
            _("this is a bug in supportctl; please report it"),
        )
    return out


def canonical_pdf(pkg: Package, report: FormReport) -> bytes:
    """The pristine template re-filled with a valid report's values, drawn by supportctl itself.

    Whatever program the applicant used, the canonical copy shows exactly the values that were validated
    (normalised: E.164 phone, ISO date…), so a desk can archive and print what it activated.
    Raises `FormInvalidError` when the report is not valid: an invalid form has no canonical copy.
    """
    if not report.ok:
        raise FormFindingsError(list(report.findings))
    return fill_pdf(pkg, report.values)


def _append_update(tpl: Template, changed: dict[int, bytes], size: int) -> bytes:
    """Append new versions of `changed` objects, an xref section and a trailer pointing back (/Prev)."""
    parts = [tpl.data if tpl.data.endswith(b"\n") else tpl.data + b"\n"]
    offset = len(parts[0])
    offsets: dict[int, int] = {}
    for num in sorted(changed):
        offsets[num] = offset
        chunk = b"%d 0 obj\n%s\nendobj\n" % (num, changed[num])
        parts.append(chunk)
        offset += len(chunk)
    xref = [b"xref\n"]
    nums = sorted(offsets)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        xref.append(b"%d %d\n" % (nums[i], j - i + 1))
        xref.extend(b"%010d 00000 n \n" % offsets[n] for n in nums[i : j + 1])
        i = j + 1
    trailer = b"".join(b" %s %s" % (k.encode(), v) for k, v in tpl.trailer.items())
    xref.append(
        b"trailer\n<< /Size %d%s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, trailer, tpl.prev_xref, offset)
    )
    return b"".join(parts + xref)


def write_atomic(path: Path, data: bytes) -> None:
    from supportctl.fsutil import atomic_write

    # Personal data: readable by the owner only.
    atomic_write(path, data, mode=0o600 if os.name == "posix" else 0o644)
