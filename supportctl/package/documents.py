"""Reading a package's documents: their text (for `show`) and the form's field schema.

Text comes from PDFs we did not write, so it is cleaned before it reaches a terminal: escape sequences,
control characters and bidirectional overrides are removed. Nothing here interprets markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from supportctl.errors import InvalidInputError, UsageError, os_reason
from supportctl.i18n import _
from supportctl.package.manifest import Package

MAX_PDF_BYTES = 50 * 1000 * 1000
MAX_PAGES = 500

# CSI (ESC [ … final), OSC (ESC ] … BEL or ST), other two-byte ESC sequences, and their 8-bit forms.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"
)
# C0 controls except tab and newline, DEL, C1 controls, and bidi overrides/isolates (Trojan Source).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


def sanitize(text: str) -> str:
    """Text safe to print on a terminal: no escape sequences, no control characters, no bidi overrides."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


@dataclass(frozen=True)
class DocumentText:
    id: str
    title: str
    file: str
    pages: tuple[int, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "file": self.file, "pages": list(self.pages), "text": self.text}


def document_ids(pkg: Package) -> list[str]:
    return ["terms", "fields", *(d.id for d in pkg.documents)]


def unknown_document(name: str, choices: list[str]) -> UsageError:
    """`the package has no document 'servce-description'`, with "did you mean" for a typo."""
    import difflib

    near = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if near:
        hint = _("did you mean {id!r}? choose one of: {ids}").format(id=near[0], ids=", ".join(choices))
    else:
        hint = _("choose one of: {ids}").format(ids=", ".join(choices))
    return UsageError(_("the package has no document {id!r}").format(id=name), hint)


def text_of(pkg: Package, what: str, lang: str) -> DocumentText:
    """The text of document `what` (an id from the manifest), or of the terms pages for `terms`."""
    if what == "terms":
        doc_id, pages = pkg.terms_document, pkg.terms_pages
    else:
        doc_id, pages = what, ()
    try:
        doc = pkg.document(doc_id)
    except KeyError:
        raise unknown_document(what, document_ids(pkg)) from None
    from supportctl.fsutil import inside

    path = inside(pkg.root, doc.file)
    title = doc.title.get(lang) or doc.title.get("en") or doc.id
    if what == "terms":
        title = _("Terms ({title})").format(title=title)
    return DocumentText(doc.id, title, str(path), tuple(pages), extract_text(path, pages))


def extract_text(path: Any, pages: tuple[int, ...] = ()) -> str:
    """pypdf's text of the PDF at `path` (all pages, or the 1-based `pages`), sanitized."""
    import io
    from pathlib import Path

    from supportctl.fsutil import read_regular

    p = Path(path)
    try:
        # A package's document: a regular file, not a link out of the package, a FIFO or /dev/zero.
        data = read_regular(p, MAX_PDF_BYTES)
    except OSError as exc:
        raise InvalidInputError(_("cannot read {path}: {reason}").format(path=p, reason=os_reason(exc))) from None
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        count = len(reader.pages)
        if count > MAX_PAGES:
            raise InvalidInputError(
                _("{path} has {n} pages, more than {limit}").format(path=p, n=count, limit=MAX_PAGES)
            )
        wanted = list(pages) or list(range(1, count + 1))
        missing = [n for n in wanted if n > count]
        if missing:
            raise InvalidInputError(
                _("{path} has {n} pages; page {page} does not exist").format(path=p, n=count, page=missing[0]),
                _("the package manifest names a page the document does not have; fetch the package again"),
            )
        texts = [reader.pages[n - 1].extract_text() or "" for n in wanted]
    except InvalidInputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as exc:
        raise InvalidInputError(
            _("cannot read the PDF {path}: {reason}").format(path=p, reason=str(exc) or type(exc).__name__),
            _("the document is damaged; fetch the package again"),
        ) from None
    return sanitize("\n\n".join(t.strip("\n") for t in texts)).strip("\n") + "\n"


def fields(pkg: Package, lang: str) -> list[dict[str, Any]]:
    """The form's fields for `show fields`: name, type, label, help, required, max_length, choices."""
    result = []
    for f in pkg.fields:
        result.append(
            {
                "name": f.name,
                "type": f.type,
                "label": sanitize(f.label.get(lang) or f.label.get("en", f.name)),
                "help": sanitize(f.help.get(lang) or f.help.get("en", "")),
                "required": f.required,
                "max_length": f.max_length,
                "choices": [
                    {"value": c.value, "label": sanitize(c.label.get(lang) or c.label.get("en", c.value))}
                    for c in f.choices
                ],
                "widget": f.widget,
            }
        )
    return result


def fields_table(pkg: Package, fields: list[dict[str, Any]]) -> tuple[str, list[str], list[list[str]]]:
    """`show fields` for the person: the table's title, columns and rows of `fields` (as `fields()` gives them)."""
    rows = [
        [
            f["name"],
            f["type"],
            _("yes") if f["required"] else _("no"),
            "" if f["max_length"] is None else str(f["max_length"]),
            ", ".join(c["value"] for c in f["choices"]),
            f["label"],
        ]
        for f in fields
    ]
    return (
        _("Fields of {form}").format(form=pkg.form_document),
        [_("Field"), _("Type"), _("Required"), _("Max length"), _("Allowed values"), _("Label")],
        rows,
    )


@dataclass(frozen=True)
class Shown:
    """What `show WHAT` shows in language `lang`: a document's text, or (`fields`) the form's fields (for the
    person: `fields_table`)."""

    what: str
    lang: str
    doc: DocumentText | None = None
    fields: list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        return self.doc.text if self.doc is not None else ""

    def to_dict(self) -> dict[str, Any]:
        """The data of `show --json`."""
        if self.doc is None:
            return {"what": "fields", "lang": self.lang, "fields": self.fields}
        return {"what": self.what, "lang": self.lang, **self.doc.to_dict()}


def show(pkg: Package, what: str, lang: str) -> Shown:
    """`show`: the text of document `what` (see `text_of`), or for `fields` the form's fields."""
    if what == "fields":
        return Shown(what, lang, fields=fields(pkg, lang))
    return Shown(what, lang, doc=text_of(pkg, what, lang))
