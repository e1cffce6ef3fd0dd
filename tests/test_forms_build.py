"""The bundled default document package (forms/): a reproducible build, and the PDF contracts that
filling and validation rely on (field names, types, flags, choices; the /DV field font; no active content)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "forms"
PACKAGE = FORMS / "default"
MANIFEST = PACKAGE / "package.toml"

NAMES = (
    "Łukasz Wiśniewski Antonín Dvořák Şükrü Yılmaz Zoë Brontë Ægir Ørsted François Lefèvre "
    "Jürgen Groß Yılmaz-Ștefănescu"
)
# The characters the field font must always cover (forms/README.md).
REQUIRED = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x100),
    *range(0x100, 0x180),
    *range(0x218, 0x21C),
    *(0x2013, 0x2014, 0x2018, 0x2019, 0x201A, 0x201C, 0x201D, 0x201E, 0x2022, 0x2026, 0x20AC),
]
TEXT_TYPES = {"text", "email", "phone", "date", "country"}
FF_REQUIRED, FF_NO_TOGGLE_TO_OFF, FF_RADIO, FF_PUSHBUTTON, FF_COMBO = 1 << 1, 1 << 14, 1 << 15, 1 << 16, 1 << 17


def manifest() -> dict[str, Any]:
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))


def document(doc_id: str) -> Path:
    (doc,) = [d for d in manifest()["documents"] if d["id"] == doc_id]
    return PACKAGE / str(doc["file"])


def form_path() -> Path:
    return document(manifest()["form"]["document"])


def obj(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


def catalog(reader: PdfReader) -> Any:
    return reader.trailer["/Root"]


def top_fields(reader: PdfReader) -> list[Any]:
    return [obj(f) for f in catalog(reader)["/AcroForm"]["/Fields"]]


def widgets_of(field: Any) -> list[Any]:
    return [obj(k) for k in field["/Kids"]] if "/Kids" in field else [field]


def ap_states(widget: Any, key: str = "/N") -> list[str]:
    return list(obj(obj(widget["/AP"])[key]).keys())


def stream_bytes(value: Any) -> bytes:
    stream = obj(value)
    assert isinstance(stream, StreamObject)
    return bytes(stream.get_data())


@pytest.fixture(scope="module")
def build_module() -> ModuleType:
    pytest.importorskip("reportlab")
    pytest.importorskip("fontTools")
    spec = importlib.util.spec_from_file_location("forms_build", FORMS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# (a) reproducible ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_twice_gives_identical_bytes_equal_to_committed(build_module: ModuleType, tmp_path: Path) -> None:
    first = build_module.build(tmp_path / "one")
    second = build_module.build(tmp_path / "two")
    assert set(first) == {d["id"] for d in manifest()["documents"]}
    for doc_id, path in first.items():
        assert path.read_bytes() == second[doc_id].read_bytes(), f"{path.name} is not reproducible"
    if build_module.toolchain() != build_module.recorded_toolchain():
        pytest.skip(
            f"committed PDFs were built with {build_module.recorded_toolchain()}, "
            f"this environment has {build_module.toolchain()}: byte equality is not expected"
        )
    for path in first.values():
        assert path.read_bytes() == (PACKAGE / path.name).read_bytes(), (
            f"forms/default/{path.name} is stale: run python forms/build.py"
        )


def test_check_fails_on_a_changed_pdf(build_module: ModuleType, tmp_path: Path) -> None:
    copy = tmp_path / "default"
    shutil.copytree(PACKAGE, copy)
    if build_module.toolchain() == build_module.recorded_toolchain():
        assert build_module.check(copy) == 0
    pdf = form_path().name
    data = bytearray((copy / pdf).read_bytes())
    data[-10] ^= 0x01
    (copy / pdf).write_bytes(bytes(data))
    assert build_module.check(copy) == 1


def test_rewrite_hashes_touches_only_the_sha256_lines(build_module: ModuleType) -> None:
    text = MANIFEST.read_bytes().decode("utf-8")
    names = [d["file"] for d in manifest()["documents"]]
    new = build_module.rewrite_hashes(text, {name: f"{i:x}" * 64 for i, name in enumerate(names, start=10)})
    old_lines, new_lines = text.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert [b for _, b in changed] == [f'sha256 = "{"a" * 64}"\n', f'sha256 = "{"b" * 64}"\n']
    assert build_module.rewrite_hashes(new, {}) == new
    with pytest.raises(ValueError):
        build_module.rewrite_hashes(text, {"missing.pdf": "0" * 64})


# (b) the form's fields match package.toml ----------------------------------------------------------


def test_fields_match_manifest() -> None:
    reader = PdfReader(form_path())
    specs = manifest()["form"]["fields"]
    fields = top_fields(reader)
    assert [f["/T"] for f in fields] == [s["name"] for s in specs]
    assert set(reader.get_fields() or {}) == {s["name"] for s in specs}
    for spec, field in zip(specs, fields, strict=True):
        name, flags = spec["name"], int(field.get("/Ff", 0))
        assert bool(flags & FF_REQUIRED) == bool(spec.get("required", False)), name
        assert field.get("/V") in (None, "/Off"), f"{name} has a value"
        for widget in widgets_of(field):
            assert widget["/Subtype"] == "/Widget" and int(widget["/F"]) & 4, name  # printable
            assert "/BC" in widget["/MK"], name
        if spec["type"] in TEXT_TYPES or spec.get("widget") == "combo":
            assert field["/DA"].split()[0] == "/DV", name
            assert stream_bytes(field["/AP"]["/N"]).strip() == b"/Tx BMC EMC", name
        if spec["type"] in TEXT_TYPES:
            assert field["/FT"] == "/Tx", name
            assert field.get("/MaxLen") == spec.get("max_length"), name
        elif spec["type"] == "choice" and spec["widget"] == "combo":
            assert field["/FT"] == "/Ch" and flags & FF_COMBO, name
            assert list(field["/Opt"]) == spec["choices"], name
        elif spec["type"] == "choice" and spec["widget"] == "radio":
            assert field["/FT"] == "/Btn", name
            assert flags & FF_RADIO and flags & FF_NO_TOGGLE_TO_OFF and not flags & FF_PUSHBUTTON, name
            kids = widgets_of(field)
            exports = []
            for kid in kids:
                states = ap_states(kid)
                assert "/Off" in states and len(states) == 2, name
                assert sorted(ap_states(kid, "/D")) == sorted(states), name
                assert kid["/AS"] == "/Off", name
                exports += [s[1:] for s in states if s != "/Off"]
            assert exports == [c["value"] for c in spec["choices"]], name
        elif spec["type"] == "checkbox":
            assert field["/FT"] == "/Btn" and not flags & (FF_RADIO | FF_PUSHBUTTON), name
            assert sorted(ap_states(field)) == sorted(["/" + spec["export_value"], "/Off"]), name
            assert field["/AS"] == "/Off", name
        else:
            pytest.fail(f"unknown field type in package.toml: {spec}")


def test_widgets_sit_on_page_one_without_overlapping() -> None:
    reader = PdfReader(form_path())
    _, _, page_w, page_h = (float(v) for v in reader.pages[0].mediabox)
    rects = []
    for field in top_fields(reader):
        for widget in widgets_of(field):
            x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
            assert 0 <= x1 < x2 <= page_w and 0 <= y1 < y2 <= page_h, field["/T"]
            rects.append((x1, y1, x2, y2))
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


# (c) the field font ---------------------------------------------------------------------------------


def field_font(reader: PdfReader) -> Any:
    acroform = catalog(reader)["/AcroForm"]
    assert acroform["/DA"].split()[0] == "/DV"
    return obj(acroform["/DR"]["/Font"]["/DV"])


def parse_tounicode(cmap: str) -> dict[int, int]:
    """CID -> code point, from the `bfchar` blocks (the contract allows nothing else)."""
    assert "bfrange" not in cmap
    out: dict[int, int] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.DOTALL):
        for cid, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            assert len(cid) == 4, "CIDs must be 2-byte hex"
            text = bytes.fromhex(dst).decode("utf-16-be")
            assert len(text) == 1
            out[int(cid, 16)] = ord(text)
    return out


def parse_widths(w: list[Any]) -> dict[int, float]:
    """CID -> width from a /W array (both `c [w1 w2 ...]` and `c1 c2 w` forms)."""
    items, out, i = [obj(v) for v in w], {}, 0
    while i < len(items):
        first = int(items[i])
        if isinstance(items[i + 1], list):
            for k, width in enumerate(items[i + 1]):
                out[first + k] = float(width)
            i += 2
        else:
            for cid in range(first, int(items[i + 1]) + 1):
                out[cid] = float(items[i + 2])
            i += 3
    return out


def test_field_font_is_an_embedded_identity_h_composite_font() -> None:
    font = field_font(PdfReader(form_path()))
    assert font["/Subtype"] == "/Type0" and font["/Encoding"] == "/Identity-H"
    (cid_font,) = [obj(d) for d in font["/DescendantFonts"]]
    assert cid_font["/Subtype"] == "/CIDFontType2" and cid_font["/CIDToGIDMap"] == "/Identity"
    descriptor = obj(cid_font["/FontDescriptor"])
    assert len(stream_bytes(descriptor["/FontFile2"])) > 10_000
    assert "DejaVuSans" in font["/BaseFont"]


def test_field_font_covers_names_and_required_ranges() -> None:
    font = field_font(PdfReader(form_path()))
    cid_to_unicode = parse_tounicode(stream_bytes(font["/ToUnicode"]).decode("ascii"))
    unicode_to_cid = {cp: cid for cid, cp in cid_to_unicode.items()}
    assert len(unicode_to_cid) == len(cid_to_unicode), "two CIDs claim the same character"
    widths = parse_widths(obj(font["/DescendantFonts"][0])["/W"])
    for ch in NAMES:
        assert ord(ch) in unicode_to_cid, f"{ch!r} (U+{ord(ch):04X}) is not in the field font"
        assert unicode_to_cid[ord(ch)] in widths, f"no /W width for {ch!r}"
        assert widths[unicode_to_cid[ord(ch)]] > 0 or ch == " "
    missing = [f"U+{cp:04X}" for cp in REQUIRED if cp not in unicode_to_cid]
    assert not missing
    assert set(cid_to_unicode) <= set(widths)


def test_field_font_cids_are_glyph_ids_of_the_embedded_subset() -> None:
    pytest.importorskip("fontTools")
    from io import BytesIO

    from fontTools.ttLib import TTFont

    font = field_font(PdfReader(form_path()))
    cid_font = obj(font["/DescendantFonts"][0])
    ttf = TTFont(BytesIO(stream_bytes(obj(cid_font["/FontDescriptor"])["/FontFile2"])))
    order, cmap, hmtx = ttf.getGlyphOrder(), ttf.getBestCmap(), ttf["hmtx"]
    upem = ttf["head"].unitsPerEm
    widths = parse_widths(cid_font["/W"])
    assert set(widths) == set(range(len(order))), "/W must cover every glyph"
    for cid, cp in parse_tounicode(stream_bytes(font["/ToUnicode"]).decode("ascii")).items():
        assert order[cid] == cmap[cp], f"CID {cid} is not the glyph of U+{cp:04X}"
    for gid, name in enumerate(order):
        assert abs(widths[gid] - hmtx[name][0] * 1000 / upem) <= 0.5, name


# (d) sha256 ------------------------------------------------------------------------------------------


def test_manifest_sha256_values_match_the_files() -> None:
    for doc in manifest()["documents"]:
        path = PACKAGE / doc["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == doc["sha256"], doc["file"]


# (e) text ---------------------------------------------------------------------------------------------


def pdftotext(path: Path, page: int | None = None) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", *pages, str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_terms_page_and_service_description_text() -> None:
    data = manifest()
    assert len(PdfReader(form_path()).pages) == 2
    for page in data["terms"]["pages"]:
        terms = pdftotext(document(data["terms"]["document"]), page)
        assert "Vertragsbedingungen" in terms and "Terms and conditions" in terms
    assert "Vertragsbedingungen / Terms and conditions" not in pdftotext(form_path(), 1)
    description = document("service-description")
    assert 2 <= len(PdfReader(description).pages) <= 3
    text = pdftotext(description)
    assert "09:00" in text and "Europe/Berlin" in text
    assert data["process"]["registration_address"] in text
    assert data["process"]["request_address"] in text


# (f) no active content, only the fields' widgets ------------------------------------------------------


def reachable(reader: PdfReader) -> list[Any]:
    """Every dictionary and array reachable from the document catalog."""
    out: list[Any] = []
    seen: set[int] = set()
    todo: list[Any] = [reader.trailer.raw_get("/Root")]
    while todo:
        item = todo.pop()
        if isinstance(item, IndirectObject):
            if item.idnum in seen:
                continue
            seen.add(item.idnum)
            item = item.get_object()
        if isinstance(item, DictionaryObject):
            out.append(item)
            todo += [item.raw_get(k) for k in item]
        elif isinstance(item, ArrayObject):
            out.append(item)
            todo += list(item)
    return out


def all_keys(reader: PdfReader) -> set[str]:
    return {str(k) for o in reachable(reader) if isinstance(o, DictionaryObject) for k in o}


@pytest.mark.parametrize("doc_id", ["registration-form", "service-description"])
def test_no_active_content(doc_id: str) -> None:
    reader = PdfReader(document(doc_id))
    forbidden = {"/JavaScript", "/JS", "/OpenAction", "/AA", "/A", "/XFA", "/NeedAppearances", "/Launch"}
    assert not all_keys(reader) & forbidden
    assert b"/ObjStm" not in document(doc_id).read_bytes()


@pytest.mark.parametrize("doc_id", ["registration-form", "service-description"])
def test_every_font_is_embedded(doc_id: str) -> None:
    """No viewer substitutes a font: each font (page text and the field font) carries its glyphs."""
    reader = PdfReader(document(doc_id))
    fonts: list[Any] = [o for o in reachable(reader) if isinstance(o, DictionaryObject) and o.get("/Type") == "/Font"]
    assert fonts
    for font in fonts:
        if font["/Subtype"] == "/Type0":
            continue  # checked through its descendant
        descriptor = obj(font["/FontDescriptor"])
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font["/BaseFont"]


def test_page_one_has_exactly_the_field_widgets() -> None:
    reader = PdfReader(form_path())
    expected = [w.indirect_reference.idnum for f in top_fields(reader) for w in widgets_of(f)]
    raw = reader.pages[0].get("/Annots", [])
    assert all(isinstance(a, IndirectObject) for a in raw)
    assert sorted(a.idnum for a in raw) == sorted(expected) and len(set(expected)) == len(expected)
    assert all(obj(a)["/Subtype"] == "/Widget" for a in raw)
    for page in reader.pages[1:]:
        assert not page.get("/Annots")
    assert not any(page.get("/Annots") for page in PdfReader(document("service-description")).pages)
