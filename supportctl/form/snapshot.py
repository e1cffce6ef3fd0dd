"""Reading a form's structure: everything validation compares, by meaning rather than by bytes.

Pages and resources are hashed on decoded data (pdfutil.digest), fields are read with what their appearances
really show (appearance.py) and the decoded appearance of every button state. Anything broken-but-legal
(an empty /Annots entry, /AP as a string, a field that is not a dictionary) becomes an `Oddity` — a finding
later — instead of a Python error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supportctl.errors import InvalidInputError
from supportctl.form import appearance, fonts, pdfutil
from supportctl.i18n import _


@dataclass(frozen=True)
class Widget:
    obj: int  # object number (only meaningful within one file)
    page: int
    rect: tuple[float, ...]
    states: tuple[str, ...]  # appearance states of buttons, e.g. ("/Off", "/critical")
    state: str | None  # /AS
    shown: str | None  # text of the normal appearance (text and choice fields), as a reader shows it
    flags: int = 0  # annotation flags /F (hidden, no-view, …)
    state_looks: tuple[tuple[str, str], ...] = ()  # (state, digest of its decoded normal appearance)
    state_kinds: tuple[tuple[str, str], ...] = ()  # (state, what its drawing shows: "mark", "none", "text"…)
    pictures: bool = False  # the text appearance paints images, shadings or Type3 glyphs
    optional: bool = False  # /OC: shown only while an optional content group (a layer a viewer may hide) is on


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
    value_kind: str = "none"  # "name", "text", "none" or "other": how /V is stored

    def signature(self) -> tuple[object, ...]:
        # /DA is left out: it names the font a filler drew the value in, which is the filler's choice; what
        # the appearance shows is checked on its own.
        return (
            self.ft,
            self.ff,
            self.maxlen,
            self.options,
            tuple((w.page, w.rect, w.states, w.flags, w.optional) for w in self.widgets),
        )


@dataclass(frozen=True)
class Oddity:
    """A broken-but-legal structure, reported in words (code "structure")."""

    field: str | None
    message: str


@dataclass
class Snapshot:
    pages: tuple[str, ...]
    fields: dict[str, FieldInfo]
    other_annotations: list[tuple[int, str]] = field(default_factory=list)
    orphan_widgets: int = 0
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    resources: dict[str, str] = field(default_factory=dict)  # "/Font/DV" -> digest, per entry of /DR
    oddities: list[Oddity] = field(default_factory=list)
    # For the template only: what a byte-identical object of a filled form can reuse without parsing.
    xref: dict[int, int] = field(default_factory=dict)
    page_ids: tuple[int, ...] = ()
    page_reach: tuple[frozenset[int], ...] = ()
    dr_reach: frozenset[int] = frozenset()
    children: dict[int, frozenset[int]] = field(default_factory=dict)
    fonts: dict[int, fonts.Font] = field(default_factory=dict)
    looks: dict[int, tuple[str, str]] = field(default_factory=dict)  # appearance stream -> (digest, kind)
    form_font: int = -1  # the object number of the form's own field font (/DR /DV)


class Unchanged:
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


def _num(x: Any) -> float:
    try:
        return round(float(x), 1)
    except (TypeError, ValueError):
        return 0.0


def _rect(obj: Any) -> tuple[float, ...]:
    rect = obj.get("/Rect", [])
    return tuple(_num(x) for x in rect) if isinstance(rect, list) else ()


def text(value: Any) -> str | None:
    if value is None:
        return None
    value = value.get_object()
    if isinstance(value, str):
        return value[1:] if type(value).__name__ == "NameObject" else str(value)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "none"
    value = value.get_object()
    if type(value).__name__ == "NameObject":
        return "name"
    return "text" if isinstance(value, (str, bytes)) else "other"


def _dict(obj: Any) -> Any:
    """The dictionary behind `obj`, or None when it is something else (null, a string, a number…)."""
    obj = obj.get_object() if obj is not None and hasattr(obj, "get_object") else obj
    return obj if hasattr(obj, "keys") and hasattr(obj, "raw_get") else None


# What a malformed drawing raises inside pypdf or the interpreter; limits (time, budget, recursion, memory)
# are not among them: they refuse the whole file.
_UNREADABLE: tuple[type[Exception], ...] = (
    AttributeError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    OverflowError,
)
_OUR_KEYS = frozenset({"/Type", "/Subtype", "/BBox", "/Resources", "/Filter", "/Length"})


def _idnum(ref: Any) -> int:
    return int(ref.idnum) if hasattr(ref, "idnum") else -1


def read(reader: Any, budget: pdfutil.Budget, base: Snapshot | None = None, prefix_ok: bool = False) -> Snapshot:
    """Everything validation compares. `base` is the template's snapshot when reading a filled form."""
    from pypdf.errors import PyPdfError

    same = Unchanged(reader, base, prefix_ok)
    unreadable: tuple[type[Exception], ...] = (*_UNREADABLE, PyPdfError)
    root = _dict(reader.trailer.get("/Root"))
    if root is None:
        raise InvalidInputError(_("the PDF has no document catalogue"))
    odd: list[Oddity] = []
    page_of: dict[int, int] = {}
    pages: list[str] = []
    page_ids: list[int] = []
    page_reach: list[frozenset[int]] = []
    other: list[tuple[int, str]] = []
    for n, page in enumerate(reader.pages):
        page_id = _idnum(page.indirect_reference)
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
        annots = page.get("/Annots", None)
        annots = annots.get_object() if annots is not None else []
        if not isinstance(annots, list):
            odd.append(Oddity(None, _("page {n}: its list of annotations is not a list").format(n=n + 1)))
            annots = []
        for ref in annots:
            budget.spend()
            annot = _dict(ref)
            if annot is None:
                odd.append(Oddity(None, _("page {n}: its list of annotations has an empty entry").format(n=n + 1)))
            elif annot.get("/Subtype") == "/Widget":
                page_of[ref.idnum if hasattr(ref, "idnum") else id(annot)] = n
            else:
                other.append((n + 1, str(annot.get("/Subtype", "/Unknown"))[1:]))
    acro: Any = _dict(root.get("/AcroForm")) or {}
    cache: dict[int, fonts.Font] = {}
    looks: dict[int, tuple[str, str]] = {}
    fields: dict[str, FieldInfo] = {}

    def font_for(ref: Any) -> fonts.Font:
        key = _idnum(ref)
        if key < 0:
            return fonts.font(ref)
        if key not in cache:
            if base is not None and key in base.fonts and same(key):
                cache[key] = base.fonts[key]  # the template's font, already parsed
            else:
                cache[key] = fonts.font(ref)
        return cache[key]

    template_kinds = dict(base.looks.values()) if base is not None else {}

    def look(ref: Any) -> tuple[str, str]:
        key = _idnum(ref)
        if key >= 0 and base is not None and key in base.looks and same(key):
            return base.looks[key]
        digest = pdfutil.digest(ref, budget)
        known_kind = template_kinds.get(digest)
        if known_kind is None:  # a drawing the template does not have: what does it show?
            stream = ref.get_object()
            known_kind = appearance.shown(stream, font_for, budget).kind() if hasattr(stream, "get_data") else "none"
        seen = (digest, known_kind)
        if key >= 0:
            looks[key] = seen
        return seen

    def ours(stream: Any) -> str | None:
        """The fast path for an appearance in supportctl's own shape, drawn in the template's own font."""
        if base is None or base.form_font < 0 or set(stream.keys()) - _OUR_KEYS:
            return None
        font_dict = _dict(_dict(stream.get("/Resources")) or {}).get("/Font") if stream.get("/Resources") else None
        font_dict = _dict(font_dict)
        if font_dict is None or len(font_dict) != 1:
            return None
        name = next(iter(font_dict.keys()))
        ref = font_dict.raw_get(name)
        mine = base.fonts.get(base.form_font)
        if mine is None:
            return None
        # The template's own font object, or (after a re-save renumbered it) a font that decodes alike.
        if not (_idnum(ref) == base.form_font and same(base.form_font)) and font_for(ref) != mine:
            return None
        return appearance.quick(stream.get_data(), stream.get("/BBox"), name[1:], mine)

    def widget(obj_ref: Any, ft: str, name: str) -> Widget:
        w = _dict(obj_ref)
        num = _idnum(obj_ref)
        if w is None:
            odd.append(Oddity(name, _('field "{field}" has a widget that is not a dictionary').format(field=name)))
            return Widget(num, -1, (), (), None, None)
        ap_raw = w.get("/AP")
        ap = _dict(ap_raw)
        if ap_raw is not None and ap is None:
            odd.append(Oddity(name, _('field "{field}": its appearance entry is broken').format(field=name)))
        normal = ap.get("/N") if ap is not None else None
        normal_obj = normal.get_object() if normal is not None else None
        states: tuple[str, ...] = ()
        state_looks: tuple[tuple[str, str], ...] = ()
        state_kinds: tuple[tuple[str, str], ...] = ()
        shown: str | None = None
        pictures = False
        if normal_obj is not None:
            if ft == "/Btn" and _dict(normal_obj) is not None and not hasattr(normal_obj, "get_data"):
                states = tuple(sorted(str(k) for k in normal_obj.keys()))
                try:
                    seen_looks = [(k, look(normal_obj.raw_get(k))) for k in states]
                except unreadable:  # a drawing pypdf cannot take apart: said in words, not in Python's
                    odd.append(Oddity(name, _('field "{field}": its appearance cannot be read').format(field=name)))
                    seen_looks = [(k, ("?", "?")) for k in states]
                state_looks = tuple((k, v[0]) for k, v in seen_looks)
                state_kinds = tuple((k, v[1]) for k, v in seen_looks)
            elif hasattr(normal_obj, "get_data"):
                try:
                    shown = ours(normal_obj)
                    if shown is None:
                        seen = appearance.shown(normal_obj, font_for, budget)
                        shown, pictures = seen.text, seen.pictures
                except unreadable:  # as above
                    odd.append(Oddity(name, _('field "{field}": its appearance cannot be read').format(field=name)))
                    shown = None
        state = w.get("/AS")
        as_text = str(state) if state is not None else None
        flags = w.get("/F", 0)
        return Widget(
            num,
            page_of.get(num, -1),
            _rect(w),
            states,
            as_text,
            shown,
            int(flags) if isinstance(flags, int) else -1,
            state_looks,
            state_kinds,
            pictures,
            "/OC" in w,
        )

    def visit(ref: Any, prefix: str, inherited: dict[str, Any], depth: int) -> None:
        budget.spend()
        if depth > 20:
            raise InvalidInputError(_("the form's field tree is nested too deeply"))
        node = _dict(ref)
        if node is None:
            odd.append(Oddity(None, _("the form's list of fields has an entry that is not a field")))
            return
        partial = text(node.get("/T"))
        name = f"{prefix}.{partial}" if prefix and partial else (partial or prefix)
        inh = dict(inherited)
        for key in ("/FT", "/Ff", "/DA", "/V", "/Opt", "/MaxLen"):
            if key in node:
                inh[key] = node[key]
        kids = node.get("/Kids") or []
        kids = kids.get_object() if hasattr(kids, "get_object") else kids
        if not isinstance(kids, list):
            odd.append(Oddity(name, _('field "{field}": its list of parts is not a list').format(field=name)))
            kids = []
        named_kids = [k for k in kids if _dict(k) is not None and "/T" in _dict(k)]
        if named_kids:
            for k in kids:
                visit(k, name, inh, depth + 1)
            return
        ft = str(inh.get("/FT", ""))
        widget_refs = list(kids) if kids else ([ref] if node.get("/Subtype") == "/Widget" else [])
        opt = inh["/Opt"].get_object() if "/Opt" in inh else []
        options = tuple(
            text(o[1] if isinstance(o, list) and len(o) > 1 else o) or ""
            for o in (opt if isinstance(opt, list) else [])
        )
        maxlen = inh.get("/MaxLen")
        ff = inh.get("/Ff", 0)
        fields[name] = FieldInfo(
            name=name,
            obj=_idnum(ref),
            ft=ft,
            ff=int(ff) if isinstance(ff, int) else -1,
            maxlen=int(maxlen) if isinstance(maxlen, int) else None,
            options=options,
            da=text(inh.get("/DA")),
            value=text(inh.get("/V")),
            widgets=tuple(widget(w, ft, name) for w in widget_refs),
            value_kind=_kind(inh.get("/V")),
        )

    field_list = acro.get("/Fields", None) or []
    field_list = field_list.get_object() if hasattr(field_list, "get_object") else field_list
    for ref in field_list if isinstance(field_list, list) else []:
        visit(ref, "", {}, 0)
    known = {w.obj for f in fields.values() for w in f.widgets}
    snap = Snapshot(tuple(pages), fields, other, sum(1 for obj in page_of if obj not in known), oddities=odd)
    children: dict[int, set[int]] | None = {} if base is None else None
    snap.forbidden = pdfutil.forbidden(
        reader.trailer.raw_get("/Root"), budget, children, same.children if base is not None else None
    )
    dr = acro.get("/DR") if hasattr(acro, "raw_get") else None
    acro_holder: Any = root.raw_get("/AcroForm") if "/AcroForm" in root else None
    root_ref: Any = reader.trailer.raw_get("/Root")
    owner = {acro_holder.idnum} if hasattr(acro_holder, "idnum") else {_idnum(root_ref)}
    if dr is None:
        snap.resources = {}
    elif base is not None and base.dr_reach and same.all(base.dr_reach | owner):
        snap.resources = base.resources
    else:
        dr_reach: set[int] = set()
        snap.resources = _resources(dr, budget, dr_reach)
        snap.dr_reach = frozenset(dr_reach | owner)
    if base is None:
        snap.xref = dict(reader.xref.get(0, {}))
        snap.page_ids = tuple(page_ids)
        snap.page_reach = tuple(page_reach)
        snap.children = {k: frozenset(v) for k, v in (children or {}).items()}
        snap.fonts = cache
        snap.looks = looks
    return snap


def _resources(dr: Any, budget: pdfutil.Budget, reach: set[int]) -> dict[str, str]:
    """A digest per entry of the form's default resources: a filler may add its own font, not change ours."""
    if hasattr(dr, "idnum"):
        reach.add(dr.idnum)
    d = _dict(dr)
    if d is None:
        return {"": pdfutil.digest(dr, budget, reach=reach)}
    out: dict[str, str] = {}
    for key in d.keys():
        raw = d.raw_get(key)
        if hasattr(raw, "idnum"):
            reach.add(raw.idnum)
        sub = _dict(raw)
        if key == "/Font" and sub is not None:
            for name in sub.keys():
                out[f"/Font{name}"] = pdfutil.digest(sub.raw_get(name), budget, reach=reach)
        else:
            out[str(key)] = pdfutil.digest(raw, budget, reach=reach)
    return out
