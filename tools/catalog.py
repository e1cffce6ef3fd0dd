"""Maintain the message catalogues: extract, update, compile, check. A maintenance tool, not used at run time.

    python -m tools.catalog extract   # supportctl/locale/supportctl.pot from every _() call
    python -m tools.catalog update    # merge the template into each language's .po
    python -m tools.catalog compile   # .po -> .mo (what gettext reads at run time)
    python -m tools.catalog check     # exit 1 if a string is untranslated, fuzzy, stale or uncompiled

Self-contained (ast + struct) so neither CI nor contributors need GNU gettext or Babel. The .mo files are
committed next to the .po files; `check` fails when they differ from a fresh compile.
"""

from __future__ import annotations

import ast
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "supportctl"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "supportctl.pot"
LANGUAGES = ("de",)
PLURAL_FORMS = {"de": "nplurals=2; plural=(n != 1);"}
_METAVAR_WORD = re.compile(r"\b[A-Z][A-Z_]+\b")  # the words `cli._base._metavars` translates
_PLACEHOLDER = re.compile(r"(?<!\{)\{([a-zA-Z_][a-zA-Z0-9_]*)[^{}]*\}(?!\})")


@dataclass
class Entry:
    msgid: str
    plural: str | None = None
    msgstr: list[str] = field(default_factory=lambda: [""])
    locations: list[str] = field(default_factory=list)
    fuzzy: bool = False
    comments: list[str] = field(default_factory=list)  # translator comments ("# ...")

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.msgid, self.plural)


# ---------------------------------------------------------------- extraction


def extract(sources: list[Path] | None = None) -> dict[tuple[str, str | None], Entry]:
    """Every `_("…")`, `N_("…")` and `ngettext("…", "…", n)` with literal strings, and command docstrings."""
    found: dict[tuple[str, str | None], Entry] = {}
    files = sources or sorted(p for p in PACKAGE.rglob("*.py") if "locale" not in p.parts)
    for path in files:
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            doc = _command_docstring(node) if isinstance(node, ast.FunctionDef) else None
            if doc and isinstance(node, ast.FunctionDef):
                for text in [doc, *_argument_names(node)]:
                    entry = found.setdefault((text, None), Entry(text, None, [""]))
                    entry.locations.append(f"{_shown(path)}:{node.lineno}")
                continue
            for text in _option_texts(node):
                entry = found.setdefault((text, None), Entry(text, None, [""]))
                entry.locations.append(f"{_shown(path)}:{getattr(node, 'lineno', 0)}")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            args = node.args
            if node.func.id in ("_", "N_") and len(args) == 1 and _is_str(args[0]):
                key: tuple[str, str | None] = (_str(args[0]), None)
            elif node.func.id == "ngettext" and len(args) == 3 and _is_str(args[0]) and _is_str(args[1]):
                key = (_str(args[0]), _str(args[1]))
            else:
                continue
            entry = found.setdefault(key, Entry(key[0], key[1], ["", ""] if key[1] else [""]))
            entry.locations.append(f"{_shown(path)}:{node.lineno}")
    for entry in found.values():
        entry.locations.sort(key=_location_key)
    return found


def _command_docstring(node: ast.FunctionDef) -> str | None:
    """The docstring of a function decorated with `@<app>.command(...)` or `@<app>.callback(...)`.

    Typer shows it as the command's help (`inspect.getdoc`, the same cleaning as `ast.get_docstring`);
    `supportctl.cli` translates it when the help is shown, so commands need no `help=_(...)` of their own.
    """
    for dec in node.decorator_list:
        func = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(func, ast.Attribute) and func.attr in ("command", "callback"):
            return ast.get_docstring(node, clean=True)
    return None


def _argument_names(node: ast.FunctionDef) -> list[str]:
    """`DOC` for `doc: Annotated[..., typer.Argument(...)]` without a metavar: Click shows the name in capitals."""
    names = []
    for arg in node.args.args:
        ann = arg.annotation
        if not (isinstance(ann, ast.Subscript) and isinstance(ann.slice, ast.Tuple)):
            continue
        for part in ann.slice.elts[1:]:
            if (
                isinstance(part, ast.Call)
                and isinstance(part.func, ast.Attribute)
                and part.func.attr == "Argument"
                and not any(kw.arg == "metavar" for kw in part.keywords)
            ):
                names.append(arg.arg.upper())
    return names


