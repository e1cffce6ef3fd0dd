"""reportlab fonts and paragraph styles shared by both documents."""

from __future__ import annotations

from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
FONT_DIR = Path(__file__).resolve().parent.parent / "fonts"

ACCENT = colors.Color(0.11, 0.29, 0.48)
GREY = colors.Color(0.35, 0.35, 0.35)


def register_fonts(font_dir: Path = FONT_DIR) -> None:
    """Register the committed DejaVu copies (never system fonts) with reportlab.

    Fresh TTFont objects per build, so no subset state leaks between builds.
    """
    for name, file in ((REGULAR, "DejaVuSans.ttf"), (BOLD, "DejaVuSans-Bold.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(font_dir / file), shapable=False))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


def style(
    name: str,
    size: float,
    *,
    bold: bool = False,
    leading: float | None = None,
    color: colors.Color = colors.black,
    **kw: object,
) -> ParagraphStyle:
    return ParagraphStyle(
        name,
        fontName=BOLD if bold else REGULAR,
        fontSize=size,
        leading=leading if leading is not None else size * 1.3,
        textColor=color,
        **kw,
    )
