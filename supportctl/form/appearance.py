"""What a field's appearance stream really shows, read the way a renderer draws it.

pypdf's content-stream parser gives the operators; this module runs them with a small graphics state:
the transformation matrix, the clip (the form's /BBox, `W` paths and nested Form XObjects' /BBox and /Matrix),
fill and stroke colour and alpha, the text state (font, size, render mode, spacing, scaling, rise) and every
text-showing operator (`Tj`, `TJ`, `'`, `"`). Each glyph counts as shown only when a reader would draw it
visibly: not in render mode 3 or 7, not in the colour of what lies under it, not transparent, not too small
to read, its centre inside the clip, and not painted over later by an opaque fill. Pictures (images, inline
images, shadings, Type3 glyph procedures) cannot be read as text; they are reported, not guessed.

Every uncertain case counts as visible: a mistake can only refuse an honest form, never accept a forged one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from supportctl.errors import InvalidInputError
from supportctl.form import fonts, pdfutil
from supportctl.i18n import _

Matrix = tuple[float, float, float, float, float, float]
Box = tuple[float, float, float, float]
Colour = tuple[float, float, float] | None  # None: a colour we cannot judge (counts as visible)

IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
WHITE: Colour = (1.0, 1.0, 1.0)
MAX_DEPTH = 8
MIN_SIZE = 1.0  # a glyph less than 1 pt high cannot be read
SAME_COLOUR = 0.03


def _mul(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])


def _box(points: list[tuple[float, float]]) -> Box:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _intersect(a: Box | None, b: Box) -> Box:
    if a is None:
        return b
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _inside(box: Box | None, x: float, y: float) -> bool:
    return box is None or (box[0] <= x <= box[2] and box[1] <= y <= box[3])


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def _colour(values: list[float], space: str) -> Colour:
    if space in ("/DeviceGray", "/CalGray", "1") and len(values) == 1:
        return (values[0],) * 3
    if space in ("/DeviceRGB", "/CalRGB", "3") and len(values) == 3:
        return (values[0], values[1], values[2])
    if space in ("/DeviceCMYK", "4") and len(values) == 4:
        c, m, y, k = values
        return ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    return None


def _same(a: Colour, b: Colour) -> bool:
    return a is not None and b is not None and max(abs(x - y) for x, y in zip(a, b, strict=True)) < SAME_COLOUR


@dataclass
class _State:
    ctm: Matrix = IDENTITY
    clip: Box | None = None
    fill: Colour = (0.0, 0.0, 0.0)
    stroke: Colour = (0.0, 0.0, 0.0)
    fill_space: str = "/DeviceGray"
    stroke_space: str = "/DeviceGray"
    fill_alpha: float = 1.0
    stroke_alpha: float = 1.0
    font: fonts.Font | None = None
    type3: bool = False
    size: float = 0.0
    mode: int = 0
    char_space: float = 0.0
    word_space: float = 0.0
    scale: float = 1.0
    leading: float = 0.0
    rise: float = 0.0


@dataclass
class _Glyph:
    text: str
    x: float
    y: float
    visible: bool


@dataclass
class Shown:
    """The text a reader shows, and whether the appearance paints pictures we cannot read as text."""

    text: str
    pictures: bool = False
    glyphs: list[_Glyph] = field(default_factory=list)
    marks: int = 0  # visible paint (fills, strokes) centred well inside the box: a check mark, a dot
    frame: Box | None = None

    def kind(self) -> str:
        """What a button state's drawing shows: "mark", "none", "text" (letters) or "picture"."""
        if self.pictures:
            return "picture"
        if self.text and not set(self.text) <= MARK_CHARS:
            return "text"
        return "mark" if self.text or self.marks else "none"


# What check boxes and radio buttons draw as their "on" mark (ZapfDingbats and Symbol glyphs, decoded).
MARK_CHARS = frozenset("✓✔✗✘✕✖●■◆★○□◼◾•⚫❍❏❑✚✛✜✢✣✤✥✦✧✩✪✫✬✭✮✯✰✱✲✳✴✵✶✷✸✹✺✻✼✽✾✿❀❁❂❃❄❅❆❇❈❉❊❋❖")


FontFor = Callable[[Any], fonts.Font]


def shown(stream: Any, font_for: FontFor, budget: pdfutil.Budget) -> Shown:
    """Run the appearance stream `stream` (a pypdf StreamObject) and return what it shows."""
    out = Shown("")
    fills: list[tuple[Box, Colour]] = []
    bbox = stream.get("/BBox")
    clip = _rect_box(bbox, IDENTITY) if bbox is not None else None
    out.frame = clip
    _run(stream, _State(clip=clip), font_for, budget, out, fills, 0)
    out.text = "".join(g.text for g in out.glyphs if g.visible)
    return out


