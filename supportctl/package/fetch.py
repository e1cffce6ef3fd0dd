"""Get a document package into a directory: download or copy, verify, extract, swap into place.

Sources: nothing (the configured `package_url`, else the bundled package, no network), an `https://` or
`http://` URL of a zip, a local directory, or a local zip. Everything happens in a temporary directory
beside the destination; the destination is replaced (two renames) only once the package is complete and
every hash checked, so a failed fetch leaves the previous package untouched and no partial files.
Downloads are streamed in chunks (memory stays flat) and hashed while they stream.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from supportctl.errors import InvalidInputError, SupportctlError, TransferError, UsageError
from supportctl.fsutil import atomic_write_text, check_name, inside, open_regular
from supportctl.i18n import _
from supportctl.package import manifest as pkgmod

CHUNK = 1 << 20
MAX_REDIRECTS = 5
MARKER = ".supportctl-package"
DEFAULT_MAX_SIZE = 100 * 1000 * 1000

Progress = Callable[[int, "int | None"], None]
_T = TypeVar("_T")


@dataclass(frozen=True)
class FetchOptions:
    dest: Path
    sha256: str | None = None
    max_size: int = DEFAULT_MAX_SIZE
    force: bool = False
    ca_bundle: str | None = None
    timeout: float = 30.0
    deadline: float = 600.0  # the whole download, however slowly a server drips data or headers
    max_redirects: int = MAX_REDIRECTS


@dataclass(frozen=True)
class FetchResult:
    dest: Path
    source: str
    kind: str  # "bundled" | "url" | "directory" | "zip"
    name: str
    version: str
    bytes: int
    sha256: str | None  # of the downloaded or given zip
    documents: tuple[dict[str, str], ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "dest": str(self.dest),
            "source": self.source,
            "kind": self.kind,
            "package": {"name": self.name, "version": self.version},
            "bytes": self.bytes,
            "sha256": self.sha256,
            "documents": list(self.documents),
            "warnings": list(self.warnings),
        }


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_size(text: str) -> int:
    """`100MB` -> 100_000_000, `1.5GiB` -> 1_610_612_736, `4096` -> 4096."""
    m = _SIZE_RE.match(text)
    if not m:
        raise UsageError(_("cannot read the size {text!r}").format(text=text), _("write it like 100MB, 1.5GiB or 4096"))
    unit = (m.group(2) or "").lower()
    prefix = unit[0] if unit and unit[0] in "kmgt" else ""
    if unit and not prefix and unit != "b":
        raise UsageError(_("cannot read the size {text!r}").format(text=text), _("write it like 100MB, 1.5GiB or 4096"))
    base = 1024 ** ("kmgt".index(prefix) + 1) if prefix and "i" in unit else _UNITS[prefix]
    return int(float(m.group(1)) * base)


def _fallback_hint() -> str:
    return _(
        "check the address and your connection and try again, or ask the registration desk to e-mail the "
        "package: supportctl fetch --request"
    )


def _transfer(message: str) -> TransferError:
    return TransferError(message, _fallback_hint())


# ---------------------------------------------------------------- the fetch


def fetch(
    source: str | None, opts: FetchOptions, package_url: str | None = None, progress: Progress | None = None
) -> FetchResult:
    """Fetch `source` (see the module docstring) into `opts.dest` and record it as the last fetched package."""
    if opts.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", opts.sha256):
        raise UsageError(_("--sha256 must be 64 hexadecimal digits"))
    dest = Path(os.path.abspath(opts.dest.expanduser()))
    _check_destination(dest, opts.force)
    work = _make_workdir(dest)
    warnings: list[str] = []
    try:
        unpacked = work / "package"
        unpacked.mkdir()
        digest: str | None = None
        known: dict[str, str] = {}
        size = 0
        src = source or package_url
        if src is None:
            kind, shown = "bundled", str(pkgmod.bundled_root())
            _copy_package(pkgmod.bundled_root(), unpacked, opts.max_size)
            if opts.sha256:
                warnings.append(_("--sha256 is ignored for the bundled package"))
        elif re.match(r"^https?://", src, re.IGNORECASE):
            kind, shown = "url", src
            if src.lower().startswith("http://"):
                warnings.append(_("{url} is plain http: anyone on the way can read or alter it").format(url=src))
            size, digest, known = _download_package(src, work, unpacked, opts, progress)
        elif "://" in src:
            raise UsageError(
                _("cannot fetch {source}: only https://, http://, a directory or a .zip are supported").format(
                    source=src
                )
            )
        else:
            local = Path(src).expanduser()
            check_name(local, UsageError)
            if local.is_dir():
                kind, shown = "directory", str(local)
                _copy_package(local, unpacked, opts.max_size)
                if opts.sha256:
                    warnings.append(_("--sha256 is ignored for a directory"))
            elif local.is_file():
                kind, shown = "zip", str(local)
                size = local.stat().st_size
                if size > opts.max_size:
                    raise _too_large(str(local), size, opts.max_size)
                digest = pkgmod.file_sha256(local)
                _check_digest(str(local), digest, opts.sha256)
                known = _extract(local, unpacked)
            elif local.exists():
                raise InvalidInputError(
                    _("{source} is not a regular file (a FIFO or device); refusing to read it").format(source=src),
                    _("give a URL, a package directory or a .zip"),
                )
            else:
                raise InvalidInputError(
                    _("{source} does not exist").format(source=src),
                    _("give a URL, a package directory or a .zip"),
                )
        root = pkgmod.package_root(unpacked)
        # No manifest cache entry for a temporary directory: it would outlive the directory.
        pkg = _relabelled(lambda: pkgmod.load(root, cache=False), {str(root): shown})
        prefix = root.relative_to(unpacked).as_posix()
        _relabelled(lambda: pkgmod.verify_documents(pkg, pkgmod.under(known, prefix)), {str(root): shown})
        root, ignored = _only_listed(root, pkg, work / "listed")
        if ignored:
            more = len(ignored) - 5
            warnings.append(
                _("ignored {n} file(s) the manifest does not list (not copied): {names}").format(
                    n=len(ignored),
                    names=", ".join(ignored[:5]) + (_(" and {more} more").format(more=more) if more > 0 else ""),
                )
            )
        _write(root / MARKER, pkg.name + " " + pkg.version + "\n")
        _swap_into_place(root, dest, work)
        record = pkgmod.last_fetched_record()
        try:
            atomic_write_text(record, str(dest) + "\n")
        except OSError as exc:
            warnings.append(
                _("cannot record the last fetched package in {path}: {reason}").format(
                    path=record, reason=exc.strerror or exc
                )
            )
        docs = tuple({"id": d.id, "file": str(dest / d.file), "sha256": d.sha256} for d in pkg.documents)
        return FetchResult(dest, shown, kind, pkg.name, pkg.version, size, digest, docs, tuple(warnings))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _relabelled(step: Callable[[], _T], names: dict[str, str]) -> _T:
    """Run `step`; errors name the source the user gave, not our temporary directory."""
    try:
        return step()
    except InvalidInputError as exc:
        message = exc.message
        for temp, shown in names.items():
            message = message.replace(temp + os.sep, shown + " » ").replace(temp, shown)
        raise InvalidInputError(message, exc.hint) from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, "utf-8")
    except OSError as exc:
        raise _not_writable(path.parent, exc) from None


def _not_writable(path: Path, exc: OSError) -> SupportctlError:
    return SupportctlError(
        _("cannot write the package to {path}: {reason}").format(path=path, reason=exc.strerror or exc),
        _("choose another place with --dest DIR"),
    )


def _check_destination(dest: Path, force: bool) -> None:
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_dir() and not dest.is_symlink() and ((dest / MARKER).exists() or not any(dest.iterdir())):
        return
    if not force:
        raise SupportctlError(
            _("{path} exists and is not a package written by supportctl fetch").format(path=dest),
            _("use --force to replace it, or choose another place with --dest DIR"),
        )


def _make_workdir(dest: Path) -> Path:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    except OSError as exc:
        raise _not_writable(dest, exc) from None


def _swap_into_place(root: Path, dest: Path, work: Path) -> None:
    """Replace `dest` by `root` with renames on one file system: old package out, new one in, old removed."""
    old = work / "previous"
    moved_old = False
    try:
        if dest.exists() or dest.is_symlink():
            os.rename(dest, old)
            moved_old = True
        os.rename(root, dest)
    except OSError as exc:
        if moved_old:
            try:
                os.rename(old, dest)
            except OSError:
                pass
        raise _not_writable(dest, exc) from None


def _only_listed(root: Path, pkg: pkgmod.Package, clean: Path) -> tuple[Path, list[str]]:
    """Move the manifest and its documents from `root` into the new directory `clean`.

    Returns `clean` and the files left behind (members of the zip the manifest does not list, such as a
    `.bashrc` or a `run.sh`): they are never copied into the destination.
    """
    clean.mkdir()
    for rel in [pkgmod.MANIFEST, *(d.file for d in pkg.documents)]:
        target = clean / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(root / rel, target)
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir() or p.is_symlink())
    return clean, left


def _copy_package(src: Path, target: Path, limit: int) -> None:
    """Copy a package directory: the manifest and the documents it lists, nothing else.

    Each must be a regular file inside the package (no link out of it, no FIFO or device), and together at
    most `limit` bytes.
    """
    pkg = pkgmod.load(src)
    copied = 0
    for rel in [pkgmod.MANIFEST, *(d.file for d in pkg.documents)]:
        s = inside(src, rel)
        t = target / rel
        t.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open_regular(s) as fh, open(t, "xb") as out:
                while chunk := fh.read(CHUNK):
                    copied += len(chunk)
                    if copied > limit:
                        raise _too_large(str(src), copied, limit)
                    out.write(chunk)
        except FileNotFoundError:
            raise InvalidInputError(
                _("document {file} is missing from the package {path}").format(file=rel, path=src),
                _("fetch the package again or ask the registration desk for it: supportctl fetch --request"),
            ) from None


def _extract(archive: Path, target: Path) -> dict[str, str]:
    from supportctl.package import safezip

    return safezip.extract(archive, target)


def _check_digest(source: str, actual: str, expected: str | None) -> None:
    if expected and actual != expected.lower():
        raise InvalidInputError(
            _("{source} does not match --sha256: expected {expected}, got {actual}").format(
                source=source, expected=expected.lower(), actual=actual
            ),
            _("the file is damaged or not the one you expect; check the checksum or fetch it again"),
        )


def _too_large(source: str, size: int, limit: int) -> TransferError:
    return TransferError(
        _("{source} is larger than the limit of {limit} bytes ({size} bytes or more)").format(
            source=source, limit=limit, size=size
        ),
        _(
            "raise the limit with --max-size if you trust the source, "
            "or ask for the package: supportctl fetch --request"
        ),
    )


# ---------------------------------------------------------------- download


def _download_package(
    url: str, work: Path, unpacked: Path, opts: FetchOptions, progress: Progress | None
) -> tuple[int, str, dict[str, str]]:
    """Download and unpack into `unpacked`; returns (bytes, sha256 of the zip, sha256 of each file).

    The zip is unpacked while it streams (written once). A zip that needs random access is downloaded
    again into a file and unpacked from there.
    """
    from supportctl.package import zipstream

    extractor = zipstream.StreamExtractor(unpacked, url)
    try:
        size, digest = download(url, extractor.feed, unpacked, opts, progress)
        _check_digest(url, digest, opts.sha256)
        return size, digest, extractor.finish(work / "index.zip")
    except zipstream.NotStreamable:
        pass
    finally:
        extractor.close()
    shutil.rmtree(unpacked)
    unpacked.mkdir()
    archive = work / "download.zip"
    with open(archive, "xb") as fh:
        size, digest = download(url, fh.write, archive.parent, opts, progress)
    _check_digest(url, digest, opts.sha256)
    known = _relabelled(lambda: _extract(archive, unpacked), {str(archive): url})
    return size, digest, known


def download(
    url: str, sink: Callable[[bytes], object], where: Path, opts: FetchOptions, progress: Progress | None = None
) -> tuple[int, str]:
    """Stream `url` into `sink` chunk by chunk, hashing as it goes. Returns (bytes, sha256 hex).

    `where` is the directory the sink writes to, named when writing fails.
    """
    import ssl
    import urllib.error
    import urllib.request

    cafile = opts.ca_bundle or os.environ.get("SSL_CERT_FILE") or None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            _("cannot read the CA bundle {path}: {reason}").format(
                path=cafile, reason=getattr(exc, "strerror", None) or exc
            )
        ) from None

    limit = opts.max_redirects

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = limit
        max_repeats = limit

        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if req.full_url.lower().startswith("https://") and not newurl.lower().startswith("https://"):
                raise _transfer(
                    _("{url} redirects from https to an insecure address {new}; refusing").format(url=url, new=newurl)
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    watchdog = _Watchdog(opts.deadline)
    # build_opener keeps the ProxyHandler, which honours http_proxy/https_proxy/no_proxy.
    opener = urllib.request.build_opener(watchdog.https_handler(context), watchdog.http_handler(), Redirects())
    request = urllib.request.Request(url, headers={"User-Agent": "supportctl", "Accept-Encoding": "identity"})
    from supportctl.package.zipstream import BackgroundHash

    h = BackgroundHash()
    watchdog.start()
    try:
        return _download(url, opener, request, sink, where, opts, progress, h, watchdog)
    except TransferError:
        if watchdog.expired:
            raise watchdog.error(url) from None
        raise
    finally:
        watchdog.cancel()
        h.close()


def _download(
    url: str,
    opener: Any,
    request: Any,
    sink: Callable[[bytes], object],
    where: Path,
    opts: FetchOptions,
    progress: Progress | None,
    h: Any,
    watchdog: _Watchdog,
) -> tuple[int, str]:
    import http.client
    import ssl
    import urllib.error

    limit = opts.max_redirects
    done = 0
    try:
        with opener.open(request, timeout=opts.timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > opts.max_size:
                raise _too_large(url, total, opts.max_size)
            while chunk := resp.read1(CHUNK):
                done += len(chunk)
                if done > opts.max_size:
                    raise _too_large(url, done, opts.max_size)
                h.update(chunk)
                try:
                    sink(chunk)
                except OSError as exc:
                    raise _not_writable(where, exc) from None
                if progress:
                    progress(done, total)
            if total is not None and done < total:
                raise http.client.IncompleteRead(b"", total - done)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise _transfer(
                _("download of {url} failed: more than {n} redirects (a redirect loop?)").format(url=url, n=limit)
            ) from None
        raise _transfer(
            _("download of {url} failed: the server answered {code} {reason}").format(
                url=url, code=exc.code, reason=exc.reason
            )
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise TransferError(
                _("download of {url} failed: the server's certificate could not be verified ({reason})").format(
                    url=url, reason=reason.verify_message or reason
                ),
                _(
                    "if your network uses its own CA, pass it with --ca-bundle FILE or SSL_CERT_FILE; "
                    "otherwise ask for the package: supportctl fetch --request"
                ),
            ) from None
        if isinstance(reason, TimeoutError):
            raise _transfer(
                _("download of {url} failed: no answer within {seconds} s").format(url=url, seconds=f"{opts.timeout:g}")
            ) from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise _transfer(_("download of {url} failed: {reason}").format(url=url, reason=text)) from None
    except http.client.IncompleteRead as exc:
        expected = done + (exc.expected or 0)
        raise _transfer(
            _("download of {url} broke off: received {done} of {total} bytes").format(
                url=url, done=done, total=expected
            )
        ) from None
    except TimeoutError:
        raise _transfer(
            _("download of {url} stalled: no data for {seconds} s after {done} bytes").format(
                url=url, seconds=f"{opts.timeout:g}", done=done
            )
        ) from None
    except (ConnectionError, http.client.HTTPException, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise _transfer(
            _("download of {url} broke off after {done} bytes: {reason}").format(url=url, done=done, reason=reason)
        ) from None
    except OSError as exc:
        raise _transfer(_("download of {url} failed: {reason}").format(url=url, reason=exc.strerror or exc)) from None
    if watchdog.expired:  # the watchdog closed the connection: an end of data that is not the end of the file
        raise watchdog.error(url)
    h.close()
    return done, h.hexdigest()


class _Watchdog:
    """The total deadline of a download. `--timeout` bounds each connect and read, so a server sending one
    byte every few seconds, in the headers or the body, would never trip it; at the deadline this shuts the
    connection's socket down from a timer thread, which ends the blocked read at once.

    (A TLS handshake in progress is bounded by `--timeout` per read only: its socket is not reachable then.)
    """

    def __init__(self, seconds: float) -> None:
        import threading

        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._conns: list[Any] = []
        self._socks: list[Any] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        import socket

        with self._lock:
            self.expired = True
            # A connection's socket while it connects and reads headers; the response's socket while the body
            # streams (urllib drops `conn.sock` once it has the response, the response keeps the socket).
            for sock in [c.sock for c in self._conns] + self._socks:
                try:
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _watch(self, conn: Any = None, sock: Any = None) -> None:
        with self._lock:
            if conn is not None:
                self._conns.append(conn)
            if sock is not None:
                self._socks.append(sock)
        if self.expired:
            self._expire()

    def error(self, url: str) -> TransferError:
        return TransferError(
            _("download of {url} did not finish within {seconds} s").format(url=url, seconds=f"{self.seconds:g}"),
            _(
                "raise the limit with --deadline SECONDS (setting fetch.deadline) on a slow connection, or ask for "
                "the package: supportctl fetch --request"
            ),
        )

    def _connection_class(self, base: type) -> Any:
        import http.client

        dog = self

        class Watched(http.client.HTTPConnection):
            def connect(self) -> None:
                dog._watch(conn=self)
                super().connect()

            def getresponse(self) -> Any:
                # Taken before: getresponse() drops `self.sock` of a response that closes the connection.
                dog._watch(sock=self.sock)  # TLS-wrapped by now
                return super().getresponse()

        if base is http.client.HTTPConnection:
            return Watched
        # HTTPSConnection first: its connect() calls super().connect(), which is Watched's, then wraps TLS.
        return type("WatchedHTTPS", (base, Watched), {})

    def http_handler(self) -> Any:
        import urllib.request

        dog = self

        class Handler(urllib.request.HTTPHandler):
            def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
                return super().do_open(dog._connection_class(http_class), req, **kw)

        return Handler()

    def https_handler(self, context: Any) -> Any:
        import urllib.request

        dog = self

        class Handler(urllib.request.HTTPSHandler):
            def do_open(self, http_class: Any, req: Any, **kw: Any) -> Any:
                return super().do_open(dog._connection_class(http_class), req, **kw)

        return Handler(context=context)


# ---------------------------------------------------------------- the fallback: ask for the package by e-mail


def compose_request(pkg: pkgmod.Package, sender: str | None, membership_id: str | None) -> EmailMessage:
    """The request e-mail to the registration desk, in German and English. Ready for the outbox or a .eml."""
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    if sender:
        if "@" not in sender or any(c in sender for c in "\r\n"):
            raise UsageError(
                _("{address!r} is not an e-mail address").format(address=sender), _("give it like name@example.com")
            )
        try:
            msg["From"] = sender
        except (ValueError, IndexError):
            raise UsageError(
                _("{address!r} is not an e-mail address").format(address=sender), _("give it like name@example.com")
            ) from None
    if membership_id and any(c in membership_id for c in "\r\n"):
        membership_id = " ".join(membership_id.split())
    msg["To"] = pkg.process.request_address
    msg["Subject"] = "Bitte um die Registrierungsunterlagen / Request for the registration documents"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="supportctl.invalid")
    msg["X-Mailer"] = "supportctl"
    ident_de = f"\nMeine Mitglieds- bzw. Abonnement-ID: {membership_id}\n" if membership_id else ""
    ident_en = f"\nMy membership or subscription ID: {membership_id}\n" if membership_id else ""
    body = (
        "Sehr geehrte Damen und Herren,\n"
        "\n"
        "das Herunterladen des Dokumentenpakets für die Registrierung des Supportvertrags ist bei mir "
        "fehlgeschlagen. Bitte senden Sie mir die Leistungsbeschreibung, die Vertragsbedingungen und das "
        "Registrierungsformular per E-Mail an diese Adresse.\n"
        f"{ident_de}"
        "\n"
        "Vielen Dank und freundliche Grüße\n"
        "\n"
        "-- English --\n"
        "\n"
        "Dear registration desk,\n"
        "\n"
        "I could not download the document package for registering my support contract. Please e-mail me "
        "the service description, the terms and the registration form at this address.\n"
        f"{ident_en}"
        "\n"
        "Thank you and kind regards\n"
    )
    msg.set_content(body, charset="utf-8")
    return msg


def write_eml(msg: EmailMessage, path: Path) -> None:
    from supportctl.fsutil import atomic_write

    try:
        atomic_write(path, bytes(msg))
    except OSError as exc:
        raise SupportctlError(
            _("cannot write {path}: {reason}").format(path=path, reason=exc.strerror or exc),
            _("choose another file with --eml FILE"),
        ) from None
