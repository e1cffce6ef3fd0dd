"""Filling the real registration form, reading it back, and refusing every tampered or broken variant."""

from __future__ import annotations

import os
import re
import time
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportctl.errors import FormInvalidError, InvalidInputError
from supportctl.form import pdfform as form
from tests import formkit

pytestmark = pytest.mark.skipif(
    not (formkit.package_root() / "registration-form.pdf").exists(), reason="the default form PDF is not built"
)
needs_poppler = pytest.mark.skipif(not formkit.have("pdftotext"), reason="poppler-utils missing")
needs_qpdf = pytest.mark.skipif(not formkit.have("qpdf"), reason="qpdf missing")

EXPECTED = {
    "program": "MSDN",
    "membership_id": "ABC-123-XYZ",
    "company": "Wiśniewski & Dvořák Sp. z o.o.",
    "first_name": "Łukasz",
    "last_name": "Yılmaz-Ștefănescu",
    "email": "lukasz@example.com",
    "phone": "+49 30 1234567",
    "street": "Jürgen-Groß-Straße 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "support": "critical",
    "language": "en",
    "date": "2026-11-25",
    "terms_accepted": True,
}


@pytest.fixture(scope="module")
def filled() -> bytes:
    return form.fill_pdf(formkit.pkg(), formkit.GOOD)


def pypdf_values(data: bytes) -> dict[str, Any]:
    from pypdf import PdfReader

    return {k: v.get("/V") for k, v in PdfReader(BytesIO(data)).get_fields().items()}


def test_fill_reads_back_exactly_with_pypdf(filled: bytes) -> None:
    got = pypdf_values(filled)
    for name, value in EXPECTED.items():
        if isinstance(value, bool):
            assert got[name] == "/Yes"
        elif name in ("support", "language"):
            assert got[name] == "/" + value
        else:
            assert got[name] == value, name
    from pypdf import PdfReader
    from pypdf.generic import NameObject

    fields = PdfReader(BytesIO(filled)).get_fields()
    # Buttons are PDF names (export values), never text strings.
    assert isinstance(fields["support"]["/V"], NameObject)
    assert isinstance(fields["terms_accepted"]["/V"], NameObject)


def test_fill_is_an_incremental_update_without_need_appearances(filled: bytes) -> None:
    tpl = (formkit.package_root() / "registration-form.pdf").read_bytes()
    assert filled.startswith(tpl)
    assert b"NeedAppearances" not in filled


@needs_poppler
def test_pdftotext_shows_every_value(filled: bytes, tmp_path: Path) -> None:
    text = formkit.pdftotext(filled, tmp_path)
    for name, value in EXPECTED.items():
        if isinstance(value, str) and name not in ("support", "language"):
            assert value in text, name
    assert "Yılmaz-Ștefănescu" in text


@needs_poppler
def test_values_keep_clear_of_the_field_border(filled: bytes, tmp_path: Path) -> None:
    """Issue 16: poppler places each value at least 3 pt inside its box (the border is 1 pt wide)."""
    import re
    import subprocess

    from pypdf import PdfReader

    p = tmp_path / "filled.pdf"
    p.write_bytes(filled)
    html = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(p), "-"], capture_output=True, text=True)
    words = [
        (float(m[1]), float(m[2]), m[3])
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)</word>', html.stdout
        )
    ]
    page = PdfReader(BytesIO(filled)).pages[0]
    height = float(page.mediabox.height)
    checked = 0
    for annot in page.get("/Annots", []):
        w = annot.get_object()
        name = w.get("/T") or w.get("/Parent", {}).get("/T")
        if name not in ("city", "postal_code", "company", "phone") or w.get("/FT", "/Tx") != "/Tx":
            continue
        x0, y0, x1, y1 = (float(v) for v in w["/Rect"])
        first_word = str(EXPECTED[str(name)]).split()[0].replace("&", "&amp;")
        inside = [x for x, y, t in words if t == first_word and x0 - 1 <= x <= x1 and height - y1 <= y <= height - y0]
        assert inside, (name, first_word)
        assert min(inside) - x0 >= 3.0, (name, min(inside) - x0)
        checked += 1
    assert checked == 4