# The exact shape of supportctl's own text appearance (pdfutil.text_appearance): one string in one font,
# inside a clip rectangle. When a stream has this shape, what it shows is computed directly (the
# interpreter would find the same); anything else goes through the interpreter.
_OURS = re.compile(
    rb"/Tx BMC\nq\n1 1 (\d+\.\d\d) (\d+\.\d\d) re W n\nBT\n/([A-Za-z0-9]+) (\d+\.\d\d) Tf\n0 g\n"
    rb"(\d+\.\d\d) (-?\d+\.\d\d) Td\n<([0-9A-F]*)> Tj\nET\nQ\nEMC"
)


def quick(data: bytes, bbox: Any, font_name: str, font: fonts.Font) -> str | None:
    """What a stream of supportctl's own shape shows in `font` (named `font_name`), or None (not that shape)."""
    if data == b"/Tx BMC EMC":
        return ""
    m = _OURS.fullmatch(data)
    if m is None or m.group(3).decode() != font_name or len(m.group(7)) % 4 or not font.two_byte:
        return None
    w, h, size, x, y = (float(m.group(i)) for i in (1, 2, 4, 5, 6))
    box = _rect_box(bbox, IDENTITY) if bbox is not None else None
    if box is None or box[0] > 1 or box[1] > 1 or box[2] < 1 + w or box[3] < 1 + h or size < MIN_SIZE:
        return None
    glyphs = font.glyphs(bytes.fromhex(m.group(7).decode()))
    width = sum(g[2] for g in glyphs) * size / 1000
    # Every glyph's centre inside the clip: the first and the last are the extremes.
    if x < 1 or x + width > 1 + w or y + 0.33 * size < 1 or y + 0.33 * size > 1 + h:
        return None
    return "".join(g[1] for g in glyphs)


def _rect_box(rect: Any, ctm: Matrix) -> Box | None:
    try:
        x0, y0, x1, y1 = (_num(v) for v in list(rect)[:4])
    except (TypeError, ValueError):
        return None
    return _box([_apply(ctm, x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))])


