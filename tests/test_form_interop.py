"""Verdicts that hold for real PDF software (issue 11): honest fills and re-saves by other programs are
valid, every tamper of the issue's table is refused with its finding code, and a canonical copy re-fills the
pristine template. The inputs are made here, by the tools themselves."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from supportctl.form import pdfform as form
from tests import formkit, interop

pytestmark = pytest.mark.skipif(
    not (formkit.package_root() / "registration-form.pdf").exists(), reason="the default form PDF is not built"
)

NODE_TOOLS = {"pdf-lib", "pdf.js"}
PY_TOOLS = {"PyMuPDF": "pymupdf", "pikepdf": "pikepdf", "PDFium": "pypdfium2", "pypdf": "pypdf"}
# What each tool's honest fill looks like to `validate`, as measured. pikepdf's appearance generator writes
# single bytes into the form's two-byte (Identity-H) font: every reader shows garbage, so it is refused.
FILL_VERDICT = {
    "pypdf": None,
    "PyMuPDF": None,
    "PDFium": None,
    "pdf-lib": None,
    "pdf.js": None,
    "pikepdf": "appearance-mismatch",
}


def _need(tool: str) -> None:
    if tool in NODE_TOOLS and interop.node_modules() is None:
        pytest.skip("node or the npm packages pdf-lib/pdfjs-dist are missing (.ci/run installs them into .ci/node)")
    if tool == "pdf.js" and not interop.node_supports_pdfjs():
        pytest.skip("pdf.js (pdfjs-dist 5) needs node 20.19 or newer")
    module = PY_TOOLS.get(tool)
    if module and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def template() -> bytes:
    return formkit.pkg().form_path.read_bytes()


@pytest.fixture(scope="module")
def ours() -> bytes:
    return form.fill_pdf(formkit.pkg(), interop.HONEST)


def _codes(data: bytes) -> set[str]:
    return {f.code for f in form.validate_pdf(formkit.pkg(), data).findings}


@pytest.mark.parametrize("tool", list(interop.FILLS))
def test_honest_fill_by_other_software(tool: str, template: bytes) -> None:
    _need(tool)
    report = form.validate_pdf(formkit.pkg(), interop.FILLS[tool](template))
    want = FILL_VERDICT[tool]
    if want is None:
        assert report.ok, report.findings
        assert report.values["first_name"] == "Łukasz" and report.values["company"] == "Őrsi & Đorđević GmbH"
        assert report.activation_class == "critical"
    else:
        assert not report.ok
        assert {f.code for f in report.findings} == {want}


@pytest.mark.parametrize("how", list(interop.RESAVES))
def test_unchanged_resave_is_valid(how: str, ours: bytes) -> None:
    fn, binary = interop.RESAVES[how]
    if binary and not formkit.have(binary):
        pytest.skip(f"{binary} is not installed")
    _need("PyMuPDF" if "PyMuPDF" in how else ("pikepdf" if "pikepdf" in how else ""))
    resaved = fn(ours)
    assert resaved != ours
    report = form.validate_pdf(formkit.pkg(), resaved)
    assert report.ok, report.findings
    assert report.values == form.validate_pdf(formkit.pkg(), ours).values


def test_pdfium_fill_resaved_by_qpdf_is_valid(template: bytes) -> None:
    _need("PDFium")
    if not formkit.have("qpdf"):
        pytest.skip("qpdf is not installed")
    assert form.validate_pdf(formkit.pkg(), interop.resave_qpdf_objstm(interop.fill_pdfium(template))).ok


# ---------------------------------------------------------------- tampers (the table)


def _field(w: Any, name: str) -> Any:
    return formkit.field_obj(w, name)


def _stream(w: Any, data: bytes, **keys: Any) -> Any:
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, FloatObject, NameObject

    s = DecodedStreamObject()
    s.set_data(data)
    s[NameObject("/Type")] = NameObject("/XObject")
    s[NameObject("/Subtype")] = NameObject("/Form")
    s[NameObject("/BBox")] = ArrayObject([FloatObject(x) for x in keys.pop("bbox", (0, 0, 100, 20))])
    for k, v in keys.items():
        s[NameObject("/" + k)] = v
    if "Resources" not in keys:
        s[NameObject("/Resources")] = DictionaryObject()
    return w._add_object(s)


def _hex(text: str) -> bytes:
    tpl = form.template(formkit.pkg())
    return ("<" + "".join(f"{tpl.font.cid_of[c]:04X}" for c in text) + ">").encode()


def _draw_first_name(w: Any, content: bytes, xobject: bytes | None = None) -> None:
    """Replace first_name's appearance (value stays "Łukasz") by `content`, in the form's own font."""
    from pypdf.generic import DictionaryObject, NameObject

    obj = _field(w, "first_name")
    old = obj["/AP"]["/N"].get_object()
    fonts = DictionaryObject({NameObject("/Font"): old["/Resources"]["/Font"]})
    if xobject is not None:
        inner = _stream(w, xobject, Resources=fonts, bbox=(0, 0, 240, 20))
        fonts = DictionaryObject({**fonts, NameObject("/XObject"): DictionaryObject({NameObject("/X1"): inner})})
    box = [float(x) for x in old["/BBox"]]
    obj[NameObject("/AP")] = DictionaryObject({NameObject("/N"): _stream(w, content, Resources=fonts, bbox=box)})


def _show(text: str) -> bytes:
    return _hex(text)


L, M = _show("Łukasz"), _show("Mallory")


def tamper_quote_operator(w: Any) -> None:
    _draw_first_name(w, b"BT /DV 10 Tf 12 TL 2 20 Td " + M + b" ' ET")


def tamper_double_quote_operator(w: Any) -> None:
    _draw_first_name(w, b"BT /DV 10 Tf 12 TL 2 20 Td 0 0 " + M + b' " ET')


def tamper_form_xobject(w: Any) -> None:
    _draw_first_name(w, b"/X1 Do", xobject=b"BT /DV 10 Tf 2 6 Td " + M + b" Tj ET")


def tamper_after_comment(w: Any) -> None:
    _draw_first_name(w, b"% " + L + b" Tj\nBT /DV 10 Tf 2 6 Td " + M + b" Tj ET")


def tamper_invisible_real_text(w: Any) -> None:
    _draw_first_name(w, b"BT /DV 10 Tf 3 Tr 2 6 Td " + L + b" Tj ET BT /DV 10 Tf 0 Tr 2 6 Td " + M + b" Tj ET")


def tamper_white_real_text(w: Any) -> None:
    _draw_first_name(w, b"BT 1 g /DV 10 Tf 2 6 Td " + L + b" Tj ET BT 0 g /DV 10 Tf 2 6 Td " + M + b" Tj ET")


def tamper_clipped_real_text(w: Any) -> None:
    _draw_first_name(w, b"q 0 0 0 0 re W n BT /DV 10 Tf 2 6 Td " + L + b" Tj ET Q BT /DV 10 Tf 2 6 Td " + M + b" Tj ET")


def tamper_real_text_outside(w: Any) -> None:
    _draw_first_name(w, b"BT /DV 10 Tf 500 6 Td " + L + b" Tj ET BT /DV 10 Tf 2 6 Td " + M + b" Tj ET")


def tamper_real_text_covered(w: Any) -> None:
    _draw_first_name(
        w, b"BT /DV 10 Tf 2 6 Td " + L + b" Tj ET 1 g 0 0 240 20 re f BT 0 g /DV 10 Tf 2 6 Td " + M + b" Tj ET"
    )


def tamper_radio_swapped(w: Any) -> None:
    """critical's and standard's drawings swapped: prints "standard" while the value is critical."""
    from pypdf.generic import NameObject

    kids = _field(w, "support")["/Kids"]
    a, b = kids[0].get_object()["/AP"]["/N"], kids[1].get_object()["/AP"]["/N"]
    a_on, b_on = a.raw_get("/critical"), b.raw_get("/standard")
    a[NameObject("/critical")], a[NameObject("/Off")] = a.raw_get("/Off"), a_on
    b[NameObject("/standard")], b[NameObject("/Off")] = b.raw_get("/Off"), b_on


def tamper_checkbox_on_empty(w: Any) -> None:
    from pypdf.generic import NameObject

    n = _field(w, "terms_accepted")["/AP"]["/N"]
    n[NameObject("/Yes")] = _stream(w, b"", bbox=(0, 0, 11, 11))


def tamper_checkbox_on_text(w: Any) -> None:
    from pypdf.generic import DictionaryObject, NameObject

    n = _field(w, "terms_accepted")["/AP"]["/N"]
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    res = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F"): w._add_object(font)})})
    n[NameObject("/Yes")] = _stream(w, b"BT /F 6 Tf 1 3 Td (NO) Tj ET", bbox=(0, 0, 11, 11), Resources=res)


def _action(kind: str) -> Any:
    def change(w: Any) -> None:
        from pypdf.generic import DictionaryObject, NameObject, TextStringObject

        a = DictionaryObject({NameObject("/S"): NameObject(kind)})
        if kind == "/URI":
            a[NameObject("/URI")] = TextStringObject("https://example.com/x")
        elif kind == "/GoToR":
            a[NameObject("/F")] = TextStringObject("\\\\evil\\share\\x.pdf")
            a[NameObject("/D")] = TextStringObject("x")
        else:
            a[NameObject("/N")] = NameObject("/Print")
        widget = _field(w, "support")["/Kids"][0].get_object()
        widget[NameObject("/A")] = a

    change.__name__ = f"field_action_{kind[1:]}"
    return change


def tamper_embedded_file(w: Any) -> None:
    w.add_attachment("invoice.exe", b"MZ\x90\x00")


def tamper_empty_annots_entry(w: Any) -> None:
    from pypdf.generic import NullObject

    w.pages[0]["/Annots"].append(NullObject())


def tamper_ap_as_string(w: Any) -> None:
    from pypdf.generic import NameObject, TextStringObject

    _field(w, "city")[NameObject("/AP")] = TextStringObject("/N")


def tamper_unreadable_font(w: Any) -> None:
    """An appearance font whose widths are text: pypdf reads it, the font cannot be understood."""
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

    desc = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/CIDFontType2"),
            NameObject("/W"): ArrayObject([TextStringObject("wide"), TextStringObject("x")]),
        }
    )
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type0"),
            NameObject("/DescendantFonts"): ArrayObject([w._add_object(desc)]),
        }
    )
    res = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F9"): w._add_object(font)})})
    _field(w, "first_name")[NameObject("/AP")] = DictionaryObject(
        {NameObject("/N"): _stream(w, b"BT /F9 10 Tf 2 6 Td <0001> Tj ET", Resources=res)}
    )


TAMPERS = [
    (tamper_quote_operator, "appearance-mismatch", "Mallory"),
    (tamper_double_quote_operator, "appearance-mismatch", "Mallory"),
    (tamper_form_xobject, "appearance-mismatch", "Mallory"),
    (tamper_after_comment, "appearance-mismatch", "Mallory"),
    (tamper_invisible_real_text, "appearance-mismatch", "shows 'Mallory'"),
    (tamper_white_real_text, "appearance-mismatch", "shows 'Mallory'"),
    (tamper_clipped_real_text, "appearance-mismatch", "shows 'Mallory'"),
    (tamper_real_text_outside, "appearance-mismatch", "shows 'Mallory'"),
    (tamper_real_text_covered, "appearance-mismatch", "shows 'Mallory'"),
    (tamper_radio_swapped, "appearance-mismatch", '"support"'),
    (tamper_checkbox_on_empty, "appearance-mismatch", '"Yes" state'),
    (tamper_checkbox_on_text, "appearance-mismatch", '"Yes" state'),
    (_action("/URI"), "actions", "web address"),
    (_action("/GoToR"), "actions", "another file"),
    (_action("/Named"), "actions", "Print"),
    (tamper_embedded_file, "embedded-file", "attached file"),
    (tamper_empty_annots_entry, "structure", "empty entry"),
    (tamper_ap_as_string, "structure", "appearance entry is broken"),
    (tamper_unreadable_font, "structure", "appearance cannot be read"),
]


@pytest.mark.parametrize(("tamper", "code", "words"), TAMPERS, ids=[t[0].__name__ for t in TAMPERS])
def test_tamper_is_refused_with_its_reason(ours: bytes, tamper: Any, code: str, words: str) -> None:
    report = form.validate_pdf(formkit.pkg(), formkit.rewrite(ours, tamper))
    assert not report.ok
    hits = [f for f in report.findings if f.code == code]
    assert hits, report.findings
    assert any(words in f.message for f in hits), hits
    assert all("Object" not in f.message and "Error" not in f.message for f in report.findings)


def test_pypdf_radio_stored_as_text_says_so_in_words(template: bytes) -> None:
    report = form.validate_pdf(formkit.pkg(), interop.fill_pypdf(template, radio_as_text=True))
    by_field = {f.field: f for f in report.findings}
    assert set(by_field) == {"support", "language"}
    assert by_field["support"].code == "choice"
    assert "stored as the text '/critical'" in by_field["support"].message


def test_pypdfform_output_is_a_finding_not_python(template: bytes) -> None:
    if importlib.util.find_spec("PyPDFForm") is None:
        pytest.skip("PyPDFForm is not installed")
    report = form.validate_pdf(formkit.pkg(), interop.fill_pypdfform(template))
    assert not report.ok
    assert {f.code for f in report.findings} == {"structure"}
    assert all("appearance entry is broken" in f.message for f in report.findings)


def _flattened(tool: str, filled: bytes) -> bytes:
    """The filled form as other programs flatten it: its values drawn into the page, its fields gone."""
    if tool == "pymupdf":
        import pymupdf

        doc = pymupdf.open(stream=filled, filetype="pdf")
        doc.bake()
        return bytes(doc.tobytes())
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "in.pdf"), Path(tmp, "out.pdf")
        src.write_bytes(filled)
        subprocess.run(["qpdf", "--flatten-annotations=all", "--remove-restrictions", str(src), str(dst)], check=True)
        pikepdf = pytest.importorskip("pikepdf")
        with pikepdf.open(dst, allow_overwriting_input=True) as pdf:  # qpdf keeps an empty /AcroForm: drop it too
            if "/AcroForm" in pdf.Root:
                del pdf.Root.AcroForm
            pdf.save(dst)
        return dst.read_bytes()


@pytest.mark.parametrize("tool", ["pdf-lib", "pymupdf", "qpdf"])
def test_a_flattened_or_printed_form_is_one_finding_not_one_per_field(tool: str, template: bytes, ours: bytes) -> None:
    """ "Save as PDF", "Microsoft Print to PDF" or a program's flatten leave the values drawn and no field: one
    finding that says so and what to send, not "field … is missing" and "… is required" thirty times."""
    if tool == "pdf-lib":
        _need("pdf-lib")
        flat = interop.fill_pdf_lib(template, "flatten")
    else:
        _need("PyMuPDF" if tool == "pymupdf" else "pikepdf")
        flat = _flattened(tool, ours)
    report = form.validate_pdf(formkit.pkg(), flat)
    assert [f.code for f in report.findings] == ["no-fields"] and not report.ok
    assert "printout, scan or flattened copy" in report.findings[0].message
    # What a flattened file does besides is still said: a script added to it is a finding of its own.
    pikepdf = pytest.importorskip("pikepdf")
    with pikepdf.open(io.BytesIO(flat)) as pdf:
        pdf.Root.OpenAction = pdf.make_indirect(
            pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
        )
        out = io.BytesIO()
        pdf.save(out)
    assert {f.code for f in form.validate_pdf(formkit.pkg(), out.getvalue()).findings} >= {"no-fields", "javascript"}


# ---------------------------------------------------------------- data outside the PDF (issue 15, point 10)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("run.sh", "#!/bin/sh\necho hi\n")
    return buf.getvalue()


POLYGLOTS = {
    "zip-before": lambda pdf: _zip()[:600] + pdf,
    "zip-after": lambda pdf: pdf + _zip(),
    "html-wrapped": lambda pdf: b"<html><body><!--\n" + pdf + b"\n--></body></html>\n",
    "text-after-eof": lambda pdf: pdf + b"hello\n",
}


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_polyglot_is_a_finding(ours: bytes, kind: str) -> None:
    report = form.validate_pdf(formkit.pkg(), POLYGLOTS[kind](ours))
    assert not report.ok
    assert {f.code for f in report.findings} == {"data-outside-pdf"}


def test_trailing_whitespace_after_eof_is_fine(ours: bytes) -> None:
    assert form.validate_pdf(formkit.pkg(), ours + b"\r\n  \n").ok


def test_polyglot_cli_exit_4_in_words(ours: bytes, tmp_path: Path, proc: Any) -> None:
    p = tmp_path / "form.pdf"
    p.write_bytes(POLYGLOTS["zip-after"](ours))
    r = proc("validate", str(p))
    assert r.exit_code == 4
    assert "bytes of other data after the PDF ends" in r.stdout
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------- canonical copy


def test_validate_canonical_refills_the_pristine_template(template: bytes, tmp_path: Path, proc: Any) -> None:
    _need("PDFium")
    src = tmp_path / "chrome.pdf"
    src.write_bytes(interop.fill_pdfium(template))
    out = tmp_path / "canonical.pdf"
    r = proc("validate", str(src), "--canonical", str(out))
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    assert data.startswith(template)
    report = form.validate_pdf(formkit.pkg(), data)
    assert report.ok and report.values == form.validate_pdf(formkit.pkg(), src.read_bytes()).values
    assert data == form.fill_pdf(formkit.pkg(), report.values)
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_canonical_of_an_invalid_form_is_not_written(ours: bytes, tmp_path: Path, proc: Any) -> None:
    src = tmp_path / "bad.pdf"
    src.write_bytes(formkit.rewrite(ours, tamper_form_xobject))
    out = tmp_path / "canonical.pdf"
    r = proc("validate", str(src), "--canonical", str(out))
    assert r.exit_code == 4
    assert not out.exists()


def test_canonical_pdf_core_function(template: bytes) -> None:
    _need("pdf.js")
    report = form.validate_pdf(formkit.pkg(), interop.fill_pdf_js(template))
    assert report.ok, report.findings
    with pytest.raises(form.FormFindingsError):
        form.canonical_pdf(formkit.pkg(), form.validate_pdf(formkit.pkg(), template))
    assert form.validate_pdf(formkit.pkg(), form.canonical_pdf(formkit.pkg(), report)).values == report.values


def _last_name_on_a_hidden_layer(template: bytes, hide: Any) -> bytes:
    """A PyMuPDF fill in which pikepdf adds an optional content group that is off, and `hide(annot, layer,
    pikepdf)` puts last_name's widget (or part of it) on it; nothing else changes."""
    _need("PyMuPDF")
    _need("pikepdf")
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(interop.fill_pymupdf(template)))
    layer = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.OCG, Name="hidden"))
    pdf.Root.OCProperties = pikepdf.Dictionary(OCGs=[layer], D=pikepdf.Dictionary(OFF=[layer], Order=[layer]))
    for annot in pdf.pages[0].Annots:
        if annot.get("/T") == "last_name":
            hide(annot, layer, pikepdf)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def test_widget_put_on_a_hidden_layer_by_pikepdf_is_refused(template: bytes) -> None:
    """A widget with /OC on an optional content group that is off is not printed by any viewer: the value the
    desk reads would not be on paper. pikepdf adds the layer to a PyMuPDF fill, nothing else changes."""

    def hide(annot: Any, layer: Any, pikepdf: Any) -> None:
        annot.OC = layer

    report = form.validate_pdf(formkit.pkg(), _last_name_on_a_hidden_layer(template, hide))
    assert not report.ok
    assert {(f.code, f.field) for f in report.findings} == {("field-changed", "last_name")}


def test_value_drawn_on_a_hidden_layer_inside_the_appearance_is_refused(template: bytes) -> None:
    """pikepdf wraps a PyMuPDF fill's last_name appearance in `/OC /L1 BDC … EMC` on a layer that is off:
    viewers do not draw the name, so the field does not show its value."""

    def hide(annot: Any, layer: Any, pikepdf: Any) -> None:
        drawing = annot.AP.N
        drawing.write(b"/OC /L1 BDC\n" + drawing.read_bytes() + b"\nEMC\n")
        drawing.Resources.Properties = pikepdf.Dictionary(L1=layer)

    report = form.validate_pdf(formkit.pkg(), _last_name_on_a_hidden_layer(template, hide))
    assert {(f.code, f.field) for f in report.findings} == {("appearance-mismatch", "last_name")}
