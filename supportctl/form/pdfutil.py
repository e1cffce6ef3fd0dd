"""Low-level PDF helpers for form.py: safe opening with limits, the field font, appearance streams, hashing.

Untrusted PDFs are opened with a size limit, an object-count limit, a wall-clock limit and a bounded graph
walk, so truncated files, junk, reference loops and decompression bombs end as one `InvalidInputError`.
pypdf is imported inside the functions (start-up stays light).
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from supportctl.errors import InvalidInputError
from supportctl.i18n import _

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_OBJECTS = 20_000
MAX_WALK_NODES = 200_000
TIME_LIMIT_S = 5.0


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run PDF parsing with a time limit and turn every parser failure into one `InvalidInputError`.

    The limit (`supportctl.timelimit`) needs no signal, so it holds on Windows and off the main thread.
    """
    from supportctl import timelimit

    limit = timelimit.time_limit(TIME_LIMIT_S)
    limit.__enter__()
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except InvalidInputError:
        raise
    except timelimit.TimeLimitExceeded:
        raise InvalidInputError(
            _("{what}: reading it took longer than {s:g} s; it is not a usable PDF form").format(
                what=what, s=TIME_LIMIT_S
            )
        ) from None
    except RecursionError:
        raise InvalidInputError(
            _("{what}: the PDF's objects refer to each other in a loop").format(what=what)
        ) from None
    except MemoryError:
        raise InvalidInputError(_("{what}: the PDF is too large to read").format(what=what)) from None
    except Exception as exc:  # pypdf raises many kinds on malformed input; all mean "not readable"
        # Said in our words: pypdf's own text is English and about its internals ("startxref not found").
        if type(exc).__name__ == "LimitReachedError":
            reason = _("a compressed stream inflates beyond the limit (a decompression bomb)")
        else:
            reason = _("its structure is broken")
        raise InvalidInputError(
            _("{what} is not a readable PDF: {reason}").format(what=what, reason=reason),
            _("use the form from the document package, filled with `supportctl fill`"),
        ) from None
    finally:
        limit.__exit__(None, None, None)
        logger.setLevel(level)


def open_pdf(data: bytes, what: str) -> Any:
    """A `PdfReader` over `data`, or `InvalidInputError` (call inside `guarded`)."""
    from io import BytesIO

    from pypdf import PdfReader

    if len(data) > MAX_PDF_BYTES:
        raise InvalidInputError(
            _("{what} is {mb:.1f} MB; a registration form is at most {limit} MB").format(
                what=what, mb=len(data) / 1e6, limit=MAX_PDF_BYTES // (1024 * 1024)
            )
        )
    if b"%PDF-" not in data[:1024]:
        raise InvalidInputError(_("{what} is not a PDF file (no %PDF header)").format(what=what))
    if b"%%EOF" not in data:
        raise InvalidInputError(_("{what} is truncated: the PDF has no end marker").format(what=what))
    reader = PdfReader(BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise InvalidInputError(
            _("{what} is encrypted; supportctl reads only unencrypted forms").format(what=what),
            _("save the form without a password"),
        )
    size = reader.trailer.get("/Size", 0)
    if not isinstance(size, int) or size > MAX_OBJECTS:
        raise InvalidInputError(_("{what} has too many objects for a registration form").format(what=what))
    return reader


def outside(data: bytes) -> tuple[int, int]:
    """Bytes before `%PDF-` and after the last `%%EOF` (whitespace after it does not count).

    A PDF that is also a zip or an HTML page (a polyglot) carries them; a PDF program never writes them.
    """
    start = data.find(b"%PDF-", 0, 1024)
    end = data.rfind(b"%%EOF")
    tail = data[end + 5 :] if end >= 0 else b""
    return max(start, 0), len(tail.lstrip(b" \t\r\n\f\x00"))


# ---------------------------------------------------------------- the field font


@dataclass(frozen=True)
class FontMap:
    """A composite (Type0, Identity-H) font: unicode <-> CID via its ToUnicode map, widths from /W."""

    cid_of: dict[str, int]
    char_of: dict[int, str]
    widths: dict[int, float]
    default_width: float
    ascent: float
    descent: float

    @property
    def chars(self) -> frozenset[str]:
        return frozenset(self.cid_of)

    def width(self, text: str) -> float:
        """Width of `text` in 1/1000 of the font size."""
        return sum(self.widths.get(self.cid_of[c], self.default_width) for c in text)


_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.S)
_HEX = re.compile(rb"<([0-9A-Fa-f]*)>")


def _utf16(hexstr: bytes) -> str:
    raw = bytes.fromhex(hexstr.decode("ascii"))
    return raw.decode("utf-16-be", "replace")


