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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from supportctl.errors import FormInvalidError, InvalidInputError, SupportctlError
from supportctl.form import pdfutil
from supportctl.form.validation import Finding, activation_class, validate_values
from supportctl.i18n import _
from supportctl.package.manifest import Package

__all__ = ["Finding", "FormFindingsError", "FormReport", "fill_pdf", "validate_pdf"]


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


# ---------------------------------------------------------------- reading a form's structure


@dataclass(frozen=True)
class Widget:
    obj: int  # object number (only meaningful within one file)
    page: int
    rect: tuple[float, ...]
    states: tuple[str, ...]  # appearance states of buttons, e.g. ("/Off", "/critical")
    state: str | None  # /AS
    shown: str | None  # text of the normal appearance (text and choice fields)
    flags: int = 0  # annotation flags /F (hidden, no-view, …)


@dataclass(frozen=True)
class FieldInfo:
    name: str
    obj: int
    ft: str
    ff: int
    maxlen: int | None
    options: tuple[str, ...]
    da: str | None
    value: str | None  # /V: text, or a name without its slash
    widgets: tuple[Widget, ...]

    def signature(self) -> tuple[object, ...]:
        return (
            self.ft,
            self.ff,
            self.maxlen,
            self.options,
            self.da,
            tuple((w.page, w.rect, w.states, w.flags) for w in self.widgets),
        )


@dataclass
class Snapshot:
    pages: tuple[str, ...]
    fields: dict[str, FieldInfo]
    other_annotations: list[tuple[int, str]] = field(default_factory=list)
    orphan_widgets: int = 0
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    resources: str = ""
    # For the template only: what a byte-identical object of a filled form can reuse without parsing.
    xref: dict[int, int] = field(default_factory=dict)
    page_ids: tuple[int, ...] = ()
    page_reach: tuple[frozenset[int], ...] = ()
    dr_reach: frozenset[int] = frozenset()
    children: dict[int, frozenset[int]] = field(default_factory=dict)
    decoders: dict[int, pdfutil.Decoder] = field(default_factory=dict)


class _Unchanged:
    """Which objects of a filled form are byte-for-byte the template's.

    True only when the file starts with the template's exact bytes (an incremental update of it, as `fill`
    writes) and the object still lives at the template's offset — then it is the template's object.
    """

    def __init__(self, reader: Any, base: Snapshot | None, prefix_ok: bool) -> None:
        self.base = base
        xref = reader.xref.get(0, {}) if base is not None and prefix_ok else {}
        self.offsets: dict[int, int] = xref if isinstance(xref, dict) else {}
        if base is not None and prefix_ok and getattr(reader, "xref_objStm", None):
            self.offsets = {n: o for n, o in self.offsets.items() if n not in reader.xref_objStm}

    def __call__(self, num: int) -> bool:
        if self.base is None or not self.offsets:
            return False
        mine = self.offsets.get(num)
        return mine is not None and self.base.xref.get(num) == mine

    def all(self, nums: frozenset[int]) -> bool:
        return bool(self.offsets) and all(self(n) for n in nums)

    def children(self, num: int) -> frozenset[int] | None:
        if self.base is not None and self(num):
            return self.base.children.get(num)
        return None


def _rect(obj: Any) -> tuple[float, ...]:
    return tuple(round(float(x), 1) for x in obj.get("/Rect", []))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = value.get_object()
    if isinstance(value, str):
        return value[1:] if type(value).__name__ == "NameObject" else str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return None


