"""Which PDF is the registration form: recognised by the template's field names, not by its position or name.

An applicant may attach the service description, an invoice or a scan next to the form; those are other
documents, not invalid registrations. A PDF that cannot be read at all is left to the validator (it may be a
damaged form, and the applicant must hear why it was refused).
"""

from __future__ import annotations

from typing import Any

from supportctl.errors import InvalidInputError
from supportctl.i18n import _
from supportctl.package.manifest import Package

MAX_FIELD_NODES = 2000
MAX_FIELD_DEPTH = 8


def field_names(reader: Any) -> set[str]:
    """Fully qualified names of the AcroForm's fields, within a node and depth budget."""
    names: set[str] = set()
    root = reader.trailer["/Root"].get_object()
    acro = root.get("/AcroForm")
    if acro is None:
        return names
    fields = acro.get_object().get("/Fields")
    if fields is None:
        return names
    budget = [MAX_FIELD_NODES]
    seen: set[int] = set()

    def visit(ref: Any, prefix: str, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_FIELD_DEPTH:
            return
        num = getattr(ref, "idnum", None)
        if num is not None:
            if num in seen:
                return
            seen.add(num)
        node = ref.get_object()
        if not hasattr(node, "get"):
            return
        part = node.get("/T")
        name = f"{prefix}.{part}" if prefix and part is not None else str(part) if part is not None else prefix
        if name:
            names.add(name)
        kids = node.get("/Kids")
        if kids is not None:
            for kid in kids.get_object():
                visit(kid, name, depth + 1)

    for ref in fields.get_object():
        visit(ref, "", 0)
    return names


def is_form(pkg: Package, data: bytes) -> bool | None:
    """True: a PDF with the form's fields; False: a readable PDF without them; None: unreadable."""
    from supportctl.form import pdfutil

    what = _("the attachment")
    try:
        with pdfutil.guarded(what):
            reader = pdfutil.open_pdf(data, what)
            found = field_names(reader)
    except InvalidInputError:
        return None
    except Exception:  # anything pypdf raises on a hostile file: let the validator explain it
        return None
    wanted = {f.name for f in pkg.fields}
    return bool(found & wanted)
