"""Get a document package into a directory: download or copy, verify, extract, swap into place.

Sources: nothing (the configured `package_url`, else the bundled package, no network), an `https://` or
`http://` URL of a zip, a local directory, or a local zip. Everything happens in a temporary directory
beside the destination; the destination is replaced (two renames) only once the package is complete and
every hash checked, so a failed fetch leaves the previous package untouched and no partial files.
Downloads are streamed in chunks (memory stays flat) and hashed while they stream.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from supportctl.errors import ExitCode, InvalidInputError, SupportctlError, TransferError, UsageError, os_reason
from supportctl.fsutil import atomic_write_text, check_name, inside, open_regular
from supportctl.i18n import _
from supportctl.package import manifest as pkgmod
from supportctl.package import transfer, transfer_errors, urlauth
from supportctl.package.urlauth import PasswordSource, redact

if TYPE_CHECKING:
    from supportctl.package.printing import Job

MAX_REDIRECTS = 5
MARKER = ".supportctl-package"
SOURCE_RECORD = ".supportctl-source.json"  # where a downloaded package came from, and its validators
KEEP_FOR_FALLBACK = 4 << 20  # bytes kept in memory while unpacking streams, so a fallback needs no 2nd GET
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
    force_download: bool = False  # no conditional request: download even if the server says unchanged
    username: str | None = None  # fetch.username: sent over https when the server asks (401)
    password: PasswordSource | None = field(default=None, repr=False)  # (user, host) -> password


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
    unchanged: bool = False  # the server answered 304: nothing downloaded, nothing rewritten
    resumed: int = 0  # how often a broken-off download was resumed
    printed: tuple[Job, ...] = field(default=())  # `fetch --print`: the jobs sent (`print_documents`)
    print_error: SupportctlError | None = None  # `fetch --print`: why printing failed (the fetch itself worked)

    @property
    def exit_code(self) -> ExitCode:
        return self.print_error.exit_code if self.print_error is not None else ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        """The data of `fetch --json`; `errors()` is its errors."""
        return {
            "dest": str(self.dest),
            "source": self.source,
            "kind": self.kind,
            "package": {"name": self.name, "version": self.version},
            "bytes": self.bytes,
            "sha256": self.sha256,
            "documents": list(self.documents),
            "warnings": list(self.warnings),
            "unchanged": self.unchanged,
            "resumed": self.resumed,
            "printed": [j.to_dict() for j in self.printed],
        }

    def errors(self) -> list[dict[str, Any]]:
        return [self.print_error.to_dict()] if self.print_error is not None else []

    def notes(self, text: bool = True) -> list[str]:
        """What is said (stderr) as soon as the download is done: the warnings, that nothing was downloaded
        (`text` only: --json has `unchanged`) and how often it was resumed."""
        notes = [_("warning: {message}").format(message=w) for w in self.warnings]
        if self.unchanged and text:
            notes.append(
                _("Package {name} {version} in {dest} is unchanged on the server; nothing was downloaded").format(
                    name=self.name, version=self.version, dest=self.dest
                )
            )
        if self.resumed:
            notes.append(_("The download broke off and was resumed ({n} times)").format(n=self.resumed))
        return notes

    def lines(self) -> list[str]:
        """`fetch`'s report for the person, before the table of documents (unchanged: said by `notes`)."""
        if self.unchanged:
            return []
        fetched = _("Fetched package {name} {version} into {dest}")
        return [fetched.format(name=self.name, version=self.version, dest=self.dest)]

    def documents_table(self) -> tuple[None, list[str], list[list[str]]]:
        """The package's documents for the person: the table's title (none), columns and rows."""
        return None, [_("Document"), _("File")], [[d["id"], d["file"]] for d in self.documents]

    def closing_lines(self, text: bool = True) -> list[str]:
        """After the table: the jobs `--print` sent (`text`), then why printing failed, else (`text`) what next."""
        from supportctl.output import error_line

        sent = _("Sent {file} to the printer ({job})")
        lines = [sent.format(file=j.item.file, job=j.job or j.state) for j in self.printed] if text else []
        if self.print_error is not None:
            lines.append(error_line(self.print_error.message, self.print_error.hint))
        elif text:
            lines.append(
                _(
                    "Next: read `supportctl show service-description` and `supportctl show terms`, "
                    "then `supportctl fill`."
                )
            )
        return lines


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def options_from(
    cfg: Any, *, sha256: str | None, force: bool, force_download: bool, prompt: Any = None
) -> FetchOptions:
    """The download's options from the resolved `fetch.*` settings. A password for the server is looked for
    only when it asks (401): `fetch.password_command`, the keyring, then `prompt` (a file holding one is refused)."""
    from supportctl import config
    from supportctl.mail import credentials

    credentials.refuse_secrets_in_file(config.read_file(cfg.path), cfg.path)
    settings = {k: r.value for k, r in cfg.values.items() if k.startswith("fetch.")}

    def password(user: str, host: str) -> str:
        return credentials.password_for(user, host, settings, credentials.FETCH_SECRETS, prompt=prompt).value

    return FetchOptions(
        dest=Path(cfg.get("fetch.dest")),
        sha256=sha256,
        max_size=parse_size(cfg.get("fetch.max_size")),
        force=force,
        ca_bundle=cfg.get("fetch.ca_bundle"),
        timeout=float(cfg.get("fetch.timeout")),
        deadline=float(cfg.get("fetch.deadline")),
        force_download=force_download,
        username=cfg.get("fetch.username"),
        password=password,
    )


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