@needs_qpdf
def test_qpdf_check_is_clean(filled: bytes, tmp_path: Path) -> None:
    r = formkit.qpdf_check(filled, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING" not in r.stdout + r.stderr


def test_validate_accepts_the_filled_form(filled: bytes) -> None:
    report = form.validate_pdf(formkit.pkg(), filled)
    assert report.ok, report.findings
    assert report.values == EXPECTED
    assert report.activation_class == "critical"
    assert report.to_dict()["findings"] == []


@needs_poppler
@pytest.mark.parametrize("name", formkit.ACCEPT)
def test_accept_list_renders_exactly(name: str, tmp_path: Path) -> None:
    first, _, last = name.partition(" ")
    values = dict(formkit.GOOD, company=name, last_name=last or first)
    data = form.fill_pdf(formkit.pkg(), values)
    assert name in formkit.pdftotext(data, tmp_path)
    assert pypdf_values(data)["company"] == name
    assert form.validate_pdf(formkit.pkg(), data).ok


@pytest.mark.parametrize("value", formkit.REFUSE)
def test_refuse_list_fill_fails_with_a_suggestion(value: str) -> None:
    with pytest.raises(FormInvalidError) as exc:
        form.fill_pdf(formkit.pkg(), dict(formkit.GOOD, last_name=value))
    [finding] = exc.value.findings  # type: ignore[attr-defined]
    assert finding.field == "last_name" and finding.suggestion
    assert "U+" in finding.message


def test_fill_lists_every_problem() -> None:
    values = dict(formkit.GOOD, email="nope", phone="12", terms_accepted=False, program="MSDNN")
    with pytest.raises(FormInvalidError) as exc:
        form.fill_pdf(formkit.pkg(), values)
    codes = {f.field: f.code for f in exc.value.findings}  # type: ignore[attr-defined]
    assert codes == {"email": "email", "phone": "phone", "terms_accepted": "terms", "program": "choice"}


@pytest.mark.parametrize(
    ("value", "german"),
    [
        ("x@", "nach dem @ fehlt etwas"),
        ("nope", "das @ fehlt"),
        ("a@b", "nach dem @ fehlt ein Punkt"),
        ("a..b@example.com", "zwei Punkte hintereinander"),
        ("a@-x.com", "schreiben Sie sie wie name@example.com"),  # any other reason: not email-validator's English
    ],
)
def test_an_e_mail_address_is_refused_in_the_interface_language(value: str, german: str) -> None:
    from supportctl.i18n import speaking

    with speaking("de"), pytest.raises(FormInvalidError) as exc:
        form.fill_pdf(formkit.pkg(), dict(formkit.GOOD, email=value))
    [finding] = exc.value.findings  # type: ignore[attr-defined]
    assert finding.code == "email" and german in finding.message, finding.message
    assert "sign" not in finding.message and "must" not in finding.message
    with pytest.raises(FormInvalidError) as exc:  # in English the reason stays as precise as it was
        form.fill_pdf(formkit.pkg(), dict(formkit.GOOD, email="x@"))
    assert "There must be something after the @-sign." in exc.value.findings[0].message  # type: ignore[attr-defined]


@needs_poppler
def test_long_value_shrinks_the_font_and_still_shows_fully(tmp_path: Path) -> None:
    long = "Großwüstenfeldmühlenbach-Oberwolfsmünsterbergheim am Wald"
    assert len(long) <= 60
    data = form.fill_pdf(formkit.pkg(), dict(formkit.GOOD, city=long))
    sizes = [float(s) for s in re.findall(rb"/DV ([\d.]+) Tf", data)]
    assert min(sizes) < 10
    assert long in formkit.pdftotext(data, tmp_path).replace("\n", " ")


def test_resaved_by_another_tool_is_still_valid(filled: bytes) -> None:
    assert form.validate_pdf(formkit.pkg(), formkit.rewrite(filled, lambda w: None)).ok


def test_the_empty_template_is_invalid_but_readable() -> None:
    report = form.validate_pdf(formkit.pkg(), (formkit.package_root() / "registration-form.pdf").read_bytes())
    assert not report.ok
    assert {f.code for f in report.findings} >= {"required", "terms"}


# ---------------------------------------------------------------- tampering


def _annot(w: Any, subtype: str, extra: dict[str, Any]) -> None:
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject

    d = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject(subtype),
            NameObject("/Rect"): ArrayObject([FloatObject(x) for x in (100, 100, 200, 120)]),
            NameObject("/Contents"): TextStringObject("note"),
        }
    )
    d.update({NameObject(k): v for k, v in extra.items()})
    w.pages[0][NameObject("/Annots")].append(w._add_object(d))