def parse_tounicode(cmap: bytes) -> dict[int, str]:
    """Code -> text from a ToUnicode CMap (`bfchar` entries, and `bfrange` with a start value)."""
    out: dict[int, str] = {}
    for block in _BFCHAR.findall(cmap):
        codes = _HEX.findall(block)
        for src, dst in zip(codes[0::2], codes[1::2], strict=False):
            out[int(src, 16)] = _utf16(dst)
    for block in _BFRANGE.findall(cmap):
        for line in block.splitlines():
            parts = _HEX.findall(line)
            if len(parts) == 3 and b"[" not in line:
                lo, hi = int(parts[0], 16), int(parts[1], 16)
                base = int(parts[2], 16)
                for i, code in enumerate(range(lo, min(hi, lo + 0xFFFF) + 1)):
                    out[code] = chr(base + i) if base + i < 0x110000 else "\ufffd"
    return out


def font_map(font: Any) -> FontMap:
    """Read the form's /DV font (Type0 with ToUnicode and /W)."""
    font = font.get_object()
    if font.get("/Subtype") != "/Type0" or "/ToUnicode" not in font:
        raise InvalidInputError(_("the form's field font is not an embedded composite font with a ToUnicode map"))
    char_of = parse_tounicode(font["/ToUnicode"].get_object().get_data())
    cid_of = {text: code for code, text in char_of.items() if len(text) == 1}
    desc = font["/DescendantFonts"][0].get_object()
    widths: dict[int, float] = {}
    w = list(desc.get("/W", []))
    i = 0
    while i + 1 < len(w):
        first = int(w[i])
        nxt = w[i + 1]
        if isinstance(nxt, list):
            for k, value in enumerate(nxt):
                widths[first + k] = float(value)
            i += 2
        elif i + 2 < len(w):
            for cid in range(first, int(nxt) + 1):
                widths[cid] = float(w[i + 2])
            i += 3
        else:
            break
    descriptor = desc.get("/FontDescriptor")
    descriptor = descriptor.get_object() if descriptor is not None else {}
    return FontMap(
        cid_of=cid_of,
        char_of=char_of,
        widths=widths,
        default_width=float(desc.get("/DW", 1000)),
        ascent=float(descriptor.get("/Ascent", 800)),
        descent=float(descriptor.get("/Descent", -200)),
    )


DA_SIZE = re.compile(rb"/(\S+)\s+([\d.]+)\s+Tf")
MIN_FONT_SIZE = 4.0
PADDING = 4.0  # from the box edge to the text: clear of the 1 pt border, never touching it


def text_appearance(text: str, font: FontMap, width: float, height: float, size: float, name: str = "DV") -> bytes:
    """Content of a text field's appearance: the value in the field font, shrunk so it fits the box."""
    if not text:
        return b"/Tx BMC EMC"
    units = font.width(text)
    available = max(width - 2 * PADDING, 1.0)
    if units * size / 1000 > available:
        size = max(MIN_FONT_SIZE, available * 1000 / units)
    size = min(size, height * 1000 / max(font.ascent - font.descent, 1) * 0.9)
    y = (height - size * (font.ascent - font.descent) / 1000) / 2 - size * font.descent / 1000
    hexed = "".join(f"{font.cid_of[c]:04X}" for c in text)
    return (
        f"/Tx BMC\nq\n1 1 {width - 2:.2f} {height - 2:.2f} re W n\nBT\n/{name} {size:.2f} Tf\n0 g\n"
        f"{PADDING:.2f} {y:.2f} Td\n<{hexed}> Tj\nET\nQ\nEMC"
    ).encode("ascii")


# ---------------------------------------------------------------- structure hashing and the forbidden-key walk


class Budget:
    """A node budget shared by one document's walks: reference loops and huge graphs end, never hang."""

    def __init__(self, what: str, limit: int = MAX_WALK_NODES) -> None:
        self.what = what
        self.left = limit

    def spend(self) -> None:
        self.left -= 1
        if not self.left & 0xFF:  # the time limit's deadline, where no watchdog can interrupt (timelimit.py)
            from supportctl.timelimit import check

            check()
        if self.left < 0:
            raise InvalidInputError(_("{what}: the PDF has too many objects to check").format(what=self.what))


# How a stream is encoded is not what it means: a re-save may write another filter chain or length.
STREAM_ENCODING = frozenset({"/Filter", "/DecodeParms", "/Length", "/DL"})


