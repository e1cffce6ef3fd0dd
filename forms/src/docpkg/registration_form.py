"""registration-form.pdf: page 1 = AcroForm, page 2 = the terms (page content)."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    TextStringObject,
)
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Paragraph, Spacer, Table, TableStyle

from . import styles
from .cidfont import add_type0_font, subset_font
from .layout import BORDER_RGB, BUTTON, FIELD_FONT_SIZE, MARGIN, PAGE_H, PAGE_W, draw_page1
from .layout import Widget as WidgetBox
from .manifest import Field, Manifest
from .pdfutil import finish, writer_from
from .texts import TERMS, TERMS_FOOTNOTE, TERMS_HEADING

FIELD_FONT = "DV"  # resource name of the field font in /AcroForm /DR /Font
DA = f"/{FIELD_FONT} {FIELD_FONT_SIZE:g} Tf 0 g"

# Field flags (PDF 32000-1, 12.7.3.1 / 12.7.4.2.1 / 12.7.4.4), bit n == 1 << (n - 1).
FF_REQUIRED = 1 << 1
FF_NO_TOGGLE_TO_OFF = 1 << 14
FF_RADIO = 1 << 15
FF_COMBO = 1 << 17
ANNOT_PRINT = 4

TERMS_H = styles.style("termsh", 15, bold=True, leading=19, color=styles.ACCENT)
TERMS_NOTE = styles.style("termsnote", 8, leading=10.5, color=styles.GREY)


def _footer(c: Canvas, manifest: Manifest, page: int) -> None:
    c.setFont(styles.REGULAR, 7.5)
    c.setFillColor(styles.GREY)
    c.drawString(MARGIN, 26, f"{manifest.name} {manifest.version}")
    c.drawRightString(PAGE_W - MARGIN, 26, f"Seite {page} von 2 / Page {page} of 2")


def _terms_story(width: float, size: float) -> list[Flowable]:
    clause = styles.style(f"clause{size}", size, leading=round(size * 1.23, 2))
    rows = [
        [Paragraph(f"<b>{n}. {de_head}</b><br/>{de}", clause), Paragraph(f"<b>{n}. {en_head}</b><br/>{en}", clause)]
        for n, (de_head, de, en_head, en) in enumerate(TERMS, start=1)
    ]
    table = Table(rows, colWidths=[width / 2, width / 2])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), styles.REGULAR, 8),  # cells are Paragraphs; no Helvetica
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 10),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
                ("LINEBELOW", (0, 0), (-1, -2), 0.4, styles.GREY),
            ]
        )
    )
    return [
        Paragraph(" / ".join(TERMS_HEADING), TERMS_H),
        Spacer(1, 8),
        table,
        Spacer(1, 10),
        Paragraph(" ".join(TERMS_FOOTNOTE), TERMS_NOTE),
    ]


def _draw_terms(c: Canvas) -> None:
    """The terms on one page, in the largest clause font size (8 pt down to 7 pt) that fits."""
    margin, bottom = 36.0, 40.0
    width, height = PAGE_W - 2 * margin, PAGE_H - margin - bottom
    for tenths in range(80, 69, -1):
        story = _terms_story(width, tenths / 10)
        if sum(f.wrap(width, height)[1] for f in story) <= height:
            break
    else:
        raise RuntimeError("the terms do not fit on page 2")
    frame = Frame(
        margin, bottom, width, height, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, showBoundary=0
    )
    frame.addFromList(story, c)
    if story:
        raise RuntimeError("the terms do not fit on page 2")


def _page_content(manifest: Manifest) -> tuple[bytes, dict[str, list[WidgetBox]]]:
    styles.register_fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=styles.REGULAR)
    layout = draw_page1(c, manifest)
    _footer(c, manifest, 1)
    c.showPage()
    _draw_terms(c)
    _footer(c, manifest, 2)
    c.showPage()
    c.save()
    return buf.getvalue(), layout.widgets


def _rect(box: WidgetBox) -> ArrayObject:
    return ArrayObject(FloatObject(round(v, 2)) for v in box.rect)


def _xobject(writer: PdfWriter, w: float, h: float, content: str) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(content.encode("ascii"))
    stream.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): ArrayObject(
                [NumberObject(0), NumberObject(0), FloatObject(round(w, 2)), FloatObject(round(h, 2))]
            ),
            NameObject("/Resources"): DictionaryObject(),
        }
    )
    return writer._add_object(stream)


def _circle(cx: float, cy: float, r: float) -> str:
    k = 0.5523 * r
    return (
        f"{cx + r:.2f} {cy:.2f} m "
        f"{cx + r:.2f} {cy + k:.2f} {cx + k:.2f} {cy + r:.2f} {cx:.2f} {cy + r:.2f} c "
        f"{cx - k:.2f} {cy + r:.2f} {cx - r:.2f} {cy + k:.2f} {cx - r:.2f} {cy:.2f} c "
        f"{cx - r:.2f} {cy - k:.2f} {cx - k:.2f} {cy - r:.2f} {cx:.2f} {cy - r:.2f} c "
        f"{cx + k:.2f} {cy - r:.2f} {cx + r:.2f} {cy - k:.2f} {cx + r:.2f} {cy:.2f} c "
    )


def _button_aps(writer: PdfWriter, on: str, radio: bool) -> DictionaryObject:
    """/N and /D appearances for a radio button or checkbox: states `on` and /Off."""
    s = BUTTON
    border = "{:g} {:g} {:g} RG 0.8 w ".format(*BORDER_RGB)
    if radio:
        frame = _circle(s / 2, s / 2, s / 2 - 0.5) + "B "
        mark = "0 g " + _circle(s / 2, s / 2, s / 4.4) + "f "
    else:
        frame = f"0.5 0.5 {s - 1:g} {s - 1:g} re B "
        mark = "0 G 1.3 w 1 J 1 j 2.4 5.7 m 4.5 3 l 8.8 8.6 l S "
    states = {}
    for key, bg in (("/N", "1 g "), ("/D", "0.75 g ")):  # normal, pressed
        base = f"{bg}{border}{frame}"
        states[key] = DictionaryObject(
            {
                NameObject("/" + on): _xobject(writer, s, s, f"q {base}q {mark}Q Q"),
                NameObject("/Off"): _xobject(writer, s, s, f"q {base}Q"),
            }
        )
    return DictionaryObject({NameObject(k): v for k, v in states.items()})


def _common(page: IndirectObject) -> dict[NameObject, PdfObject]:
    return {
        NameObject("/Type"): NameObject("/Annot"),
        NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/F"): NumberObject(ANNOT_PRINT),
        NameObject("/P"): page,
        NameObject("/MK"): DictionaryObject(
            {
                NameObject("/BC"): ArrayObject(FloatObject(v) for v in BORDER_RGB),
            }
        ),
        NameObject("/BS"): DictionaryObject(
            {
                NameObject("/W"): NumberObject(1),
                NameObject("/S"): NameObject("/S"),
            }
        ),
    }


def _field(
    writer: PdfWriter, f: Field, boxes: list[WidgetBox], page: IndirectObject
) -> tuple[IndirectObject, list[IndirectObject]]:
    """Add one field; return (field reference, widget annotation references)."""
    flags = FF_REQUIRED if f.required else 0
    d = DictionaryObject(
        {
            NameObject("/T"): TextStringObject(f.name),
            NameObject("/TU"): TextStringObject(f.label.joined()),
        }
    )
    if f.kind in ("text", "combo"):
        (box,) = boxes
        x1, y1, x2, y2 = box.rect
        d.update(_common(page))
        d.update(
            {
                NameObject("/Rect"): _rect(box),
                NameObject("/DA"): TextStringObject(DA),
                NameObject("/AP"): DictionaryObject(
                    {
                        NameObject("/N"): _xobject(writer, x2 - x1, y2 - y1, "/Tx BMC EMC"),
                    }
                ),
            }
        )
        if f.kind == "text":
            d[NameObject("/FT")] = NameObject("/Tx")
            if f.max_length:
                d[NameObject("/MaxLen")] = NumberObject(f.max_length)
        else:
            d[NameObject("/FT")] = NameObject("/Ch")
            d[NameObject("/Opt")] = ArrayObject(TextStringObject(c.value) for c in f.choices)
            flags |= FF_COMBO
        d[NameObject("/Ff")] = NumberObject(flags)
        ref = writer._add_object(d)
        return ref, [ref]
    if f.kind == "checkbox":
        (box,) = boxes
        d.update(_common(page))
        d.update(
            {
                NameObject("/FT"): NameObject("/Btn"),
                NameObject("/Ff"): NumberObject(flags),
                NameObject("/Rect"): _rect(box),
                NameObject("/AP"): _button_aps(writer, f.export_value or "Yes", radio=False),
                NameObject("/AS"): NameObject("/Off"),
            }
        )
        ref = writer._add_object(d)
        return ref, [ref]
    # radio group: parent field + one widget per choice
    d.update(
        {
            NameObject("/FT"): NameObject("/Btn"),
            NameObject("/Ff"): NumberObject(flags | FF_RADIO | FF_NO_TOGGLE_TO_OFF),
        }
    )
    parent = writer._add_object(d)
    kids = []
    for box in boxes:
        assert box.export is not None
        kid = DictionaryObject(_common(page))
        kid.update(
            {
                NameObject("/Parent"): parent,
                NameObject("/Rect"): _rect(box),
                NameObject("/AP"): _button_aps(writer, box.export, radio=True),
                NameObject("/AS"): NameObject("/Off"),
            }
        )
        kids.append(writer._add_object(kid))
    d[NameObject("/Kids")] = ArrayObject(kids)
    return parent, kids


def build_registration_form(manifest: Manifest, font_path: Path) -> bytes:
    content, boxes = _page_content(manifest)
    writer = writer_from(content)
    if len(writer.pages) != 2:
        raise RuntimeError(f"registration form has {len(writer.pages)} pages, expected 2")
    page = writer.pages[0]
    page_ref = page.indirect_reference
    assert page_ref is not None
    font_ref = add_type0_font(writer, subset_font(font_path))
    fields, annots = ArrayObject(), ArrayObject()
    for f in manifest.fields:
        ref, widgets = _field(writer, f, boxes[f.name], page_ref)
        fields.append(ref)
        annots.extend(widgets)
    if "/Annots" in page:
        raise RuntimeError("page 1 unexpectedly has annotations already")
    page[NameObject("/Annots")] = annots
    writer._root_object[NameObject("/AcroForm")] = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Fields"): fields,
                NameObject("/DR"): DictionaryObject(
                    {
                        NameObject("/Font"): DictionaryObject({NameObject("/" + FIELD_FONT): font_ref}),
                    }
                ),
                NameObject("/DA"): TextStringObject(DA),
            }
        )
    )
    title = manifest.document_titles["registration-form"]
    return finish(writer, title.joined(), manifest.title.joined())
