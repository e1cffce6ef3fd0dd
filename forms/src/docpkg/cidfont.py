"""The AcroForm field font: an embedded DejaVu Sans subset as a composite font.

Type0 font, /Encoding /Identity-H, one /CIDFontType2 descendant with
/CIDToGIDMap /Identity (CID == glyph id of the embedded subset), /W with the
advance width of every glyph and a /ToUnicode CMap made of `bfchar` entries only.
See forms/README.md for why.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    TextStringObject,
)


def _span(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


# The contract (forms/README.md): these must always be covered.
REQUIRED_CODEPOINTS: tuple[int, ...] = (
    *_span(0x20, 0x7E),  # ASCII
    *_span(0xA0, 0xFF),  # Latin-1 Supplement
    *_span(0x100, 0x17F),  # Latin Extended-A
    *_span(0x218, 0x21B),  # Ș ș Ț ț
    *(0x2013, 0x2014, 0x2018, 0x2019, 0x201A, 0x201C, 0x201D, 0x201E),  # – — ‘ ’ ‚ “ ” „
    *(0x2022, 0x2026, 0x20AC),  # • … €
)

# Also covered (cheap, and keeps more Latin-script names writable): Latin Extended-B, ə, ʼ,
# spacing accents, Latin Extended Additional (Vietnamese, ẞ, ...), hyphens, single guillemets.
# Code points DejaVu Sans lacks are skipped.
EXTRA_CODEPOINTS: tuple[int, ...] = (
    *_span(0x180, 0x24F),
    *(0x259, 0x2BC, 0x2C6, 0x2C7),
    *_span(0x2D8, 0x2DD),
    *_span(0x1E00, 0x1EFF),
    *(0x2010, 0x2011, 0x2039, 0x203A),
)


@dataclass(frozen=True)
class SubsetFont:
    data: bytes  # the subset TrueType file (FontFile2)
    base_font: str  # "ABCDEF+DejaVuSans"
    cid_to_unicode: dict[int, int]  # glyph id (== CID) -> code point
    widths: tuple[int, ...]  # advance width of every glyph id, 1/1000 em
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int


def _per_mille(value: float, units_per_em: int) -> int:
    scaled = value * 1000 / units_per_em
    return int(scaled + 0.5) if scaled >= 0 else -int(-scaled + 0.5)


def subset_font(path: Path, extra: bool = True) -> SubsetFont:
    """Subset `path` deterministically (same input + fontTools version -> same bytes)."""
    font = TTFont(str(path), recalcTimestamp=False, recalcBBoxes=False)
    cmap = font.getBestCmap()
    missing = [f"U+{cp:04X}" for cp in REQUIRED_CODEPOINTS if cp not in cmap]
    if missing:
        raise ValueError(f"{path.name} lacks required characters: {' '.join(missing)}")
    wanted = set(REQUIRED_CODEPOINTS)
    if extra:
        wanted |= {cp for cp in EXTRA_CODEPOINTS if cp in cmap}

    options = subset.Options()
    options.layout_features = []  # no shaping: one code point -> one glyph
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "MATH", "FFTM"]
    options.notdef_outline = True  # missing glyphs show as a box, not as nothing
    options.recalc_timestamp = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    data = buf.getvalue()

    font = TTFont(io.BytesIO(data), recalcTimestamp=False)
    order = font.getGlyphOrder()
    gid = {name: index for index, name in enumerate(order)}
    cid_to_unicode: dict[int, int] = {}
    for cp, glyph in sorted(font.getBestCmap().items()):
        if cp not in wanted:
            continue
        if gid[glyph] in cid_to_unicode:  # ToUnicode could map only one of them
            other = cid_to_unicode[gid[glyph]]
            raise ValueError(f"U+{other:04X} and U+{cp:04X} share glyph {glyph!r}")
        cid_to_unicode[gid[glyph]] = cp
    if set(cid_to_unicode.values()) != wanted:
        raise ValueError("subset lost characters")

    upem = int(font["head"].unitsPerEm)
    hmtx = font["hmtx"]
    widths = tuple(_per_mille(hmtx[name][0], upem) for name in order)
    head = font["head"]
    bbox = tuple(_per_mille(v, upem) for v in (head.xMin, head.yMin, head.xMax, head.yMax))
    glyf = font["glyf"]
    cap = glyf["H"].yMax if "H" in gid else font["hhea"].ascent
    tag = "".join(chr(ord("A") + b % 26) for b in hashlib.sha256(data).digest()[:6])
    family = font["name"].getDebugName(6) or "DejaVuSans"
    return SubsetFont(
        data=data,
        base_font=f"{tag}+{family}",
        cid_to_unicode=cid_to_unicode,
        widths=widths,
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
        ascent=_per_mille(font["hhea"].ascent, upem),
        descent=_per_mille(font["hhea"].descent, upem),
        cap_height=_per_mille(cap, upem),
    )


def tounicode_cmap(cid_to_unicode: dict[int, int]) -> bytes:
    """A ToUnicode CMap with 2-byte CIDs and `bfchar` entries only (<= 100 per block)."""
    entries = sorted(cid_to_unicode.items())
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    for start in range(0, len(entries), 100):
        block = entries[start : start + 100]
        lines.append(f"{len(block)} beginbfchar")
        for cid, cp in block:
            utf16 = chr(cp).encode("utf-16-be").hex().upper()
            lines.append(f"<{cid:04X}> <{utf16}>")
        lines.append("endbfchar")
    lines += [
        "endcmap",
        "CMapName currentdict /CMap defineresource pop",
        "end",
        "end",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def _stream(writer: PdfWriter, data: bytes, extra: dict[str, PdfObject]) -> IndirectObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    for key, value in extra.items():
        stream[NameObject(key)] = value
    return writer._add_object(stream.flate_encode(level=9))


def add_type0_font(writer: PdfWriter, font: SubsetFont) -> IndirectObject:
    """Add the font objects to `writer`; return the Type0 font dictionary's reference."""
    name = NameObject("/" + font.base_font)
    font_file = _stream(writer, font.data, {"/Length1": NumberObject(len(font.data))})
    descriptor = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/FontDescriptor"),
                NameObject("/FontName"): name,
                NameObject("/Flags"): NumberObject(32),  # nonsymbolic
                NameObject("/FontBBox"): ArrayObject(NumberObject(v) for v in font.bbox),
                NameObject("/ItalicAngle"): NumberObject(0),
                NameObject("/Ascent"): NumberObject(font.ascent),
                NameObject("/Descent"): NumberObject(font.descent),
                NameObject("/CapHeight"): NumberObject(font.cap_height),
                NameObject("/StemV"): NumberObject(80),
                NameObject("/FontFile2"): font_file,
            }
        )
    )
    widths = ArrayObject([NumberObject(0), ArrayObject(NumberObject(w) for w in font.widths)])
    cid_font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/CIDFontType2"),
                NameObject("/BaseFont"): name,
                NameObject("/CIDSystemInfo"): DictionaryObject(
                    {
                        NameObject("/Registry"): TextStringObject("Adobe"),
                        NameObject("/Ordering"): TextStringObject("Identity"),
                        NameObject("/Supplement"): NumberObject(0),
                    }
                ),
                NameObject("/FontDescriptor"): descriptor,
                NameObject("/DW"): NumberObject(1000),
                NameObject("/W"): widths,
                NameObject("/CIDToGIDMap"): NameObject("/Identity"),
            }
        )
    )
    to_unicode = _stream(writer, tounicode_cmap(font.cid_to_unicode), {})
    return writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type0"),
                NameObject("/BaseFont"): name,
                NameObject("/Encoding"): NameObject("/Identity-H"),
                NameObject("/DescendantFonts"): ArrayObject([cid_font]),
                NameObject("/ToUnicode"): to_unicode,
            }
        )
    )