def digest(obj: Any, budget: Budget, skip: frozenset[str] = frozenset(), reach: set[int] | None = None) -> str:
    """A hash of an object's structure and decoded stream data, independent of object numbers.

    `reach` collects the numbers of the indirect objects the hash covers (the template's fast path).
    """
    from pypdf.generic import (
        ArrayObject,
        DictionaryObject,
        FloatObject,
        IndirectObject,
        NameObject,
        NumberObject,
        StreamObject,
    )

    plain = (NumberObject, NameObject)  # exact types; repr() is what the generic branch hashes too
    h = hashlib.sha256()
    update = h.update

    # Recursive, with pypdf's classes bound once (importing them on every call was a tenth of a re-saved
    # form's validation).
    def feed(obj: Any, seen: set[tuple[int, int]]) -> None:
        budget.spend()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                update(b"<loop>")
                return
            if reach is not None:
                reach.add(obj.idnum)
            seen = seen | {key}
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            update(b"<<")
            is_stream = isinstance(obj, StreamObject)
            for k in sorted(obj.keys()):
                if k in skip or (is_stream and k in STREAM_ENCODING):
                    continue
                update(k.encode("latin-1", "replace"))
                feed(obj.raw_get(k), seen)
            if is_stream:
                update(b"stream")
                update(hashlib.sha256(obj.get_data()).digest())  # type: ignore[attr-defined]
            update(b">>")
        elif isinstance(obj, ArrayObject):
            update(b"[")
            for item in obj:
                if type(item) in plain:  # a number or a name, hashed here: /W arrays have hundreds
                    budget.spend()
                    update(repr(item).encode("utf-8", "replace"))
                else:
                    feed(item, seen)
            update(b"]")
        elif isinstance(obj, (float, FloatObject)):
            update(f"{float(obj):.3f}".encode())
        else:
            update(repr(obj).encode("utf-8", "replace"))

    feed(obj, set())
    return h.hexdigest()


FORBIDDEN_KEYS = {"/JS": "javascript", "/JavaScript": "javascript", "/AA": "actions", "/OpenAction": "actions"}
FORBIDDEN_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/ResetForm", "/Rendition"}


def _action(ref: Any) -> str:
    action = ref.get_object() if hasattr(ref, "get_object") else ref
    kind = action.get("/S") if hasattr(action, "get") else None
    return str(kind) if isinstance(kind, str) else "/A"


class _Same(int):
    """An object number known to be the template's object (not a PDF integer)."""


def forbidden(
    root: Any,
    budget: Budget,
    children: dict[int, set[int]] | None = None,
    known: Callable[[int], frozenset[int] | None] | None = None,
) -> set[tuple[str, str]]:
    """(code, key) pairs for JavaScript, additional/open actions and XFA anywhere below `root`.

    For the template, `children` records which objects each object refers to. For a filled form, `known(n)`
    returns those references when object n is byte-for-byte the template's (so it holds nothing forbidden,
    or the template would): such objects are not parsed again, only their references are followed.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    containers = (DictionaryObject, ArrayObject, IndirectObject, _Same)
    found: set[tuple[str, str]] = set()
    seen: set[int] = set()
    reader = root.pdf if isinstance(root, IndirectObject) else None
    stack: list[tuple[int, Any]] = [(-1, root)]
    while stack:
        owner, obj = stack.pop()
        budget.spend()
        if type(obj) is _Same:  # an unchanged object: follow the template's references
            obj = int(obj)
            if obj in seen:
                continue
            kids = known(obj) if known is not None else None
            if kids is None:
                stack.append((owner, IndirectObject(obj, 0, reader)))
                continue
            seen.add(obj)
            stack.extend((obj, _Same(k)) for k in kids)
            continue
        if isinstance(obj, IndirectObject):
            if children is not None and owner >= 0:
                children.setdefault(owner, set()).add(obj.idnum)
            if obj.idnum in seen:
                continue
            if known is not None and obj.generation == 0 and known(obj.idnum) is not None:
                stack.append((owner, _Same(obj.idnum)))
                continue
            seen.add(obj.idnum)
            owner = obj.idnum
            if children is not None:
                children.setdefault(owner, set())
            obj = obj.get_object()
        if isinstance(obj, DictionaryObject):
            for k in obj.keys():
                if k in FORBIDDEN_KEYS:
                    found.add((FORBIDDEN_KEYS[k], k))
                elif k == "/XFA":
                    found.add(("xfa", k))
                elif k == "/EmbeddedFiles":
                    found.add(("embedded-file", k))
                elif k == "/A":
                    action = _action(obj.raw_get(k))
                    found.add(("javascript" if action == "/JavaScript" else "actions", action))
                elif k == "/S" and obj.get("/S") in FORBIDDEN_ACTIONS:
                    found.add(("javascript" if obj.get("/S") == "/JavaScript" else "actions", str(obj.get("/S"))))
                if k not in ("/Parent", "/P"):
                    value = obj.raw_get(k)
                    if isinstance(value, containers):
                        stack.append((owner, value))
        elif isinstance(obj, ArrayObject):
            # Numbers, names and strings hold nothing forbidden: only containers and references are followed
            # (a font's /W or /Widths array has hundreds of numbers).
            stack.extend((owner, item) for item in obj if isinstance(item, containers))
    return found
