"""Page 1 of the registration form: printed labels + where each widget goes.

One pass computes the layout, draws the page content with reportlab and returns
the widget rectangles, so labels and AcroForm widgets can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from . import styles
from .manifest import Field, Manifest
from .texts import FORM_INSTRUCTIONS

PAGE_W, PAGE_H = A4
MARGIN = 42.0
CONTENT_W = PAGE_W - 2 * MARGIN
GAP = 14.0  # between cells of a row
ROW_GAP = 16.0
BOX_H = 20.0  # text/combo widget height (10 pt text)
BUTTON = 11.0  # radio/checkbox widget size
OPTION_PITCH = 15.0  # vertical distance between stacked radio buttons
FIELD_FONT_SIZE = 10.0
AVG_CHAR = 5.6  # DejaVu Sans at 10 pt, mixed-case Latin text averages ~5.4 pt
BORDER_RGB = (0.4, 0.4, 0.4)  # field borders: page content and /MK /BC
BORDER = colors.Color(*BORDER_RGB)

# Rows of (field name, share of the content width), top to bottom, in manifest order.
ROWS: list[list[tuple[str, float]]] = [
    [("program", 0.5), ("membership_id", 0.5)],
    [("company", 1.0)],
    [("first_name", 0.5), ("last_name", 0.5)],
    [("email", 0.58), ("phone", 0.42)],
    [("street", 1.0)],
    [("postal_code", 0.2), ("city", 0.5), ("country", 0.3)],
    [("support", 1.0)],
    [("language", 0.5), ("date", 0.3)],
    [("terms_accepted", 1.0)],
]
INLINE_OPTIONS = {"language"}  # radio groups whose buttons sit side by side

LABEL = styles.style("label", 8, leading=10)
HELP = styles.style("help", 7.2, leading=8.7, color=styles.GREY)
OPTION = styles.style("option", 8.5, leading=10.5)
INSTR = styles.style("instr", 8.5, leading=11)


@dataclass
class Widget:
    rect: tuple[float, float, float, float]  # x1 y1 x2 y2, PDF user space
    export: str | None = None  # radio: the choice's export value


@dataclass
class PageLayout:
    widgets: dict[str, list[Widget]] = field(default_factory=dict)  # field name -> its widgets


def _para(text: str, style: ParagraphStyle, width: float) -> tuple[Paragraph, float]:
    p = Paragraph(text, style)
    _, h = p.wrap(width, 1000)
    return p, h


class _Cell:
    """One field's block: label, widget(s), help text. Checkboxes carry their label on the right."""

    def __init__(self, f: Field, x: float, width: float) -> None:
        self.f, self.x, self.w = f, x, width
        label = f"<b>{f.label.de}</b> / {f.label.en}"
        self.label: Paragraph | None = None
        self.label_h = 0.0
        self.help_x, help_w = x, width
        if f.kind == "checkbox":
            self.help_x, help_w = x + BUTTON + 6, width - BUTTON - 6
            self.side, self.side_h = _para(label, OPTION, help_w)
            self.body_h = max(BUTTON, self.side_h)
        else:
            self.label, self.label_h = _para(label, LABEL, width)
            self.body_h = BOX_H
        if f.kind == "radio":
            self.per_line = len(f.choices) if f.name in INLINE_OPTIONS else 1
            self.opt_w = width / self.per_line
            self.options = [_para(c.label.joined(), OPTION, self.opt_w - BUTTON - 10) for c in f.choices]
            self.body_h = -(-len(f.choices) // self.per_line) * OPTION_PITCH
        help_text = f.help.joined()
        self.help: Paragraph | None = None
        self.help_h = 0.0
        if help_text:
            self.help, self.help_h = _para(help_text, HELP, help_w)
        self.below_label = 2 + self.body_h + (2 + self.help_h if self.help else 0)

    def draw(self, c: Canvas, top: float, label_h: float, out: PageLayout) -> None:
        """Draw below `top`; `label_h` is the row's tallest label, so the boxes of a row line up."""
        f, x = self.f, self.x
        if self.label is not None:
            self.label.drawOn(c, x, top - self.label_h)
        body_top = top - label_h - 2
        if f.kind == "checkbox":
            y = body_top - BUTTON
            out.widgets[f.name] = [Widget((x, y, x + BUTTON, y + BUTTON))]
            self.side.drawOn(c, x + BUTTON + 6, body_top - self.side_h + 0.5)
        elif f.kind == "radio":
            widgets = []
            for i, (choice, (para, h)) in enumerate(zip(f.choices, self.options, strict=True)):
                bx = x + (i % self.per_line) * self.opt_w
                by = body_top - 2 - (i // self.per_line) * OPTION_PITCH - BUTTON
                widgets.append(Widget((bx, by, bx + BUTTON, by + BUTTON), choice.value))
                para.drawOn(c, bx + BUTTON + 5, by + BUTTON / 2 - h / 2 + 1.2)
            out.widgets[f.name] = widgets
        else:
            y = body_top - BOX_H
            c.setStrokeColor(BORDER)  # the line /MK /BC and /BS /W 1 describe, also in print
            c.setLineWidth(1)
            c.rect(x + 0.5, y + 0.5, self.w - 1, BOX_H - 1)
            if f.kind == "combo":  # a drop-down hint at the right end
                c.setFillColor(colors.Color(0.55, 0.55, 0.55))
                ax, ay = x + self.w - 12, y + BOX_H / 2
                path = c.beginPath()
                path.moveTo(ax - 3.5, ay + 2)
                path.lineTo(ax + 3.5, ay + 2)
                path.lineTo(ax, ay - 2.5)
                path.close()
                c.drawPath(path, stroke=0, fill=1)
            out.widgets[f.name] = [Widget((x, y, x + self.w, y + BOX_H))]
        if self.help is not None:
            self.help.drawOn(c, self.help_x, body_top - self.body_h - 2 - self.help_h)


def check_widths(manifest: Manifest) -> dict[str, float]:
    """Width of every text/combo rectangle; fail if one cannot show ~40 characters
    (or max_length characters, if fewer) at 10 pt."""
    widths: dict[str, float] = {}
    for row in ROWS:
        usable = CONTENT_W - GAP * (len(row) - 1)
        for name, share in row:
            f = manifest.field(name)
            w = usable * share
            if f.kind == "text":
                need = min(f.max_length or 40, 40) * AVG_CHAR + 4
                if w < need:
                    raise ValueError(f"field {name}: {w:.0f} pt wide, needs {need:.0f} pt")
            if f.kind == "combo":
                longest = max(stringWidth(c.value, styles.REGULAR, FIELD_FONT_SIZE) for c in f.choices)
                if w < longest + 20:
                    raise ValueError(f"field {name}: too narrow for its choices")
            if f.kind in ("text", "combo"):
                widths[name] = round(w, 2)
    return widths


def draw_page1(c: Canvas, manifest: Manifest) -> PageLayout:
    names = [name for row in ROWS for name, _ in row]
    if sorted(names) != sorted(f.name for f in manifest.fields) or len(set(names)) != len(names):
        raise ValueError("layout.ROWS and package.toml [[form.fields]] disagree")
    check_widths(manifest)
    out = PageLayout()
    top = PAGE_H - 40
    c.setFillColor(styles.ACCENT)
    c.setFont(styles.BOLD, 16)
    c.drawString(MARGIN, top - 16, manifest.title.de)
    c.setFont(styles.REGULAR, 12)
    c.drawString(MARGIN, top - 32, manifest.title.en)
    c.setFillColor(styles.GREY)
    c.setFont(styles.REGULAR, 9)
    c.drawString(MARGIN, top - 46, manifest.document_titles["registration-form"].joined())
    c.setStrokeColor(styles.ACCENT)
    c.setLineWidth(0.8)
    c.line(MARGIN, top - 53, PAGE_W - MARGIN, top - 53)
    top -= 62
    fill = {"reg": manifest.registration_address}
    for lang in ("de", "en"):
        p, h = _para(FORM_INSTRUCTIONS[lang].format(**fill), INSTR, CONTENT_W)
        p.drawOn(c, MARGIN, top - h)
        top -= h + 3
    top -= 10
    for row in ROWS:
        usable = CONTENT_W - GAP * (len(row) - 1)
        x = MARGIN
        cells = []
        for name, share in row:
            cells.append(_Cell(manifest.field(name), x, usable * share))
            x += usable * share + GAP
        label_h = max(cell.label_h for cell in cells)
        for cell in cells:
            cell.draw(c, top, label_h, out)
        top -= label_h + max(cell.below_label for cell in cells) + ROW_GAP
    if top < 50:
        raise RuntimeError(f"page 1 overflows ({top:.0f} pt left)")
    return out
