"""Fonts as PDF readers decode them: which text a shown string means, and how wide each glyph is.

Simple fonts (Type1, TrueType, Type3) use one byte per code: the code's glyph name comes from /Encoding (a
standard encoding, or /BaseEncoding with /Differences), and the name's text from the Adobe Glyph List
(names of the form `uni` + 4 hex digits or `u` + 4–6 hex digits too). Composite fonts (Type0, Identity-H) use
two bytes per code. A /ToUnicode map, where present, wins, as it does in every reader's text extraction.
Widths come from /Widths or /W.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from supportctl.form import pdfutil

_UNI = re.compile(r"uni((?:[0-9A-F]{4})+)$")
_U = re.compile(r"u([0-9A-F]{4,6})$")


def glyph_text(name: str) -> str:
    """The text a glyph name stands for ("" when unknown): Adobe Glyph List, `uni` + 4 or `u` + 4–6 hex digits."""
    from pypdf._codecs import adobe_glyphs

    base = name.lstrip("/").split(".", 1)[0]
    if not base:
        return ""
    text = adobe_glyphs.get("/" + base)
    if isinstance(text, str):
        return text
    m = _UNI.match(base)
    if m:
        codes = [int(m.group(1)[i : i + 4], 16) for i in range(0, len(m.group(1)), 4)]
        return "".join(chr(c) for c in codes if not 0xD800 <= c <= 0xDFFF)
    m = _U.match(base)
    if m and int(m.group(1), 16) < 0x110000 and not 0xD800 <= int(m.group(1), 16) <= 0xDFFF:
        return chr(int(m.group(1), 16))
    if "_" in base:
        return "".join(glyph_text(part) for part in base.split("_"))
    return ""


def _base_encoding(name: Any, font: Any) -> list[str]:
    from pypdf._codecs import charset_encoding

    # The two symbolic standard fonts draw their own glyphs whatever /Encoding names (PyMuPDF writes
    # /WinAnsiEncoding for ZapfDingbats; readers still draw ✓ for "3").
    base_font = str(font.get("/BaseFont", ""))
    if base_font.endswith("ZapfDingbats") or base_font.endswith("Dingbats"):
        return list(charset_encoding["/ZapfDingbats"])
    if base_font.endswith("Symbol"):
        return list(charset_encoding["/Symbol"])
    if isinstance(name, str) and name in charset_encoding:
        return list(charset_encoding[name])
    return list(charset_encoding["/StandardEncoding"])


@dataclass(frozen=True)
class Font:
    """How one font turns the bytes of a shown string into (text, width in 1/1000 text space) per glyph."""

    two_byte: bool
    text_of: dict[int, str]
    widths: dict[int, float]
    default_width: float

    def glyphs(self, raw: bytes) -> list[tuple[int, str, float]]:
        if self.two_byte:
            codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw) - 1, 2)]
        else:
            codes = list(raw)
        return [(c, self.text_of.get(c, "\ufffd"), self.widths.get(c, self.default_width)) for c in codes]


UNKNOWN = Font(False, {c: chr(c) for c in range(256)}, {}, 500.0)


def font(ref: Any) -> Font:
    """Read `ref` (a font dictionary or a reference to one); an unreadable font decodes as Latin-1."""
    obj: Any = ref.get_object() if ref is not None else None
    if not hasattr(obj, "get"):
        return UNKNOWN
    subtype = obj.get("/Subtype")
    to_unicode: dict[int, str] = {}
    tu = obj.get("/ToUnicode")
    if tu is not None and hasattr(tu.get_object(), "get_data"):
        data = tu.get_object().get_data()
        # Small maps (a form font's) are cached by content; a huge one is parsed, not kept.
        to_unicode = _tounicode(data) if len(data) <= 256 * 1024 else pdfutil.parse_tounicode(data)
    if subtype == "/Type0":
        desc_list = obj.get("/DescendantFonts") or []
        desc = desc_list[0].get_object() if len(desc_list) else {}
        return Font(True, to_unicode, _cid_widths(list(desc.get("/W", []) or [])), float(desc.get("/DW", 1000)))
    enc: Any = obj.get("/Encoding")
    enc = enc.get_object() if enc is not None else None
    if hasattr(enc, "get"):
        table = _base_encoding(enc.get("/BaseEncoding"), obj)
        code = 0
        for item in enc.get("/Differences", []) or []:
            item = item.get_object() if hasattr(item, "get_object") else item
            if isinstance(item, int) and not isinstance(item, bool):
                code = int(item)
            elif isinstance(item, str) and 0 <= code < 256:
                table[code] = glyph_text(str(item)) or "\ufffd"
                code += 1
    else:
        table = _base_encoding(enc, obj)
    text_of = {c: t for c, t in enumerate(table) if t}
    text_of.update(to_unicode)
    widths: dict[int, float] = {}
    first = obj.get("/FirstChar", 0)
    for i, w in enumerate(obj.get("/Widths", []) or []):
        try:
            widths[int(first) + i] = float(w.get_object() if hasattr(w, "get_object") else w)
        except (TypeError, ValueError):
            continue
    descriptor = obj.get("/FontDescriptor")
    descriptor = descriptor.get_object() if descriptor is not None else {}
    missing = descriptor.get("/MissingWidth", 0) if hasattr(descriptor, "get") else 0
    return Font(False, text_of, widths, float(missing) or (0.0 if widths else 500.0))


@lru_cache(maxsize=8)
def _tounicode(data: bytes) -> dict[int, str]:
    """Parsed once per distinct map: a re-saved form carries the template's font under a new number."""
    return pdfutil.parse_tounicode(data)


def _cid_widths(w: list[Any]) -> dict[int, float]:
    widths: dict[int, float] = {}
    i = 0
    while i + 1 < len(w) and len(widths) < 70_000:
        first = int(w[i])
        nxt = w[i + 1]
        nxt = nxt.get_object() if hasattr(nxt, "get_object") else nxt
        if isinstance(nxt, list):
            for k, value in enumerate(nxt):
                widths[first + k] = float(value)
            i += 2
        elif i + 2 < len(w):
            for cid in range(first, min(int(nxt), first + 65_536) + 1):
                widths[cid] = float(w[i + 2])
            i += 3
        else:
            break
    return widths
