"""Deterministic PDF output: copy reportlab's pages into a pypdf writer, write with a
content-derived /ID, no dates."""

from __future__ import annotations

import hashlib
import io

from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, ByteStringObject

_PLACEHOLDER = bytes(16)
PRODUCER = "supportctl forms/build.py"


def writer_from(pdf: bytes) -> PdfWriter:
    """A fresh writer holding the pages of `pdf` (metadata, dates and /ID dropped)."""
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        writer.add_page(page)
    return writer


def finish(writer: PdfWriter, title: str, subject: str) -> bytes:
    """Serialise `writer`; /ID is derived from a hash of the file itself."""
    writer.pdf_header = "%PDF-1.7"
    writer.add_metadata(
        {
            "/Title": title,
            "/Subject": subject,
            "/Author": "supportctl",
            "/Creator": PRODUCER,
            "/Producer": PRODUCER,
        }
    )
    writer._ID = ArrayObject([ByteStringObject(_PLACEHOLDER), ByteStringObject(_PLACEHOLDER)])
    buf = io.BytesIO()
    writer.write(buf)
    data = buf.getvalue()
    placeholder = b"<" + _PLACEHOLDER.hex().encode() + b">"
    if data.count(placeholder) != 2:
        raise RuntimeError("cannot locate the /ID placeholder in the output")
    file_id = hashlib.sha256(data).digest()[:16]
    return data.replace(placeholder, b"<" + file_id.hex().encode() + b">")
