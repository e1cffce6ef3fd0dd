"""Helpers for the form tests: the package, good values, and tampering with a filled PDF."""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

from supportctl.package import manifest as package
from tests.conftest import ROOT

GOOD: dict[str, object] = {
    "program": "MSDN",
    "membership_id": "ABC-123-XYZ",
    "company": "Wiśniewski & Dvořák Sp. z o.o.",
    "first_name": "Łukasz",
    "last_name": "Yılmaz-Ștefănescu",
    "email": "lukasz@example.com",
    "phone": "030 1234567",
    "street": "Jürgen-Groß-Straße 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "de",
    "support": "critical",
    "language": "en",
    "date": "25.11.2026",
    "terms_accepted": True,
}

ACCEPT = [
    "Łukasz Wiśniewski",
    "Antonín Dvořák",
    "Şükrü Yılmaz",
    "Zoë Brontë",
    "Ægir Ørsted",
    "François Lefèvre",
    "Jürgen Groß",
    "Yılmaz-Ștefănescu",
]
REFUSE = ["Дмитрий", "張偉", "Αλέξης", "Anna\u202eMaria"]


def package_root() -> Path:
    return ROOT / "forms" / "default"


def pkg() -> package.Package:
    return package.load(package_root())


def pdftotext(data: bytes, tmp: Path) -> str:
    p = tmp / "pdftotext-input.pdf"
    p.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout


def qpdf_check(data: bytes, tmp: Path) -> subprocess.CompletedProcess[str]:
    p = tmp / "qpdf-input.pdf"
    p.write_bytes(data)
    return subprocess.run(["qpdf", "--check", str(p)], capture_output=True, text=True)


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def rewrite(data: bytes, change: Any) -> bytes:
    """Open `data` with pypdf, let `change(writer)` tamper with it, and save the whole file again."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=BytesIO(data))
    change(writer)
    buf = BytesIO()
    writer.write(buf)
    return buf.getvalue()


def field_obj(writer: Any, name: str) -> Any:
    for ref in writer._root_object["/AcroForm"]["/Fields"]:
        obj = ref.get_object()
        if obj.get("/T") == name:
            return obj
    raise KeyError(name)