# ---------------------------------------------------------------- the fetch


def fetch(
    source: str | None, opts: FetchOptions, package_url: str | None = None, progress: Progress | None = None
) -> FetchResult:
    """Fetch `source` (see the module docstring) into `opts.dest` and record it as the last fetched package."""
    if opts.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", opts.sha256):
        raise UsageError(_("--sha256 must be 64 hexadecimal digits"))
    dest = Path(os.path.abspath(opts.dest.expanduser()))
    src = source or package_url
    if src is not None and re.match(r"^https?://", src.strip(), re.IGNORECASE):
        src = src.strip()  # pasted with a space or a non-breaking space around it
    login = None
    if src is not None and re.match(r"^https?://", src, re.IGNORECASE):
        login = urlauth.login_for(src, opts.username, opts.password)  # http with a password: exit 2
    _check_destination(dest, opts.force)
    # The work directory's name is chosen first and removed by name: a signal that arrives while it is being
    # created (before `work` is assigned) must not leave it behind.
    prefix = f".{dest.name}.{secrets.token_hex(4)}."
    warnings: list[str] = []
    try:
        work = _make_workdir(dest, prefix)
        unpacked = work / "package"
        unpacked.mkdir()
        digest: str | None = None
        known: dict[str, str] = {}
        resumed = 0
        size = 0
        record: dict[str, Any] | None = None
        if src is None:
            kind, shown = "bundled", str(pkgmod.bundled_root())
            _copy_package(pkgmod.bundled_root(), unpacked, opts.max_size)
            if opts.sha256:
                warnings.append(_("--sha256 is ignored for the bundled package"))
        elif re.match(r"^https?://", src, re.IGNORECASE):
            kind, shown = "url", redact(src)
            if src.lower().startswith("http://"):
                warnings.append(_("{url} is plain http: anyone on the way can read or alter it").format(url=shown))
            previous = None if opts.force_download else _unchanged_candidate(dest, shown, opts.sha256)
            got = _download_package(src, work, unpacked, opts, progress, login, previous)
            if got is None:
                assert previous is not None
                return _unchanged(dest, shown, previous, warnings)
            size, digest, known, validators, resumed = got
            record = {
                "url": shown,
                "etag": validators.etag,
                "last_modified": validators.last_modified,
                "sha256": digest,
                "bytes": size,
            }
        elif "://" in src:
            raise UsageError(
                _("cannot fetch {source}: only https://, http://, a directory or a .zip are supported").format(
                    source=redact(src)
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
        if kind in ("bundled", "directory"):
            size = sum(f.stat().st_size for f in unpacked.rglob("*") if f.is_file())  # what was copied
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
        if record is not None:
            _write(root / SOURCE_RECORD, json.dumps(record, indent=1) + "\n")
        # Never delete what supportctl did not write: a replaced destination holding anything else is moved
        # aside, beside it, instead of into the work directory that is removed below.
        kept = _aside_path(dest) if _holds_foreign(dest) else None
        _swap_into_place(root, dest, work, kept)
        if kept is not None:
            warnings.append(
                _("the files that were in {dest} and not written by supportctl are now in {kept}").format(
                    dest=dest, kept=kept
                )
            )
        _record_last(dest, warnings)
        docs = tuple({"id": d.id, "file": str(dest / d.file), "sha256": d.sha256} for d in pkg.documents)
        return FetchResult(
            dest, shown, kind, pkg.name, pkg.version, size, digest, docs, tuple(warnings), resumed=resumed
        )
    finally:
        for left in dest.parent.glob(glob.escape(prefix) + "*.partial"):
            shutil.rmtree(left, ignore_errors=True)


def print_documents(result: FetchResult, configured: str | None, configured_source: str) -> FetchResult:
    """`fetch --print`: the fetched package's printable documents sent to the printer, without waiting.

    A printing error does not undo the fetch: it is kept in the result (`print_error`), to be said after it."""
    from supportctl.package import printing

    pkg = pkgmod.load(result.dest)
    try:
        printed = printing.print_items(printing.select(pkg, []), configured, configured_source, wait=0)
    except SupportctlError as exc:
        return dataclasses.replace(result, print_error=exc)
    return dataclasses.replace(result, printed=tuple(printed.jobs))


def _record_last(dest: Path, warnings: list[str]) -> None:
    record = pkgmod.last_fetched_record()
    try:
        if record.is_file() and record.read_text("utf-8").strip() == str(dest):
            return  # nothing to rewrite
        atomic_write_text(record, str(dest) + "\n")
    except OSError as exc:
        warnings.append(
            _("cannot record the last fetched package in {path}: {reason}").format(
                path=record, reason=exc.strerror or exc
            )
        )


def _unchanged_candidate(dest: Path, shown: str, sha256: str | None) -> dict[str, Any] | None:
    """The record of the package in `dest` if it came from the same address and is intact: then a
    conditional request may leave it as it is."""
    try:
        record = json.loads((dest / SOURCE_RECORD).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("url") != shown or not (dest / MARKER).is_file():
        return None
    if not (record.get("etag") or record.get("last_modified")):
        return None
    if sha256 and str(record.get("sha256", "")).lower() != sha256.lower():
        return None  # a different package is asked for: download it
    try:
        pkgmod.verify_documents(pkgmod.load(dest, cache=False))
    except SupportctlError:
        return None  # damaged or edited since: download it again
    return record


def _unchanged(dest: Path, shown: str, record: dict[str, Any], warnings: list[str]) -> FetchResult:
    pkg = pkgmod.load(dest, cache=False)
    _record_last(dest, warnings)
    docs = tuple({"id": d.id, "file": str(dest / d.file), "sha256": d.sha256} for d in pkg.documents)
    size = record.get("bytes")
    return FetchResult(
        dest,
        shown,
        "url",
        pkg.name,
        pkg.version,
        size if isinstance(size, int) else 0,
        str(record.get("sha256") or "") or None,
        docs,
        tuple(warnings),
        unchanged=True,
    )


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
            _("choose another place with --dest DIR, or use --force to move it aside (nothing is deleted)"),
        )


def _written_by_fetch(old: Path) -> set[Path]:
    """The files a previous fetch put into `old`: its marker, manifest and the documents that manifest lists."""
    if not (old / MARKER).is_file():
        return set()
    mine = {old / MARKER, old / SOURCE_RECORD, old / pkgmod.MANIFEST}
    try:
        pkg = pkgmod.load(old, cache=False)
    except SupportctlError:
        return mine
    return mine | {old / d.file for d in pkg.documents}


def _holds_foreign(dest: Path) -> bool:
    """Whether `dest` exists and holds anything a fetch did not write (or is not a directory at all)."""
    if not dest.exists() and not dest.is_symlink():
        return False
    if dest.is_symlink() or not dest.is_dir():
        return True
    mine = _written_by_fetch(dest)
    return any(not p.is_dir() and p not in mine for p in dest.rglob("*"))


def _aside_path(dest: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside = dest.with_name(f"{dest.name}.replaced-{stamp}")
    n = 1
    while aside.exists() or aside.is_symlink():
        n += 1
        aside = dest.with_name(f"{dest.name}.replaced-{stamp}-{n}")
    return aside


def _make_workdir(dest: Path, prefix: str) -> Path:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=dest.parent))
    except OSError as exc:
        raise _not_writable(dest, exc) from None


def _swap_into_place(root: Path, dest: Path, work: Path, keep: Path | None = None) -> None:
    """Replace `dest` by `root` with renames on one file system: old package out (to `keep`, else into `work`,
    which is removed), new one in."""
    old = keep or work / "previous"
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
                while chunk := fh.read(1 << 20):
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
    return transfer_errors.too_large(source, size, limit)


# ---------------------------------------------------------------- download


class _Spool:
    """The sink of a download: unpacks while it streams, and keeps the first bytes in memory. When the
    archive turns out not to be streamable within them, those bytes and the rest go to a file instead,
    so the same response finishes the job (a body that is not a zip is never requested twice)."""

    def __init__(self, extractor: Any, path: Path) -> None:
        self.extractor = extractor
        self.path = path
        self.kept: bytearray | None = bytearray()
        self.file: Any = None
        self.spooled = False

    def __call__(self, chunk: bytes) -> None:
        from supportctl.package.zipstream import NotStreamable

        if self.file is not None:
            self.file.write(chunk)
            return
        if self.kept is not None:
            self.kept += chunk
            if len(self.kept) > KEEP_FOR_FALLBACK:
                self.kept = None
        try:
            self.extractor.feed(chunk)
        except NotStreamable:
            if self.kept is None:
                raise  # too far in to have the start: download again into a file
            self.file = open(self.path, "xb")  # closed in close()
            self.file.write(self.kept)
            self.kept = None
            self.spooled = True

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _download_package(
    url: str,
    work: Path,
    unpacked: Path,
    opts: FetchOptions,
    progress: Progress | None,
    login: urlauth.Login | None,
    previous: dict[str, Any] | None,
) -> tuple[int, str, dict[str, str], transfer.Validators, int] | None:
    """Download and unpack into `unpacked`; returns (bytes, sha256 of the zip, sha256 of each file,
    the server's validators, resumptions), or None when the server says the package is unchanged.

    The zip is unpacked while it streams (written once). A zip that needs random access is written to a
    file and unpacked from there; only one that reveals this after the first few MB is downloaded again.
    """
    from supportctl.package import zipstream

    shown = redact(url)
    conditional = None
    if previous is not None:
        conditional = transfer.Validators(previous.get("etag"), previous.get("last_modified"))
    req = transfer.Request(
        url,
        timeout=opts.timeout,
        deadline=opts.deadline,
        max_size=opts.max_size,
        max_redirects=opts.max_redirects,
        ca_bundle=opts.ca_bundle,
        login=login,
        conditional=conditional,
    )
    extractor = zipstream.StreamExtractor(unpacked, shown)
    archive = work / "download.zip"
    spool = _Spool(extractor, archive)
    try:
        outcome = transfer.get(req, spool, unpacked, progress)
        if outcome.unchanged:
            return None
        _check_digest(shown, outcome.sha256, opts.sha256)
        if not spool.spooled:
            known = extractor.finish(work / "index.zip")
            return outcome.bytes, outcome.sha256, known, outcome.validators, outcome.resumed
    except zipstream.NotStreamable:
        outcome = None
    finally:
        spool.close()
        extractor.close()
    shutil.rmtree(unpacked)
    unpacked.mkdir()
    if outcome is None:  # not streamable, found too late to have its start: once more, into a file
        archive.unlink(missing_ok=True)
        with open(archive, "xb") as fh:
            outcome = transfer.get(dataclasses.replace(req, conditional=None), fh.write, work, progress)
        _check_digest(shown, outcome.sha256, opts.sha256)
    known = _relabelled(lambda: _extract(archive, unpacked), {str(archive): shown})
    return outcome.bytes, outcome.sha256, known, outcome.validators, outcome.resumed


def write_eml(msg: EmailMessage, path: Path) -> None:
    from supportctl.fsutil import atomic_write

    try:
        atomic_write(path, bytes(msg))
    except OSError as exc:
        raise SupportctlError(
            _("cannot write {path}: {reason}").format(path=path, reason=os_reason(exc)),
            _("choose another file with --eml FILE"),
        ) from None
