"""Throw-away document packages and a real HTTP(S) server on 127.0.0.1 for the fetch/show/print tests."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import ssl
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import ROOT

MANIFEST = ROOT / "forms" / "default" / "package.toml"
TERMS_MARKER = "TERMS-OF-SUPPORT-MARKER"
SERVICE_MARKER = "SERVICE-DESCRIPTION-MARKER"


def make_pdf(path: Path, pages: list[str]) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), invariant=1)
    for text in pages:
        y = 800
        for line in text.splitlines():
            c.drawString(72, y, line)
            y -= 16
        c.showPage()
    c.save()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_package(root: Path, terms: str = TERMS_MARKER, service_extra: str = "") -> Path:
    """A package with the default manifest and tiny PDFs: the form's page 2 holds the terms."""
    root.mkdir(parents=True, exist_ok=True)
    make_pdf(root / "service-description.pdf", [f"{SERVICE_MARKER}\nSupport hours 09:00-18:00{service_extra}"])
    make_pdf(root / "registration-form.pdf", ["Registration form", f"Terms\n{terms}"])
    text = MANIFEST.read_text("utf-8")
    digests = iter([sha256(root / "service-description.pdf"), sha256(root / "registration-form.pdf")])
    text = re.sub(r'(?m)^sha256 = "[0-9a-f]{64}"', lambda _m: f'sha256 = "{next(digests)}"', text)
    (root / "package.toml").write_text(text, "utf-8")
    return root


def make_zip(
    pkg: Path, out: Path, extra: Sequence[tuple[zipfile.ZipInfo | str, bytes]] = (), skip: tuple[str, ...] = ()
) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(pkg.iterdir()):
            if p.name not in skip:
                zf.write(p, p.name)
        for info, data in extra:
            zf.writestr(info, data)
    return out


def snapshot(d: Path) -> dict[str, bytes]:
    """Every file and directory under `d` (hidden ones too), with content."""
    result: dict[str, bytes] = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        result[rel] = p.read_bytes() if p.is_file() else b"<dir>"
    return result


# ---------------------------------------------------------------- a real server on 127.0.0.1

Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?")[0])  # type: ignore[attr-defined]
        if route is None:
            self.send_error(404)
            return
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server:
    def __init__(self, httpd: ThreadingHTTPServer, scheme: str) -> None:
        self.httpd = httpd
        self.scheme = scheme
        self.routes: dict[str, Route] = httpd.routes  # type: ignore[attr-defined]
        self.stop = threading.Event()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes = {}  # type: ignore[attr-defined]
    httpd.hits = []  # type: ignore[attr-defined]
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    server = Server(httpd, "https" if tls else "http")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def body(data: bytes, length: int | None = -1, status: int = 200) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/zip")
        if length is not None:
            h.send_header("Content-Length", str(len(data) if length == -1 else length))
        h.end_headers()
        h.wfile.write(data)

    return route


def reset_mid_body(data: bytes) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        # SO_LINGER 0: close() sends a TCP RST instead of a FIN.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()

    return route


def stall(data: bytes, stop: threading.Event) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:100])
        h.wfile.flush()
        stop.wait(10)

    return route


def redirect(to: str) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return route


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def raw_text_pdf(path: Path, text: bytes) -> None:
    """A one-page PDF whose content stream shows `text` byte for byte (reportlab would replace control bytes)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    page = w.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): w._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET")
    page[NameObject("/Contents")] = w._add_object(stream)
    w.write(path)


def rehash(root: Path) -> None:
    """Put the documents' current sha256 into the manifest (in document order)."""
    text = (root / "package.toml").read_text("utf-8")
    digests = iter([sha256(root / "service-description.pdf"), sha256(root / "registration-form.pdf")])
    text = re.sub(r'(?m)^sha256 = "[0-9a-f]{64}"', lambda _m: f'sha256 = "{next(digests)}"', text)
    (root / "package.toml").write_text(text, "utf-8")