def _snapshot(reader: Any, budget: pdfutil.Budget, base: Snapshot | None = None, prefix_ok: bool = False) -> Snapshot:
    """Everything validation compares. `base` is the template's snapshot when reading a filled form."""
    same = _Unchanged(reader, base, prefix_ok)
    root = reader.trailer["/Root"].get_object()
    page_of: dict[int, int] = {}
    pages: list[str] = []
    page_ids: list[int] = []
    page_reach: list[frozenset[int]] = []
    other: list[tuple[int, str]] = []
    for n, page in enumerate(reader.pages):
        page_id = page.indirect_reference.idnum if page.indirect_reference is not None else -1
        page_ids.append(page_id)
        if (
            base is not None
            and n < len(base.page_ids)
            and base.page_ids[n] == page_id
            and same.all(base.page_reach[n] | {page_id})
        ):
            pages.append(base.pages[n])
        else:
            reach: set[int] = set()
            pages.append(pdfutil.digest(page, budget, frozenset({"/Annots", "/Parent"}), reach))
            page_reach.append(frozenset(reach))
        for ref in page.get("/Annots", None) or []:
            budget.spend()
            annot = ref.get_object()
            if annot.get("/Subtype") == "/Widget":
                page_of[ref.idnum if hasattr(ref, "idnum") else id(annot)] = n
            else:
                other.append((n + 1, str(annot.get("/Subtype", "/Unknown"))[1:]))
    acro_ref = root.get("/AcroForm")
    acro: Any = acro_ref.get_object() if acro_ref is not None else {}
    decoders: dict[int, pdfutil.Decoder] = {}
    fields: dict[str, FieldInfo] = {}

    def decoder_for(resources: Any) -> Any:
        fonts_ref = resources.get("/Font") if resources is not None else None
        fonts: Any = fonts_ref.get_object() if fonts_ref is not None else {}

        def pick(name: str) -> pdfutil.Decoder:
            ref: Any = fonts.raw_get("/" + name) if name and "/" + name in fonts else None
            key = ref.idnum if hasattr(ref, "idnum") else -1
            if key not in decoders:
                if base is not None and key in base.decoders and same(key):
                    decoders[key] = base.decoders[key]  # the template's font, already parsed
                else:
                    decoders[key] = pdfutil.decoder(ref)
            return decoders[key]

        return pick

    def widget(obj_ref: Any, ft: str) -> Widget:
        w = obj_ref.get_object()
        num = obj_ref.idnum if hasattr(obj_ref, "idnum") else -1
        ap = w.get("/AP")
        normal = ap.get_object().get("/N") if ap is not None else None
        states: tuple[str, ...] = ()
        shown: str | None = None
        if normal is not None:
            normal_obj = normal.get_object()
            if ft == "/Btn":
                states = tuple(sorted(str(k) for k in normal_obj.keys()))
            elif hasattr(normal_obj, "get_data"):
                res = normal_obj.get("/Resources")
                shown = pdfutil.shown_text(normal_obj.get_data(), decoder_for(res.get_object() if res else None))
        state = w.get("/AS")
        as_text = str(state) if state is not None else None
        return Widget(num, page_of.get(num, -1), _rect(w), states, as_text, shown, int(w.get("/F", 0)))

    def visit(ref: Any, prefix: str, inherited: dict[str, Any], depth: int) -> None:
        budget.spend()
        if depth > 20:
            raise InvalidInputError(_("the form's field tree is nested too deeply"))
        node = ref.get_object()
        partial = _text(node.get("/T"))
        name = f"{prefix}.{partial}" if prefix and partial else (partial or prefix)
        inh = dict(inherited)
        for key in ("/FT", "/Ff", "/DA", "/V", "/Opt", "/MaxLen"):
            if key in node:
                inh[key] = node[key]
        kids = node.get("/Kids") or []
        named_kids = [k for k in kids if "/T" in k.get_object()]
        if named_kids:
            for k in kids:
                visit(k, name, inh, depth + 1)
            return
        ft = str(inh.get("/FT", ""))
        widget_refs = list(kids) if kids else ([ref] if node.get("/Subtype") == "/Widget" else [])
        options = tuple(
            _text(o[1] if isinstance(o, list) else o) or "" for o in (inh["/Opt"].get_object() if "/Opt" in inh else [])
        )
        maxlen = inh.get("/MaxLen")
        fields[name] = FieldInfo(
            name=name,
            obj=ref.idnum if hasattr(ref, "idnum") else -1,
            ft=ft,
            ff=int(inh.get("/Ff", 0)),
            maxlen=int(maxlen) if maxlen is not None else None,
            options=options,
            da=_text(inh.get("/DA")),
            value=_text(inh.get("/V")),
            widgets=tuple(widget(w, ft) for w in widget_refs),
        )

    for ref in acro.get("/Fields", None) or []:
        visit(ref, "", {}, 0)
    known = {w.obj for f in fields.values() for w in f.widgets}
    snap = Snapshot(tuple(pages), fields, other, sum(1 for obj in page_of if obj not in known))
    children: dict[int, set[int]] | None = {} if base is None else None
    snap.forbidden = pdfutil.forbidden(
        reader.trailer.raw_get("/Root"), budget, children, same.children if base is not None else None
    )
    dr = acro.get("/DR") if hasattr(acro, "raw_get") else None
    acro_holder: Any = root.raw_get("/AcroForm") if "/AcroForm" in root else None
    root_ref: Any = reader.trailer.raw_get("/Root")
    owner = {acro_holder.idnum} if hasattr(acro_holder, "idnum") else {root_ref.idnum}
    if dr is None:
        snap.resources = ""
    elif base is not None and base.dr_reach and same.all(base.dr_reach | owner):
        snap.resources = base.resources
    else:
        dr_reach: set[int] = set()
        snap.resources = pdfutil.digest(dr, budget, reach=dr_reach)
        snap.dr_reach = frozenset(dr_reach | owner)
    if base is None:
        snap.xref = dict(reader.xref.get(0, {}))
        snap.page_ids = tuple(page_ids)
        snap.page_reach = tuple(page_reach)
        snap.children = {k: frozenset(v) for k, v in (children or {}).items()}
        snap.decoders = decoders
    return snap


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
            _("the package's form {path} cannot be read: {reason}").format(path=path, reason=exc.strerror),
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
            _("the package's form {path} cannot be read: {reason}").format(path=path, reason=exc.strerror)
        ) from None
    with pdfutil.guarded(what):
        reader = pdfutil.open_pdf(data, what)
        snap = _snapshot(reader, pdfutil.Budget(what))
        acro = reader.trailer["/Root"]["/AcroForm"].get_object()
        da = (_text(acro.get("/DA")) or "/DV 10 Tf 0 g").encode("latin-1")
        m = pdfutil.DA_SIZE.search(da)
        font_name = m.group(1).decode() if m else "DV"
        font_ref: Any = acro["/DR"].get_object()["/Font"].get_object().raw_get("/" + font_name)
        font = pdfutil.font_map(font_ref)
        # Filled forms draw every value in this font (an object `fill` leaves untouched): decode it once here,
        # not once per validated form (its ToUnicode map was ~10 % of each validation).
        snap.decoders.setdefault(font_ref.idnum, pdfutil.decoder(font_ref))
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