def _option_texts(node: ast.AST) -> list[str]:
    """Literal `help="…"` and the capitalised words of `metavar="[DOC]..."` in `typer.Option/Argument(...)` calls.

    `supportctl.cli` translates both when the help page is shown, so a literal that missed its `_()` still
    reaches the catalogue (and `check` then asks for its translation).
    """
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return []
    if node.func.attr not in ("Option", "Argument"):
        return []
    texts = []
    for kw in node.keywords:
        if kw.arg == "help" and _is_str(kw.value):
            texts.append(_str(kw.value))
        elif kw.arg == "metavar" and _is_str(kw.value):
            texts += _METAVAR_WORD.findall(_str(kw.value))
    return texts


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(PACKAGE.parent))
    except ValueError:
        return str(path)


def _location_key(loc: str) -> tuple[str, int]:
    file, _sep, line = loc.rpartition(":")
    return (file, int(line))


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _str(node: ast.expr) -> str:
    assert isinstance(node, ast.Constant) and isinstance(node.value, str)
    return node.value


# ---------------------------------------------------------------- PO files


def _quote(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
    return f'"{body}"'


def _unquote(text: str) -> str:
    assert text.startswith('"') and text.endswith('"'), text
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_po(path: Path) -> tuple[str, dict[tuple[str, str | None], Entry]]:
    """(header msgstr, entries). Obsolete (#~) entries are dropped."""
    entries: dict[tuple[str, str | None], Entry] = {}
    header = ""
    if not path.exists():
        return header, entries
    cur: Entry | None = None
    target: tuple[str, int] | None = None
    pending_flags: list[str] = []
    pending_locs: list[str] = []
    pending_comments: list[str] = []

    def flush() -> None:
        nonlocal cur, header
        if cur is not None:
            if cur.msgid == "" and cur.plural is None:
                header = cur.msgstr[0]
            else:
                entries[cur.key] = cur
        cur = None

    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flush()
            pending_flags += [f.strip() for f in line[2:].split(",")]
        elif line.startswith("#:"):
            flush()
            pending_locs += line[2:].split()
        elif line.startswith("#"):
            flush()
            if line.startswith("# "):
                pending_comments.append(line[2:])
        elif line.startswith("msgid_plural "):
            assert cur is not None
            cur.plural = _unquote(line[len("msgid_plural ") :])
            cur.msgstr = ["", ""]
            target = ("plural", 0)
        elif line.startswith("msgid "):
            flush()
            cur = Entry(_unquote(line[6:]), None, [""], pending_locs, "fuzzy" in pending_flags, pending_comments)
            pending_flags, pending_locs, pending_comments = [], [], []
            target = ("msgid", 0)
        elif line.startswith("msgstr["):
            assert cur is not None
            n = int(line[7 : line.index("]")])
            while len(cur.msgstr) <= n:
                cur.msgstr.append("")
            cur.msgstr[n] = _unquote(line[line.index("]") + 2 :])
            target = ("msgstr", n)
        elif line.startswith("msgstr "):
            assert cur is not None
            cur.msgstr[0] = _unquote(line[7:])
            target = ("msgstr", 0)
        elif line.startswith('"'):
            assert cur is not None and target is not None
            text = _unquote(line)
            if target[0] == "msgid":
                cur.msgid += text
            elif target[0] == "plural":
                cur.plural = (cur.plural or "") + text
            else:
                cur.msgstr[target[1]] += text
    flush()
    return header, entries


def write_po(path: Path, header: str, entries: list[Entry]) -> None:
    lines = ['msgid ""', 'msgstr ""']
    lines += [_quote(h + "\n") for h in header.rstrip("\n").split("\n")] if header else []
    for e in entries:
        lines.append("")
        lines += [f"# {c}" for c in e.comments]
        if e.locations:
            lines.append("#: " + " ".join(e.locations))
        if e.fuzzy:
            lines.append("#, fuzzy")
        lines.append("msgid " + _quote(e.msgid))
        if e.plural is not None:
            lines.append("msgid_plural " + _quote(e.plural))
            lines += [f"msgstr[{i}] " + _quote(s) for i, s in enumerate(e.msgstr)]
        else:
            lines.append("msgstr " + _quote(e.msgstr[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", "utf-8")


def header_for(lang: str) -> str:
    return (
        "Project-Id-Version: supportctl\n"
        f"Language: {lang}\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        f"Plural-Forms: {PLURAL_FORMS.get(lang, 'nplurals=2; plural=(n != 1);')}\n"
    )


# ---------------------------------------------------------------- MO files


def compile_mo(header: str, entries: list[Entry]) -> bytes:
    """GNU .mo bytes (little-endian, no hash table): what `gettext.GNUTranslations` reads."""
    pairs: dict[bytes, bytes] = {b"": header.encode()}
    for e in entries:
        if e.fuzzy or not all(e.msgstr):
            continue
        key = e.msgid if e.plural is None else f"{e.msgid}\0{e.plural}"
        pairs[key.encode()] = "\0".join(e.msgstr).encode()
    keys = sorted(pairs)
    ids = b"".join(k + b"\0" for k in keys)
    strs = b"".join(pairs[k] + b"\0" for k in keys)
    n = len(keys)
    start_ids = 7 * 4 + 16 * n
    start_strs = start_ids + len(ids)
    table_ids, table_strs = [], []
    off = 0
    for k in keys:
        table_ids += [len(k), start_ids + off]
        off += len(k) + 1
    off = 0
    for k in keys:
        table_strs += [len(pairs[k]), start_strs + off]
        off += len(pairs[k]) + 1
    head = struct.pack("<7I", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    return head + struct.pack(f"<{2 * n}I", *table_ids) + struct.pack(f"<{2 * n}I", *table_strs) + ids + strs


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "supportctl.po"


# ---------------------------------------------------------------- commands


def cmd_extract() -> None:
    found = extract()
    write_po(POT, header_for("xx"), sorted(found.values(), key=lambda e: _location_key(e.locations[0])))
    print(f"{POT}: {len(found)} messages")


def cmd_update() -> None:
    cmd_extract()  # the template follows the code too
    found = extract()
    for lang in LANGUAGES:
        header, old = read_po(po_path(lang))
        merged = []
        for key, e in sorted(found.items(), key=lambda kv: _location_key(kv[1].locations[0])):
            prev = old.get(key)
            if prev is not None:
                e.msgstr, e.fuzzy, e.comments = prev.msgstr, prev.fuzzy, prev.comments
            merged.append(e)
        write_po(po_path(lang), header or header_for(lang), merged)
        todo = sum(1 for e in merged if e.fuzzy or not all(e.msgstr))
        print(f"{po_path(lang)}: {len(merged)} messages, {todo} to translate")


def cmd_compile() -> None:
    for lang in LANGUAGES:
        header, entries = read_po(po_path(lang))
        mo = po_path(lang).with_suffix(".mo")
        mo.write_bytes(compile_mo(header, list(entries.values())))
        print(mo)


def problems() -> list[str]:
    """Everything that makes a catalogue incomplete, stale or inconsistent."""
    found = extract()
    out = []
    for lang in LANGUAGES:
        header, entries = read_po(po_path(lang))
        for key, e in found.items():
            where = e.locations[0]
            t = entries.get(key)
            if t is None:
                out.append(f"{lang}: missing: {e.msgid!r} ({where})")
            elif t.fuzzy:
                out.append(f"{lang}: fuzzy: {e.msgid!r} ({where})")
            elif not all(t.msgstr):
                out.append(f"{lang}: untranslated: {e.msgid!r} ({where})")
            else:
                wanted = set(_PLACEHOLDER.findall(e.msgid + (e.plural or "")))
                for s in t.msgstr:
                    if set(_PLACEHOLDER.findall(s)) - wanted:
                        out.append(f"{lang}: placeholders differ: {e.msgid!r} -> {s!r}")
        for key in entries:
            if key not in found:
                out.append(f"{lang}: stale (no longer in the code): {key[0]!r}")
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compile_mo(header, list(entries.values())):
            out.append(f"{lang}: {mo} is not the compiled {po_path(lang).name}: run compile")
    return out


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "extract":
        cmd_extract()
    elif cmd == "update":
        cmd_update()
    elif cmd == "compile":
        cmd_compile()
    elif cmd == "check":
        found = problems()
        for p in found:
            print(p)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
