"""The message catalogue, kept with Babel (the `test`/`dev` extra; never needed at run time).

    python -m tools.catalog update    # extract every string and merge it into each .po (new ones: empty msgstr)
    python -m tools.catalog compile   # .po -> .mo, what gettext reads at run time (both are committed)
    python -m tools.catalog check     # exit 1 on a missing, untranslated, fuzzy or stale entry, or a stale .mo
    python -m tools.catalog extract   # only the template, supportctl/locale/supportctl.pot (not committed)

Each step is the pybabel command it prints. The template holds our `_()`/`N_()`/`ngettext()` strings, what the CLI
translates without a call (command docstrings, literal `help=`, metavar words: `extract_cli`), and Click's and
Typer's own gettext strings (`supportctl.cli` routes their lookups to our catalogue). No locations and a sorted
template: a .po changes only where a string changed, so parallel branches merge.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "supportctl" / "locale"
POT = LOCALE / "supportctl.pot"
LANGUAGES = ("de",)
METAVAR_WORD = re.compile(r"\b[A-Z][A-Z_]+\b")  # what `supportctl.cli._base.METAVAR_WORD` translates
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-zA-Z_][a-zA-Z0-9_]*)[^{}]*\}(?!\})")


def po_path(lang: str, locale: Path | None = None) -> Path:
    return (locale or LOCALE) / lang / "LC_MESSAGES" / "supportctl.po"


def pybabel(*args: str) -> None:
    from babel.messages.frontend import CommandLineInterface

    print("pybabel", " ".join(args), file=sys.stderr)
    CommandLineInterface().run(["pybabel", "-q", *args])


def sources() -> list[str]:
    """Our package, and the framework modules that call gettext (their msgids get our translations)."""
    import click
    import typer.core

    return [
        str(ROOT / "supportctl"),
        str(Path(click.__file__).parent),
        typer.core.__file__,
        str(Path(typer.core.__file__).parent / "completion.py"),
    ]


def extract(out: Path = POT) -> Path:
    mapping = "[extractors]\ncli = tools.catalog:extract_cli\n[cli: **.py]\n"
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as cfg:
        cfg.write(mapping)
        cfg.flush()
        pybabel("extract", "-F", cfg.name, "--no-location", "--sort-output", "--project=supportctl",
                "-o", str(out), *sources())  # fmt: skip
    return out


def update() -> None:
    extract()
    for lang in LANGUAGES:
        pybabel("update", "-i", str(POT), "-d", str(LOCALE), "-D", "supportctl", "-l", lang,
                "--ignore-obsolete", "--ignore-pot-creation-date", "--init-missing")  # fmt: skip


def compile_catalogues() -> None:
    for lang in LANGUAGES:
        pybabel("compile", "-d", str(LOCALE), "-D", "supportctl", "-l", lang)


def problems(locale: Path | None = None) -> list[str]:
    """What `check` fails on: compared with a fresh extraction and a fresh compile."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with tempfile.TemporaryDirectory() as tmp:
        with open(extract(Path(tmp) / "supportctl.pot"), "rb") as fh:
            wanted = {m.id for m in read_po(fh) if m.id}
    found = []
    for lang in LANGUAGES:
        po = po_path(lang, locale)
        with open(po, "rb") as fh:
            catalog = read_po(fh)
        have = {m.id for m in catalog if m.id}
        found += [f"{lang}: missing (run update): {_show(i)}" for i in sorted(wanted - have, key=str)]
        found += [f"{lang}: stale (no longer in the code): {_show(i)}" for i in sorted(have - wanted, key=str)]
        for m in catalog:
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            if not m.id:
                continue
            if m.fuzzy:
                found.append(f"{lang}: fuzzy: {_show(m.id)}")
            elif not all(strings):
                found.append(f"{lang}: untranslated: {_show(m.id)}")
            elif any(_names(s) - _names(m.id) for s in strings):
                found.append(f"{lang}: placeholder not in the msgid: {_show(m.id)}")
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled.getvalue():
            found.append(f"{lang}: {mo.name} is not the compiled {po.name} (run compile)")
    return found


def _names(text: str | tuple[str, ...]) -> set[str]:
    return set(PLACEHOLDER.findall(" ".join(text) if isinstance(text, tuple) else text))


def _show(msgid: str | tuple[str, ...]) -> str:
    return repr(msgid[0] if isinstance(msgid, tuple) else msgid)


# ---------------------------------------------------------------- the extractor Babel calls for .py files


def extract_cli(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[Any]:
    """Babel's Python extraction, plus the texts `supportctl.cli` translates without a call.

    Command docstrings (`@x.command()`/`@x.callback()`: Typer shows them as help), literal `help="…"`, the
    capitalised words of a metavar (`metavar="…"`, or the metavar argument of `cli.common.argument`/`option`), and an
    argument's name in capitals (its default metavar).
    """
    from babel.messages.extract import extract_python

    yield from extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    for node in ast.walk(ast.parse(fileobj.read())):
        if isinstance(node, ast.FunctionDef) and any(_is_command(d) for d in node.decorator_list):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.lineno, None, doc, []
            for arg in node.args.args:
                if any(not _keyword(c, "metavar") for c in _calls(arg.annotation, "Argument")):
                    yield node.lineno, None, arg.arg.upper(), []
        for call in _calls(node, "Option", "Argument", deep=False):
            if isinstance(help_text := _keyword(call, "help"), str):
                yield call.lineno, None, help_text, []
            if isinstance(metavar := _keyword(call, "metavar"), str):
                for word in METAVAR_WORD.findall(metavar):
                    yield call.lineno, None, word, []
        # cli.common.argument(help, metavar, complete) and cli.common.option(flags, help, metavar)
        for call in _calls(node, "argument", "option", deep=False):
            i = 1 if getattr(call.func, "attr", getattr(call.func, "id", "")) == "argument" else 2
            if len(call.args) > i and isinstance(call.args[i], ast.Constant) and isinstance(call.args[i].value, str):
                for word in METAVAR_WORD.findall(call.args[i].value):
                    yield call.lineno, None, word, []


def _is_command(dec: ast.expr) -> bool:
    func = dec.func if isinstance(dec, ast.Call) else dec
    return isinstance(func, ast.Attribute) and func.attr in ("command", "callback")


def _calls(node: ast.AST | None, *names: str, deep: bool = True) -> list[ast.Call]:
    nodes = list(ast.walk(node)) if deep and node is not None else [node]
    return [n for n in nodes if isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in names]


def _keyword(call: ast.Call, name: str) -> object:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "extract":
        extract()
    elif cmd == "update":
        update()
    elif cmd == "compile":
        compile_catalogues()
    elif cmd == "check":
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