def add_text_note(w: Any) -> None:
    _annot(w, "/Text", {})


def add_link(w: Any) -> None:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    action = DictionaryObject({NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject("https://x")})
    _annot(w, "/Link", {"/A": action})


def add_javascript(w: Any) -> None:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    js = DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1)")}
    )
    w._root_object[NameObject("/OpenAction")] = w._add_object(js)


def add_field_action(w: Any) -> None:
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    js = DictionaryObject({NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("x()")})
    formkit.field_obj(w, "email")[NameObject("/AA")] = DictionaryObject({NameObject("/K"): js})


def add_xfa(w: Any) -> None:
    from pypdf.generic import NameObject, StreamObject

    s = StreamObject()
    s._data = b"<xdp:xdp/>"
    w._root_object["/AcroForm"][NameObject("/XFA")] = w._add_object(s)


def change_content(w: Any) -> None:
    page = w.pages[0]
    data = page.get_contents().get_data().replace(b"Support contract registration", b"Support contract cancellation")
    page.replace_contents(_stream(data))


def _stream(data: bytes) -> Any:
    from pypdf.generic import DecodedStreamObject

    s = DecodedStreamObject()
    s.set_data(data)
    return s


def move_field(w: Any) -> None:
    from pypdf.generic import ArrayObject, FloatObject, NameObject

    obj = formkit.field_obj(w, "company")
    obj[NameObject("/Rect")] = ArrayObject([FloatObject(float(x) + 30) for x in obj["/Rect"]])


def rename_field(w: Any) -> None:
    from pypdf.generic import NameObject, TextStringObject

    formkit.field_obj(w, "company")[NameObject("/T")] = TextStringObject("company_name")


def other_appearance(w: Any) -> None:
    """The value stays "Yılmaz-Ștefănescu" but the appearance shows "Mallory" in the form's own font."""
    from pypdf.generic import NameObject

    tpl = form.template(formkit.pkg())
    obj = formkit.field_obj(w, "last_name")
    stream = obj["/AP"]["/N"].get_object()
    hexed = "".join(f"{tpl.font.cid_of[c]:04X}" for c in "Mallory")
    stream.set_data(b"/Tx BMC BT /DV 10 Tf 2 6 Td <" + hexed.encode() + b"> Tj ET EMC")
    obj[NameObject("/AP")][NameObject("/N")] = stream.indirect_reference or w._add_object(stream)


def radio_state(w: Any) -> None:
    from pypdf.generic import NameObject

    kids = formkit.field_obj(w, "support")["/Kids"]
    kids[0].get_object()[NameObject("/AS")] = NameObject("/Off")
    kids[1].get_object()[NameObject("/AS")] = NameObject("/standard")


def add_page(w: Any) -> None:
    w.add_blank_page()


def change_flags(w: Any) -> None:
    from pypdf.generic import NameObject, NumberObject

    formkit.field_obj(w, "company")[NameObject("/Ff")] = NumberObject(1)  # read-only, not required


def hide_field(w: Any) -> None:
    from pypdf.generic import NameObject, NumberObject

    formkit.field_obj(w, "terms_accepted")[NameObject("/F")] = NumberObject(2)  # hidden


def change_options(w: Any) -> None:
    from pypdf.generic import ArrayObject, NameObject, TextStringObject

    formkit.field_obj(w, "program")[NameObject("/Opt")] = ArrayObject(
        [TextStringObject("MSDN"), TextStringObject("Other")]
    )