def _run(
    stream: Any,
    gs: _State,
    font_for: FontFor,
    budget: pdfutil.Budget,
    out: Shown,
    fills: list[tuple[Box, Colour]],
    depth: int,
) -> None:
    from pypdf.generic import ContentStream

    if depth > MAX_DEPTH:
        raise InvalidInputError(_("a field's appearance nests drawings too deeply"))
    resources = stream.get("/Resources")
    resources = resources.get_object() if resources is not None else {}
    if not hasattr(resources, "get"):
        resources = {}
    fonts_dict = _sub(resources, "/Font")
    ops = ContentStream(stream, stream.indirect_reference.pdf if stream.indirect_reference else None).operations
    stack: list[_State] = []
    path: list[tuple[float, float]] = []
    pending_clip = False
    tm = tlm = IDENTITY
    # Marked content: True for a section drawn only while an optional content group is on (`/OC … BDC`),
    # which a viewer may hide; what it draws is not counted as shown.
    marked: list[bool] = []
    for operands, op in ops:
        budget.spend()
        if op in (b"BMC", b"BDC"):
            marked.append(op == b"BDC" and bool(operands) and operands[0] == "/OC")
        elif op == b"EMC":
            if marked:
                marked.pop()
        elif any(marked) and op in (b"Tj", b"'", b'"', b"TJ", b"Do"):
            continue
        elif op == b"q":
            stack.append(replace(gs))
        elif op == b"Q":
            if stack:
                gs = stack.pop()
        elif op == b"cm" and len(operands) == 6:
            m = tuple(_num(v) for v in operands)
            gs.ctm = _mul(m, gs.ctm)  # type: ignore[arg-type]
        elif op == b"re" and len(operands) == 4:
            x, y, w, h = (_num(v) for v in operands)
            path += [_apply(gs.ctm, px, py) for px, py in ((x, y), (x + w, y), (x, y + h), (x + w, y + h))]
        elif op in (b"m", b"l") and len(operands) == 2:
            path.append(_apply(gs.ctm, _num(operands[0]), _num(operands[1])))
        elif op in (b"c", b"v", b"y"):
            nums = [_num(v) for v in operands]
            path += [_apply(gs.ctm, nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)]
        elif op in (b"W", b"W*"):
            pending_clip = True
        elif op in (b"n", b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"):
            if path and op != b"n":
                painted = _box(path)
                if gs.clip is not None:
                    painted = _intersect(gs.clip, painted)
                filled = op not in (b"S", b"s")
                _mark(out, painted, gs, fills, filled, stroked=op in (b"S", b"s", b"B", b"B*", b"b", b"b*"))
                if filled:
                    _cover(out.glyphs, painted, gs)
                    fills.append((painted, gs.fill if gs.fill_alpha >= 0.95 else None))
            if pending_clip:
                gs.clip = _intersect(gs.clip, _box(path)) if path else (0.0, 0.0, 0.0, 0.0)
            pending_clip = False
            path = []
        elif op in (b"g", b"rg", b"k", b"G", b"RG", b"K"):
            values = [_num(v) for v in operands]
            space = {1: "/DeviceGray", 3: "/DeviceRGB", 4: "/DeviceCMYK"}.get(len(values), "?")
            if op.islower():
                gs.fill, gs.fill_space = _colour(values, space), space
            else:
                gs.stroke, gs.stroke_space = _colour(values, space), space
        elif op in (b"cs", b"CS") and operands:
            space = _space(resources, operands[0])
            if op == b"cs":
                gs.fill_space, gs.fill = space, (0.0, 0.0, 0.0) if space != "?" else None
            else:
                gs.stroke_space, gs.stroke = space, (0.0, 0.0, 0.0) if space != "?" else None
        elif op in (b"sc", b"scn", b"SC", b"SCN"):
            values = [_num(v) for v in operands if not isinstance(v, str)]
            if len(values) != len(operands):
                colour: Colour = None  # a pattern
            else:
                colour = _colour(values, gs.fill_space if op.islower() else gs.stroke_space)
            if op.islower():
                gs.fill = colour
            else:
                gs.stroke = colour
        elif op == b"gs" and operands:
            ext: Any = _sub(resources, "/ExtGState").get(operands[0])
            ext = ext.get_object() if ext is not None else None
            if hasattr(ext, "get"):
                gs.fill_alpha = _num(ext.get("/ca", gs.fill_alpha))
                gs.stroke_alpha = _num(ext.get("/CA", gs.stroke_alpha))
        elif op == b"BT":
            tm = tlm = IDENTITY
        elif op == b"Tf" and len(operands) == 2:
            ref = (
                fonts_dict.raw_get(operands[0])
                if hasattr(fonts_dict, "raw_get") and operands[0] in fonts_dict
                else None
            )
            gs.font = font_for(ref) if ref is not None else None
            obj: Any = ref.get_object() if ref is not None else None
            gs.type3 = hasattr(obj, "get") and obj.get("/Subtype") == "/Type3"
            gs.size = _num(operands[1])
        elif op == b"Tr" and operands:
            gs.mode = int(_num(operands[0]))
        elif op == b"Tc" and operands:
            gs.char_space = _num(operands[0])
        elif op == b"Tw" and operands:
            gs.word_space = _num(operands[0])
        elif op == b"Tz" and operands:
            gs.scale = _num(operands[0]) / 100
        elif op == b"TL" and operands:
            gs.leading = _num(operands[0])
        elif op == b"Ts" and operands:
            gs.rise = _num(operands[0])
        elif op in (b"Td", b"TD") and len(operands) == 2:
            tx, ty = _num(operands[0]), _num(operands[1])
            if op == b"TD":
                gs.leading = -ty
            tm = tlm = _mul((1, 0, 0, 1, tx, ty), tlm)
        elif op == b"Tm" and len(operands) == 6:
            tm = tlm = tuple(_num(v) for v in operands)  # type: ignore[assignment]
        elif op == b"T*":
            tm = tlm = _mul((1, 0, 0, 1, 0, -gs.leading), tlm)
        elif op in (b"Tj", b"'", b'"', b"TJ"):
            if op in (b"'", b'"'):
                if op == b'"' and len(operands) == 3:
                    gs.word_space, gs.char_space = _num(operands[0]), _num(operands[1])
                tm = tlm = _mul((1, 0, 0, 1, 0, -gs.leading), tlm)
            items = operands[-1] if op == b"TJ" and operands else operands[-1:]
            for item in items:
                if isinstance(item, (bytes, str)) and not isinstance(item, (int, float)):
                    tm = _show(_bytes(item), gs, tm, out, fills)
                else:
                    tm = _mul((1, 0, 0, 1, -_num(item) / 1000 * gs.size * gs.scale, 0), tm)
        elif op == b"Do" and operands:
            xobj: Any = _sub(resources, "/XObject").get(operands[0])
            xobj = xobj.get_object() if xobj is not None else None
            if not hasattr(xobj, "get") or xobj.get("/Subtype") != "/Form" or not hasattr(xobj, "get_data"):
                out.pictures = True
                continue
            inner = replace(gs)
            matrix = xobj.get("/Matrix")
            if matrix is not None and len(matrix) == 6:
                inner.ctm = _mul(tuple(_num(v) for v in matrix), gs.ctm)  # type: ignore[arg-type]
            if xobj.get("/BBox") is not None:
                box = _rect_box(xobj["/BBox"], inner.ctm)
                if box is not None:
                    inner.clip = _intersect(inner.clip, box)
            _run(xobj, inner, font_for, budget, out, fills, depth + 1)
        elif op in (b"INLINE IMAGE", b"BI", b"sh"):
            out.pictures = True


def _sub(resources: Any, key: str) -> Any:
    value = resources.get(key) if hasattr(resources, "get") else None
    value = value.get_object() if value is not None else None
    return value if hasattr(value, "get") else {}


def _space(resources: Any, name: Any) -> str:
    if name in ("/DeviceGray", "/DeviceRGB", "/DeviceCMYK", "/G", "/RGB", "/CMYK"):
        return str({"/G": "/DeviceGray", "/RGB": "/DeviceRGB", "/CMYK": "/DeviceCMYK"}.get(name, name))
    cs = _sub(resources, "/ColorSpace").get(name) if hasattr(_sub(resources, "/ColorSpace"), "get") else None
    cs = cs.get_object() if cs is not None else None
    if isinstance(cs, list) and cs and cs[0] == "/ICCBased":
        n = cs[1].get_object().get("/N") if len(cs) > 1 else None
        return str(n) if n in (1, 3, 4) else "?"
    if isinstance(cs, list) and cs and cs[0] in ("/CalGray", "/CalRGB"):
        return str(cs[0])
    return "?"


def _bytes(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    original = getattr(item, "original_bytes", None)
    return bytes(original) if original is not None else str(item).encode("latin-1", "replace")


def _mark(out: Shown, box: Box, gs: _State, fills: list[tuple[Box, Colour]], filled: bool, stroked: bool) -> None:
    if box[2] < box[0] or box[3] < box[1] or out.frame is None:
        return
    fx0, fy0, fx1, fy1 = out.frame
    w, h = fx1 - fx0, fy1 - fy0
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    inner = fx0 + 0.2 * w <= cx <= fx1 - 0.2 * w and fy0 + 0.2 * h <= cy <= fy1 - 0.2 * h
    small = box[2] - box[0] < 0.8 * w or box[3] - box[1] < 0.8 * h
    if not (inner and small):
        return
    under = next((colour for b, colour in reversed(fills) if _inside(b, cx, cy)), WHITE)
    colours = ([(gs.fill, gs.fill_alpha)] if filled else []) + ([(gs.stroke, gs.stroke_alpha)] if stroked else [])
    if any(alpha >= 0.05 and not _same(colour, under) for colour, alpha in colours):
        out.marks += 1


def _cover(glyphs: list[_Glyph], painted: Box, gs: _State) -> None:
    if gs.fill_alpha < 0.95:
        return
    for g in glyphs:
        if g.visible and _inside(painted, g.x, g.y):
            g.visible = False


def _show(raw: bytes, gs: _State, tm: Matrix, out: Shown, fills: list[tuple[Box, Colour]]) -> Matrix:
    font = gs.font or fonts.UNKNOWN
    if gs.type3:
        out.pictures = True
    size, scale = gs.size, gs.scale
    for code, text, width in font.glyphs(raw):
        trm = _mul((size * scale, 0, 0, size, 0, gs.rise), _mul(tm, gs.ctm))
        advance = (
            width / 1000 * size + gs.char_space + (gs.word_space if code == 32 and not font.two_byte else 0)
        ) * scale
        # The glyph's centre (in glyph space): half its width along the baseline, a third of its height above.
        cx, cy = _apply(trm, 0.5 * width / 1000, 0.33)
        height = math.hypot(trm[2], trm[3])
        mode_visible = gs.mode not in (3, 7)
        painters: list[tuple[Colour, float]] = []
        if gs.mode in (0, 2, 4, 6):
            painters.append((gs.fill, gs.fill_alpha))
        if gs.mode in (1, 2, 5, 6):
            painters.append((gs.stroke, gs.stroke_alpha))
        under = next((colour for box, colour in reversed(fills) if _inside(box, cx, cy)), WHITE)
        coloured = any(alpha >= 0.05 and not _same(colour, under) for colour, alpha in painters)
        visible = (
            mode_visible
            and coloured
            and height >= MIN_SIZE
            and math.hypot(trm[0], trm[1]) >= 0.1 * height
            and _inside(gs.clip, cx, cy)
            and (gs.clip is None or (gs.clip[2] - gs.clip[0] > 0.5 and gs.clip[3] - gs.clip[1] > 0.5))
        )
        out.glyphs.append(_Glyph(text, cx, cy, visible))
        tm = _mul((1, 0, 0, 1, advance, 0), tm)
    return tm
