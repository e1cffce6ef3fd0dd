"""Extract an untrusted zip archive safely, or refuse with one line saying why.

Refused: absolute paths, `..`, symlinks, device files and other non-regular members, encrypted members,
duplicate names, more than `max_files` members, more than `max_total` bytes uncompressed, and a
compression ratio above `max_ratio` (zip bombs). Every member is checked from the central directory
before a single byte is written, and the bytes actually written are counted again while extracting.
Memory stays flat: members are copied in chunks.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from supportctl.errors import InvalidInputError
from supportctl.i18n import _

CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_files: int = 1000
    max_total: int = 2 << 30  # 2 GiB uncompressed
    max_ratio: int = 100
    # Tiny members compress extremely well without being bombs; the ratio only counts above this.
    ratio_floor: int = 1 << 20


def _refuse(archive: Path, problem: str) -> InvalidInputError:
    return InvalidInputError(
        _("refusing to extract {archive}: {problem}").format(archive=archive, problem=problem),
        _("the package is damaged or not genuine; fetch it again or ask the registration desk for it"),
    )


def member_path(name: str) -> PurePosixPath | None:
    """The safe relative path of a member name, or None when it escapes the target directory."""
    if "\x00" in name:
        return None
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return None
    parts = [p for p in normalised.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


def check(archive: Path, zf: zipfile.ZipFile, limits: Limits) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Validate every member from the central directory; return the members to extract."""
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise _refuse(
            archive,
            _("it has {n} members, more than the limit of {limit}").format(n=len(infos), limit=limits.max_files),
        )
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    seen: set[str] = set()
    total = 0
    compressed = 0
    for info in infos:
        path = member_path(info.filename)
        if path is None:
            if info.filename.replace("\\", "/").startswith("/") or (len(info.filename) > 1 and info.filename[1] == ":"):
                raise _refuse(archive, _("member {name!r} has an absolute path").format(name=info.filename))
            raise _refuse(archive, _("member {name!r} points outside the package").format(name=info.filename))
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise _refuse(archive, _("member {name!r} is a symbolic link").format(name=info.filename))
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse(archive, _("member {name!r} is a device or special file").format(name=info.filename))
        if info.flag_bits & 0x1:
            raise _refuse(archive, _("member {name!r} is encrypted").format(name=info.filename))
        key = str(path).lower()
        if key in seen:
            raise _refuse(archive, _("member {name!r} appears twice").format(name=info.filename))
        seen.add(key)
        if info.is_dir() or kind == stat.S_IFDIR:
            continue
        total += info.file_size
        compressed += info.compress_size
        if total > limits.max_total:
            raise _refuse(
                archive,
                _("it unpacks to more than {limit} bytes").format(limit=limits.max_total),
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _refuse(
                archive,
                _("member {name!r} is compressed more than {ratio}:1 (a zip bomb?)").format(
                    name=info.filename, ratio=limits.max_ratio
                ),
            )
        plan.append((info, path))
    if total > limits.ratio_floor and total > limits.max_ratio * max(compressed, 1):
        raise _refuse(archive, _("it is compressed more than {ratio}:1 (a zip bomb?)").format(ratio=limits.max_ratio))
    return plan


def extract(
    archive: Path,
    target: Path,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Extract `archive` into the existing, empty directory `target` (which the caller cleans up on failure).

    Returns the sha256 of every extracted file by its relative POSIX path, computed while writing, so the
    caller need not read the files again to check them.
    """
    limits = limits or Limits()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise InvalidInputError(
            _("{archive} is not a zip archive").format(archive=archive),
            _("a document package is a directory or a .zip; check the source"),
        ) from None
    with zf:
        plan = check(archive, zf, limits)
        grand_total = sum(i.file_size for i, _p in plan)
        written_total = 0
        digests: dict[str, str] = {}
        for info, rel in plan:
            dest = target.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            h = hashlib.sha256()
            try:
                # "xb": never follow or overwrite anything already there.
                with zf.open(info) as src, open(dest, "xb") as fh:
                    while chunk := src.read(CHUNK):
                        written += len(chunk)
                        written_total += len(chunk)
                        if written > info.file_size or written_total > limits.max_total:
                            raise _refuse(
                                archive, _("member {name!r} is larger than declared").format(name=info.filename)
                            )
                        h.update(chunk)
                        fh.write(chunk)
                        if progress:
                            progress(written_total, grand_total)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, zlib.error) as exc:
                raise _refuse(
                    archive, _("member {name!r} cannot be read: {reason}").format(name=info.filename, reason=exc)
                ) from None
            except OSError as exc:
                if isinstance(exc, FileExistsError):
                    raise _refuse(archive, _("member {name!r} appears twice").format(name=info.filename)) from None
                raise
            digests[str(rel)] = h.hexdigest()
    return digests