@pytest.mark.parametrize(
    ("tamper", "code", "words"),
    [
        (add_text_note, "annotation-added", "Text"),
        (add_link, "annotation-added", "Link"),
        (add_javascript, "javascript", "/JS"),
        (add_field_action, "actions", "runs when a field"),
        (add_xfa, "xfa", "XFA"),
        (change_content, "page-changed", "page 1"),
        (move_field, "field-changed", "moved"),
        (rename_field, "field-changed", "company"),
        (other_appearance, "appearance-mismatch", "Mallory"),
        (radio_state, "appearance-mismatch", "support"),
        (add_page, "page-changed", "3 pages"),
        (change_flags, "field-changed", "company"),
        (change_options, "field-changed", "program"),
        (hide_field, "field-changed", "terms_accepted"),
    ],
)
def test_tampered_forms_are_refused_with_a_reason(filled: bytes, tamper: Any, code: str, words: str) -> None:
    report = form.validate_pdf(formkit.pkg(), formkit.rewrite(filled, tamper))
    assert not report.ok
    hits = [f for f in report.findings if f.code == code]
    assert hits, report.findings
    assert any(words in f.message for f in hits), hits


def change_page_font(w: Any) -> None:
    """Leave the page object alone but swap the base font its text is drawn in (an object it refers to)."""
    from pypdf.generic import NameObject

    fonts = w.pages[0]["/Resources"]["/Font"]
    for name in list(fonts.keys()):
        font = fonts[name].get_object()
        if font.get("/Subtype") == "/Type1" or "/BaseFont" in font:
            font[NameObject("/BaseFont")] = NameObject("/Courier")
            return
    raise AssertionError("no font on page 1")


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (add_text_note, "annotation-added"),
        (change_content, "page-changed"),
        (change_page_font, "page-changed"),
        (add_javascript, "javascript"),
        (add_xfa, "xfa"),
        (move_field, "field-changed"),
        (other_appearance, "appearance-mismatch"),
    ],
)
def test_tampering_by_incremental_update_is_refused(filled: bytes, tamper: Any, code: str) -> None:
    """An appended update (what a PDF reader's "save" writes): the template's bytes stay as they were."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(PdfReader(BytesIO(filled)), incremental=True)
    tamper(writer)
    buf = BytesIO()
    writer.write(buf)
    assert buf.getvalue().startswith(filled)
    report = form.validate_pdf(formkit.pkg(), buf.getvalue())
    assert code in [f.code for f in report.findings], report.findings


def test_bytes_edited_in_place_are_refused(filled: bytes) -> None:
    """Same length, same offsets, one byte of page 1's content changed inside the template's own bytes."""
    from pypdf import PdfReader

    # Change the raw (encoded) content stream of page 1 in place: same length, same offsets.
    raw = PdfReader(BytesIO(filled)).pages[0]["/Contents"].get_object()._data
    at = filled.index(raw)
    flipped = bytearray(filled)
    flipped[at + len(raw) // 2] ^= 0x01
    report = form.validate_pdf(formkit.pkg(), bytes(flipped))
    assert not report.ok
    assert {f.code for f in report.findings} & {"page-changed"}


def test_value_not_nfc_in_the_pdf_is_reported(filled: bytes) -> None:
    import unicodedata

    from pypdf.generic import NameObject, TextStringObject

    def nfd(w: Any) -> None:
        formkit.field_obj(w, "city")[NameObject("/V")] = TextStringObject(unicodedata.normalize("NFD", "Zürich"))

    report = form.validate_pdf(formkit.pkg(), formkit.rewrite(filled, nfd))
    assert "not-nfc" in [f.code for f in report.findings]


# ---------------------------------------------------------------- malformed input


def _loop_pdf() -> bytes:
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 /Parent 2 0 R >>",
    ]
    return _pdf(objs)


def _pdf(objs: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _huge_object_stream() -> bytes:
    """The page tree lives in an object stream that claims 100 million objects over 30 MB of spaces."""
    body = zlib.compress(b"2 0 " + b" " * (30 * 1024 * 1024))
    out = bytearray(b"%PDF-1.7\n")
    offsets = {1: len(out)}
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    offsets[3] = len(out)
    out += b"3 0 obj\n<< /Type /ObjStm /N 100000000 /First 5 /Filter /FlateDecode /Length %d >>\nstream\n" % len(body)
    out += body + b"\nendstream\nendobj\n"
    offsets[4] = len(out)
    rows = [b"\x00" + (0).to_bytes(4, "big") + b"\xff\xff"]
    rows.append(b"\x01" + offsets[1].to_bytes(4, "big") + b"\x00\x00")
    rows.append(b"\x02" + (3).to_bytes(4, "big") + b"\x00\x00")
    rows.append(b"\x01" + offsets[3].to_bytes(4, "big") + b"\x00\x00")
    rows.append(b"\x01" + offsets[4].to_bytes(4, "big") + b"\x00\x00")
    xref = b"".join(rows)
    out += b"4 0 obj\n<< /Type /XRef /Size 5 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % len(xref)
    out += xref + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % offsets[4]
    return bytes(out)


def _encrypted(filled: bytes) -> bytes:
    return formkit.rewrite(filled, lambda w: w.encrypt("secret", algorithm="AES-128"))


MALFORMED = {
    "truncated": lambda f: f[: len(f) // 2],
    "junk": lambda f: b"\x00\xffjunk" * 1000,
    "empty": lambda f: b"",
    "encrypted": _encrypted,
    "junk-after-header": lambda f: b"%PDF-1.7\n" + bytes(range(256)) * 100 + b"\n%%EOF\n",
    "reference-loop": lambda f: _loop_pdf(),
    "huge-object-stream": lambda f: _huge_object_stream(),
    "garbage-50mb": lambda f: b"%PDF-1.7\n" + b"\x8f" * (50 * 1024 * 1024),
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_input_is_one_clear_error(filled: bytes, kind: str) -> None:
    data = MALFORMED[kind](filled)
    start = time.monotonic()
    with pytest.raises(InvalidInputError) as exc:
        form.validate_pdf(formkit.pkg(), data, name="x.pdf")
    assert time.monotonic() - start < 12
    assert "\n" not in exc.value.message and "x.pdf" in exc.value.message


@pytest.mark.parametrize("kind", ["truncated", "encrypted", "garbage-50mb"])
def test_validate_cli_exit_3_one_line(filled: bytes, kind: str, tmp_path: Path, proc: Any) -> None:
    p = tmp_path / "bad.pdf"
    p.write_bytes(MALFORMED[kind](filled))
    r = proc("validate", str(p))
    assert r.exit_code == 3
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr


def test_another_pdf_is_invalid_not_unreadable() -> None:
    other = (formkit.package_root() / "service-description.pdf").read_bytes()
    report = form.validate_pdf(formkit.pkg(), other)
    assert not report.ok and [f.code for f in report.findings] == ["no-fields"]


@pytest.mark.skipif(not formkit.have("pdftk"), reason="pdftk not installed")
def test_pdftk_filled_form_is_refused_for_what_it_shows(tmp_path: Path) -> None:
    """pdftk draws the composite font's codes as single bytes: the printed form would show garbage."""
    import subprocess

    xfdf = tmp_path / "v.xfdf"
    xfdf.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><xfdf xmlns="http://ns.adobe.com/xfdf/"><fields>'
        '<field name="last_name"><value>Dvořák</value></field></fields></xfdf>',
        "utf-8",
    )
    out = tmp_path / "pdftk.pdf"
    src = formkit.package_root() / "registration-form.pdf"
    subprocess.run(["pdftk", str(src), "fill_form", str(xfdf), "output", str(out)], check=True, capture_output=True)
    report = form.validate_pdf(formkit.pkg(), out.read_bytes())
    assert any(f.field == "last_name" and f.code == "appearance-mismatch" for f in report.findings)


_FILLED: list[bytes] = []


def _filled_once() -> bytes:
    if not _FILLED:
        _FILLED.append(form.fill_pdf(formkit.pkg(), formkit.GOOD))
    return _FILLED[0]


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")), deadline=None)
@given(data=st.data())
def test_mutated_pdfs_never_crash(data: st.DataObject) -> None:
    """Random cuts, byte flips and insertions: a report or one InvalidInputError, nothing else."""
    blob = bytearray(_filled_once())
    for _ in range(data.draw(st.integers(1, 4))):
        if len(blob) < 2:
            break
        at = data.draw(st.integers(0, len(blob) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip":
            blob[at] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del blob[at : at + data.draw(st.integers(1, 2000))]
        elif action == "insert":
            blob[at:at] = data.draw(st.binary(min_size=1, max_size=64))
        else:
            blob = blob[: max(at, 1)] + b"\n%%EOF\n"
    try:
        report = form.validate_pdf(formkit.pkg(), bytes(blob))
    except InvalidInputError as exc:
        assert "\n" not in exc.message
    else:
        assert isinstance(report.ok, bool)
