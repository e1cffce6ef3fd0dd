"""The Latin-script rule: which characters a form value may contain.

Python's `unicodedata` has no Script property, so membership is derived conservatively:

- letters (L*) only when their Unicode name starts with ``LATIN `` (plus ª and º, which are Latin but named
  ``… ORDINAL INDICATOR``); every other letter — Cyrillic, Greek, Han, modifier letters — is refused;
- digits, punctuation, symbols and spaces (script Common) only from an explicit allow-list of blocks;
- combining marks (script Inherited) only when, after NFC, they still sit on a Latin letter;
- control (Cc), format (Cf: zero-width, bidi overrides such as U+202E), line/paragraph separators,
  private-use, surrogate and unassigned code points are always refused.

A character the form's font cannot show is refused too, even if it is Latin: the printed form must show
exactly what was typed. Nothing is ever substituted silently; `suggest` proposes a transliteration.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Container
from dataclasses import dataclass

# Blocks whose non-letter characters are script Common and harmless in a name or an address.
_COMMON_BLOCKS: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin: ASCII punctuation, digits, symbols
    (0x00A0, 0x00BF),  # Latin-1 punctuation and symbols
    (0x00D7, 0x00D7),  # ×
    (0x00F7, 0x00F7),  # ÷
    (0x02B0, 0x02FF),  # spacing modifier symbols (Sk only: letters there are refused above)
    (0x2000, 0x206F),  # General Punctuation (format characters there are refused first)
    (0x20A0, 0x20CF),  # currency symbols
    (0x2100, 0x214F),  # letterlike symbols (№, ™)
    (0x2190, 0x23FF),  # arrows, mathematical operators, technical
)
_LATIN_EXTRA_LETTERS = frozenset("\u00aa\u00ba")
_COMBINING_BLOCK = (0x0300, 0x036F)  # Combining Diacritical Marks (script Inherited)
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}


@dataclass(frozen=True)
class CharProblem:
    """One refused character: `code` is "not-latin", "control-char" or "font"."""

    code: str
    char: str
    index: int

    @property
    def label(self) -> str:
        return describe(self.char)


def describe(ch: str) -> str:
    """`U+0416 CYRILLIC CAPITAL LETTER ZHE`; unnamed code points get their category instead."""
    name = unicodedata.name(ch, "")
    if not name:
        name = {"Cc": "<control>", "Co": "<private use>", "Cs": "<surrogate>"}.get(
            unicodedata.category(ch), "<unassigned>"
        )
    return f"U+{ord(ch):04X} {name}"


def _in_blocks(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _COMMON_BLOCKS)


def is_latin_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L") and (
        unicodedata.name(ch, "").startswith("LATIN ") or ch in _LATIN_EXTRA_LETTERS
    )


def classify(text: str, index: int) -> str | None:
    """None if `text[index]` is allowed by the script rule, else "not-latin" or "control-char"."""
    ch = text[index]
    cat = unicodedata.category(ch)
    if cat in _REFUSED_CATEGORIES:
        return "control-char" if cat in ("Cc", "Cf", "Zl", "Zp") else "not-latin"
    if cat.startswith("L"):
        return None if is_latin_letter(ch) else "not-latin"
    if cat.startswith("M"):
        # A mark NFC could not compose is allowed only on a Latin letter (e.g. a rare accent combination).
        cp = ord(ch)
        if not (_COMBINING_BLOCK[0] <= cp <= _COMBINING_BLOCK[1]):
            return "not-latin"
        j = index - 1
        while j >= 0 and unicodedata.category(text[j]).startswith("M"):
            j -= 1
        return None if j >= 0 and is_latin_letter(text[j]) else "not-latin"
    # Digits, punctuation, symbols, spaces: script Common, from the allow-listed blocks only.
    return None if _in_blocks(ord(ch)) else "not-latin"


def check(text: str, font_chars: Container[str] | None = None) -> list[CharProblem]:
    """Every refused character of `text` (expected in NFC), in order; empty when the text is fine.

    `font_chars` holds the characters the field's font can display; None skips that check.
    """
    problems: list[CharProblem] = []
    for i, ch in enumerate(text):
        code = classify(text, i)
        if code is None and font_chars is not None and ch not in font_chars:
            code = "font"
        if code is not None:
            problems.append(CharProblem(code, ch, i))
    return problems


def is_nfc(text: str) -> bool:
    return unicodedata.is_normalized("NFC", text)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def suggest(text: str, font_chars: Container[str] | None = None) -> str | None:
    """A Latin transliteration of `text` that passes `check`, or None when there is none.

    Allowed characters are kept as they are; refused ones are transliterated with anyascii (format and
    control characters are dropped). The caller shows it as a suggestion — it is never applied silently.
    """
    from anyascii import anyascii

    nfc = normalize(text)
    parts: list[str] = []
    for i, ch in enumerate(nfc):
        code = classify(nfc, i)
        if code is None and (font_chars is None or ch in font_chars):
            parts.append(ch)
        elif code == "control-char":
            continue
        else:
            parts.append(anyascii(ch))
    result = normalize("".join(parts)).strip()
    if not result or result == nfc or check(result, font_chars):
        return None
    return result
