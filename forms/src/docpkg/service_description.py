"""service-description.pdf: German section, then English section (platypus)."""

from __future__ import annotations

import io
from typing import Any, cast

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from . import styles
from .manifest import Manifest
from .pdfutil import finish, writer_from
from .texts import SERVICE_DESCRIPTION

BODY = styles.style("body", 9, leading=12, spaceAfter=3, alignment=TA_LEFT)
H1 = styles.style("h1", 18, bold=True, leading=22, color=styles.ACCENT)
SUB = styles.style("sub", 11, leading=15, color=styles.GREY, spaceAfter=10)
H2 = styles.style("h2", 10.5, bold=True, leading=13, color=styles.ACCENT, spaceBefore=7, spaceAfter=3)
CELL = styles.style("cell", 9, leading=11.5)
CELL_HEAD = styles.style("cellhead", 9, bold=True, leading=12, color=colors.white)


def _list(items: list[str], ordered: bool, fill: dict[str, str]) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(item.format(**fill), BODY)) for item in items],
        bulletType="1" if ordered else "bullet",
        bulletFontName=styles.REGULAR,
        bulletFontSize=9,
        start="1" if ordered else "•",
        leftIndent=14,
        bulletFormat="%s." if ordered else None,
        spaceAfter=4,
    )


def _table(rows: list[list[str]]) -> Table:
    data = [[Paragraph(c, CELL_HEAD) for c in rows[0]]]
    data += [[Paragraph(c, CELL) for c in row] for row in rows[1:]]
    table = Table(data, colWidths=[95 * mm, 55 * mm], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), styles.REGULAR, 9),  # cells are Paragraphs; no Helvetica
                ("BACKGROUND", (0, 0), (-1, 0), styles.ACCENT),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.Color(0.7, 0.7, 0.7)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


def _story(manifest: Manifest) -> list[Flowable]:
    fill = {"reg": manifest.registration_address, "req": manifest.request_address}
    story: list[Flowable] = []
    for lang in ("de", "en"):
        text = cast(dict[str, Any], SERVICE_DESCRIPTION[lang])
        if story:  # the English section starts on a new page only if little room is left
            story += [CondPageBreak(90 * mm), Spacer(1, 14)]
        story += [Paragraph(text["title"], H1), Paragraph(text["subtitle"], SUB), Paragraph(text["intro"], BODY)]
        for heading, blocks in text["sections"]:
            flow: list[Flowable] = [Paragraph(heading, H2)]
            for kind, content in blocks:
                if kind == "p":
                    flow.append(Paragraph(content.format(**fill), BODY))
                elif kind in ("ul", "ol"):
                    flow.append(_list(content, kind == "ol", fill))
                elif kind == "table":
                    flow += [_table(content), Spacer(1, 5)]
                else:
                    raise ValueError(kind)
            story += [CondPageBreak(60 * mm), KeepTogether(flow[:2]), *flow[2:]]
    return story


def _decorate(manifest: Manifest) -> Any:
    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setStrokeColor(styles.ACCENT)
        canvas.setLineWidth(0.8)
        canvas.line(20 * mm, A4[1] - 14 * mm, A4[0] - 20 * mm, A4[1] - 14 * mm)
        canvas.setFont(styles.REGULAR, 8)
        canvas.setFillColor(styles.GREY)
        canvas.drawString(20 * mm, A4[1] - 12 * mm, manifest.title.joined())
        canvas.drawString(20 * mm, 12 * mm, f"{manifest.name} {manifest.version}")
        canvas.drawRightString(A4[0] - 20 * mm, 12 * mm, f"Seite / Page {doc.page}")
        canvas.restoreState()

    return on_page


def build_service_description(manifest: Manifest) -> bytes:
    styles.register_fonts()
    buf = io.BytesIO()
    title = manifest.document_titles["service-description"]
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=22 * mm,
        bottomMargin=20 * mm,
        invariant=1,
        initialFontName=styles.REGULAR,
        pageCompression=1,
        title=title.joined(),
    )
    decorate = _decorate(manifest)
    doc.build(_story(manifest), onFirstPage=decorate, onLaterPages=decorate)
    writer = writer_from(buf.getvalue())
    pages = len(writer.pages)
    if not 2 <= pages <= 3:
        raise RuntimeError(f"service description has {pages} pages, expected 2-3")
    return finish(writer, title.joined(), manifest.title.joined())
