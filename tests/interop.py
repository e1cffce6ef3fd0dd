"""Forms filled and re-saved by software we did not write: PDFium, PyMuPDF, pikepdf, pypdf, pdf-lib, pdf.js,
qpdf and mutool. Each generator takes the template's (or a filled form's) bytes and returns what the tool wrote.

The Python tools are imported inside the generators; the node tools run scripts against the packages that
`.ci/run` installs into `.ci/node/` (or `SUPPORTCTL_NODE_MODULES`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

# Honest values, as a desk sees them, with Latin Extended-A names (already in their normal form).
HONEST: dict[str, str | bool] = {
    "program": "MSDN",
    "membership_id": "ABC-123-XYZ",
    "company": "Őrsi & Đorđević GmbH",
    "first_name": "Łukasz",
    "last_name": "Dvořák-Ştefănescu",
    "email": "lukasz@example.com",
    "phone": "+49301234567",
    "street": "Jürgen-Groß-Straße 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "DE",
    "support": "critical",
    "language": "en",
    "date": "2026-11-25",
    "terms_accepted": True,
}
RADIOS = ("support", "language")
CHECKBOX = "terms_accepted"
CHOICE = "program"
FONT = ROOT / "forms" / "src" / "fonts" / "DejaVuSans.ttf"


def node_modules() -> Path | None:
    """Where pdf-lib and pdfjs-dist are installed, or None (no node, or not installed)."""
    if shutil.which("node") is None:
        return None
    where = Path(os.environ.get("SUPPORTCTL_NODE_MODULES", ROOT / ".ci" / "node" / "node_modules"))
    return where if (where / "pdf-lib").is_dir() and (where / "pdfjs-dist").is_dir() else None


def node_supports_pdfjs() -> bool:
    """pdfjs-dist 5 needs node >= 20.19 (older Debian releases ship node 18)."""
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout
        major, minor = (int(x) for x in out.strip().lstrip("v").split(".")[:2])
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    return (major, minor) >= (20, 19)


def _texts() -> dict[str, str]:
    return {k: v for k, v in HONEST.items() if isinstance(v, str) and k not in RADIOS and k != CHOICE}


# ---------------------------------------------------------------- fills


def fill_pypdf(template: bytes, radio_as_text: bool = False) -> bytes:
    """pypdf: `update_page_form_field_values`, then (correct use) each radio group's /V set as a PDF name.

    pypdf itself stores a radio group's value as the text "/critical" (`radio_as_text=True` keeps that).
    """
    from pypdf import PdfWriter
    from pypdf.generic import NameObject

    writer = PdfWriter(clone_from=BytesIO(template))
    values: dict[str, Any] = dict(_texts())
    values[CHOICE] = HONEST[CHOICE]
    for name in RADIOS:
        values[name] = "/" + str(HONEST[name])
    values[CHECKBOX] = "/Yes"
    for page in writer.pages:
        if "/Annots" in page:
            writer.update_page_form_field_values(page, values, auto_regenerate=False)
    if not radio_as_text:
        for ref in writer._root_object["/AcroForm"]["/Fields"]:
            node = ref.get_object()
            if node.get("/T") in RADIOS:
                node[NameObject("/V")] = NameObject("/" + str(HONEST[str(node["/T"])]))
    buf = BytesIO()
    writer.write(buf)
    return buf.getvalue()


def fill_pymupdf(template: bytes) -> bytes:
    import pymupdf

    doc = pymupdf.open(stream=template, filetype="pdf")
    for page in doc:
        for w in page.widgets():
            name = w.field_name
            if name in RADIOS:
                if w.on_state() == HONEST[name]:
                    w.field_value = True
                    w.update()
            elif name == CHECKBOX:
                w.field_value = True
                w.update()
            elif name in HONEST:
                w.field_value = str(HONEST[name])
                w.update()
    out = doc.tobytes()
    doc.close()
    return bytes(out)


def fill_pikepdf(template: bytes, generator: str = "extended") -> bytes:
    """pikepdf's form API with an appearance generator (`generator`: "extended" or qpdf's "default")."""
    import pikepdf
    from pikepdf.form import DefaultAppearanceStreamGenerator, ExtendedAppearanceStreamGenerator, Form

    pdf = pikepdf.open(BytesIO(template))
    form = Form(pdf, ExtendedAppearanceStreamGenerator if generator == "extended" else DefaultAppearanceStreamGenerator)
    for name, value in HONEST.items():
        f = form[name]
        if name in RADIOS:
            for option in f.options:
                if option.on_value == pikepdf.Name("/" + str(value)):
                    option.select()
        elif name == CHECKBOX:
            f.checked = True
        else:
            f.value = str(value)
    buf = BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def fill_pdfium(template: bytes) -> bytes:
    """PDFium (Chrome's engine) through pypdfium2: focus each field, select all, type the value, click buttons."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    def wide(fn: Any, *args: Any) -> str:
        n = fn(*args, None, 0)
        buf = (ctypes.c_ushort * (n // 2 + 1))()
        fn(*args, buf, n)
        return bytes(buf)[: max(n - 2, 0)].decode("utf-16-le")

    pdf = pdfium.PdfDocument(template)
    pdf.init_forms()
    env = pdf.formenv
    for index in range(len(pdf)):
        page = pdf[index]
        for i in range(raw.FPDFPage_GetAnnotCount(page.raw)):
            annot = raw.FPDFPage_GetAnnot(page.raw, i)
            try:
                name = wide(raw.FPDFAnnot_GetFormFieldName, env.raw, annot)
                if name not in HONEST:
                    continue
                kind = raw.FPDFAnnot_GetFormFieldType(env.raw, annot)
                rect = raw.FS_RECTF()
                raw.FPDFAnnot_GetRect(annot, rect)
                x, y = (rect.left + rect.right) / 2, (rect.top + rect.bottom) / 2
                if kind in (raw.FPDF_FORMFIELD_RADIOBUTTON, raw.FPDF_FORMFIELD_CHECKBOX):
                    export = wide(raw.FPDFAnnot_GetFormFieldExportValue, env.raw, annot)
                    want = "Yes" if name == CHECKBOX else HONEST[name]
                    if export == want and not raw.FPDFAnnot_IsChecked(env.raw, annot):
                        raw.FORM_OnMouseMove(env.raw, page.raw, 0, x, y)
                        raw.FORM_OnLButtonDown(env.raw, page.raw, 0, x, y)
                        raw.FORM_OnLButtonUp(env.raw, page.raw, 0, x, y)
                        raw.FORM_ForceToKillFocus(env.raw)
                elif kind == raw.FPDF_FORMFIELD_COMBOBOX:
                    raw.FORM_SetFocusedAnnot(env.raw, annot)
                    for k in range(raw.FPDFAnnot_GetOptionCount(env.raw, annot)):
                        if wide(raw.FPDFAnnot_GetOptionLabel, env.raw, annot, k) == HONEST[name]:
                            raw.FORM_SetIndexSelected(env.raw, page.raw, k, True)
                    raw.FORM_ForceToKillFocus(env.raw)
                else:
                    raw.FORM_SetFocusedAnnot(env.raw, annot)
                    raw.FORM_SelectAllText(env.raw, page.raw)
                    text = (str(HONEST[name]) + "\0").encode("utf-16-le")
                    typed = ctypes.create_string_buffer(text, len(text))
                    raw.FORM_ReplaceSelection(env.raw, page.raw, ctypes.cast(typed, ctypes.POINTER(ctypes.c_ushort)))
                    raw.FORM_ForceToKillFocus(env.raw)
            finally:
                raw.FPDFPage_CloseAnnot(annot)
        page.close()
    buf = BytesIO()
    pdf.save(buf)
    pdf.close()
    return buf.getvalue()


_PDF_LIB = """
const fs = require('fs');
const {PDFDocument} = require('pdf-lib');
const fontkit = require('@pdf-lib/fontkit');
const [src, dst, valuesJson, fontPath, mode] = process.argv.slice(2);
(async () => {
  const values = JSON.parse(valuesJson);
  const doc = await PDFDocument.load(fs.readFileSync(src));
  doc.registerFontkit(fontkit);
  const font = await doc.embedFont(fs.readFileSync(fontPath), {subset: false});
  const form = doc.getForm();
  for (const [name, value] of Object.entries(values)) {
    const field = form.getField(name);
    const kind = field.constructor.name;
    if (kind === 'PDFCheckBox') { if (value) field.check(); }
    else if (kind === 'PDFRadioGroup') field.select(value);
    else if (kind === 'PDFDropdown' || kind === 'PDFOptionList') field.select(value);
    else field.setText(value);
  }
  form.updateFieldAppearances(font);
  if (mode === 'flatten') form.flatten();
  fs.writeFileSync(dst, await doc.save({updateFieldAppearances: false}));
})().catch((e) => { console.error(e); process.exit(1); });
"""

_PDF_JS = """
const fs = require('fs');
const {pathToFileURL} = require('url');
(async () => {
  const pdfjs = await import(pathToFileURL(require.resolve('pdfjs-dist/legacy/build/pdf.mjs')).href);
  const [src, dst, valuesJson] = process.argv.slice(2);
  const values = JSON.parse(valuesJson);
  const doc = await pdfjs.getDocument({data: new Uint8Array(fs.readFileSync(src)), verbosity: 0}).promise;
  for (let p = 1; p <= doc.numPages; p++) {
    const page = await doc.getPage(p);
    for (const a of await page.getAnnotations()) {
      if (!(a.fieldName in values)) continue;
      const v = values[a.fieldName];
      if (a.checkBox) doc.annotationStorage.setValue(a.id, {value: !!v});
      else if (a.radioButton) doc.annotationStorage.setValue(a.id, {value: a.buttonValue === v});
      else if (a.fieldType === 'Ch') doc.annotationStorage.setValue(a.id, {value: v});
      else doc.annotationStorage.setValue(a.id, {value: v});
    }
  }
  fs.writeFileSync(dst, await doc.saveDocument());
  await doc.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
"""


def _node(script: str, data: bytes, *args: str) -> bytes:
    modules = node_modules()
    if modules is None:
        raise RuntimeError("node or the npm packages are missing")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "in.pdf").write_bytes(data)
        (d / "run.cjs").write_text(script, "utf-8")
        env = dict(os.environ, NODE_PATH=str(modules))
        subprocess.run(
            ["node", str(d / "run.cjs"), str(d / "in.pdf"), str(d / "out.pdf"), *args],
            check=True,
            capture_output=True,
            env=env,
            cwd=modules.parent,
            timeout=120,
        )
        return (d / "out.pdf").read_bytes()


def fill_pdf_lib(template: bytes, mode: str = "fill") -> bytes:
    return _node(_PDF_LIB, template, json.dumps(HONEST), str(FONT), mode)


def fill_pdf_js(template: bytes) -> bytes:
    return _node(_PDF_JS, template, json.dumps(HONEST))


def fill_pypdfform(template: bytes) -> bytes:
    from PyPDFForm import PdfWrapper

    values: dict[str, Any] = dict(_texts())
    values[CHOICE] = HONEST[CHOICE]
    values["support"] = 0
    values["language"] = 1
    values[CHECKBOX] = True
    return bytes(PdfWrapper(template).fill(values).read())


FILLS = {
    "pypdf": fill_pypdf,
    "PyMuPDF": fill_pymupdf,
    "pikepdf": fill_pikepdf,
    "PDFium": fill_pdfium,
    "pdf-lib": fill_pdf_lib,
    "pdf.js": fill_pdf_js,
}


# ---------------------------------------------------------------- unchanged re-saves


def _tool(args: list[str], data: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        src.write_bytes(data)
        r = subprocess.run([*args, str(src), str(dst)], capture_output=True, timeout=120)
        if r.returncode not in (0, 3):  # qpdf: 3 = success with warnings
            raise RuntimeError(r.stderr.decode(errors="replace"))
        return dst.read_bytes()


def resave_qpdf(data: bytes) -> bytes:
    return _tool(["qpdf"], data)


def resave_qpdf_objstm(data: bytes) -> bytes:
    return _tool(["qpdf", "--object-streams=generate"], data)


def resave_qpdf_linearize(data: bytes) -> bytes:
    return _tool(["qpdf", "--linearize"], data)


def resave_mutool(data: bytes) -> bytes:
    return _tool(["mutool", "clean", "-gggg", "-z"], data)


def resave_pikepdf(data: bytes) -> bytes:
    import pikepdf

    pdf = pikepdf.open(BytesIO(data))
    buf = BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def resave_pymupdf(data: bytes) -> bytes:
    import pymupdf

    doc = pymupdf.open(stream=data, filetype="pdf")
    out = doc.tobytes(garbage=4, deflate=True)
    doc.close()
    return bytes(out)


RESAVES = {
    "qpdf": (resave_qpdf, "qpdf"),
    "qpdf --object-streams=generate": (resave_qpdf_objstm, "qpdf"),
    "qpdf --linearize": (resave_qpdf_linearize, "qpdf"),
    "mutool clean -gggg -z": (resave_mutool, "mutool"),
    "pikepdf save()": (resave_pikepdf, None),
    "PyMuPDF save(garbage=4, deflate=True)": (resave_pymupdf, None),
}