def _integrity(tpl: Snapshot, got: Snapshot) -> list[Finding]:
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
    if got.resources != tpl.resources:
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
    for code, key in sorted(got.forbidden - tpl.forbidden):
        found.append(Finding(None, code, _("the form contains {key}, which is not allowed").format(key=key)))
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


def _raw_values(pkg: Package, snap: Snapshot) -> dict[str, object]:
    raw: dict[str, object] = {}
    for spec in pkg.fields:
        info = snap.fields.get(spec.name)
        if info is None:
            continue
        if spec.type == "checkbox":
            raw[spec.name] = info.value == (spec.export_value or "Yes")
        elif info.value not in (None, "Off") or info.ft != "/Btn":
            raw[spec.name] = info.value
    return raw


def _appearance(pkg: Package, snap: Snapshot) -> list[Finding]:
    found: list[Finding] = []
    for spec in pkg.fields:
        info = snap.fields.get(spec.name)
        if info is None:
            continue
        value = info.value or ""
        for w in info.widgets:
            if info.ft == "/Btn":
                on = value if value and "/" + value in w.states else "Off"
                ok = (w.state or "/Off") == "/" + on
                shows = (w.state or "/Off")[1:]
            else:
                shows = (w.shown or "").strip()
                ok = shows == value.strip()
            if not ok:
                found.append(
                    Finding(
                        spec.name,
                        "appearance-mismatch",
                        _('"{field}" shows {shown!r} but its value is {value!r}').format(
                            field=spec.name, shown=shows, value=value
                        ),
                    )
                )
                break
    return found


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
        snap = _snapshot(reader, pdfutil.Budget(what), tpl.snapshot, data.startswith(tpl.data))
    findings = _integrity(tpl.snapshot, snap)
    raw = _raw_values(pkg, snap)
    values, value_findings = validate_values(
        pkg, raw, tpl.font.chars, stored=True, check_deliverability=check_deliverability
    )
    findings += value_findings
    bad_fields = {f.field for f in findings}
    findings += [f for f in _appearance(pkg, snap) if f.field not in bad_fields]
    return FormReport(not findings, values, tuple(findings), activation_class(pkg, values))


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
