"""Extract an untrusted zip archive safely, or refuse with one line saying why.

Refused: absolute paths, `..`, symlinks, device files and other non-regular members, encrypted members,
names with NUL or other control characters, names that collide after Unicode NFC normalisation and case
folding (or a file and a directory of one name), members whose data overlap (the overlap zip bomb: many
entries pointing into the same bytes), more than `max_files` members, more than `max_total` bytes
uncompressed, and a compression ratio above `max_ratio` (zip bombs), also measured against the archive's
real size. Every member is checked from the central directory before a single byte is written, and the
bytes actually written are counted again while extracting. Memory stays flat: members are copied in chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from supportctl.errors import InvalidInputError
from supportctl.i18n import _
from supportctl.output import has_unsafe

CHUNK = 1 << 20
_LOCAL = struct.Struct("<4sHHHHHIIIHH")


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


class Names:
    """Member names seen so far; refuses control characters, NFC/case-fold collisions, file-vs-directory."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.files: dict[str, str] = {}
        self.dirs: dict[str, str] = {}
        self.explicit: set[str] = set()

    @staticmethod
    def key(path: PurePosixPath) -> str:
        # NFC and NFD spellings of one name are one file on macOS, and case differs only on some systems.
        return unicodedata.normalize("NFC", str(path)).casefold()

    def add(self, raw: str, path: PurePosixPath, is_dir: bool) -> None:
        if has_unsafe(raw):
            raise _refuse(self.archive, _("member {name!r} has a control character in its name").format(name=raw))
        key = self.key(path)
        if key in self.files or key in self.explicit:
            raise _refuse(self.archive, _("member {name!r} appears twice").format(name=raw))
        for parent in (self.key(p) for p in path.parents if str(p) != "."):
            if parent in self.files:
                raise _refuse(
                    self.archive, _("member {name!r} is both a file and a directory").format(name=self.files[parent])
                )
            self.dirs.setdefault(parent, raw)
        if is_dir:
            self.explicit.add(key)
            self.dirs.setdefault(key, raw)
        elif key in self.dirs:
            raise _refuse(self.archive, _("member {name!r} is both a file and a directory").format(name=raw))
        else:
            self.files[key] = raw


def check_overlaps(archive: Path, zf: zipfile.ZipFile) -> None:
    """Refuse members whose local header and data overlap another's (read from the local headers)."""
    fp = zf.fp
    assert fp is not None
    spans = []
    for info in zf.infolist():
        fp.seek(info.header_offset)
        head = fp.read(_LOCAL.size)
        if len(head) < _LOCAL.size or head[:4] != b"PK\x03\x04":
            raise _refuse(archive, _("member {name!r} has no valid local header").format(name=info.filename))
        fields = _LOCAL.unpack(head)
        end = info.header_offset + _LOCAL.size + fields[9] + fields[10] + info.compress_size
        spans.append((info.header_offset, end, info.filename))
    spans.sort()
    for (_s1, end1, name1), (start2, _e2, name2) in itertools.pairwise(spans):
        if start2 < end1:
            raise _refuse(
                archive,
                _("members {first!r} and {second!r} overlap (a zip bomb?)").format(first=name1, second=name2),
            )
    start_dir = getattr(zf, "start_dir", None)
    if spans and isinstance(start_dir, int) and spans[-1][1] > start_dir:
        raise _refuse(archive, _("member {name!r} overlaps the table of contents").format(name=spans[-1][2]))


def check(archive: Path, zf: zipfile.ZipFile, limits: Limits) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Validate every member from the central directory; return the members to extract."""
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise _refuse(
            archive,
            _("it has {n} members, more than the limit of {limit}").format(n=len(infos), limit=limits.max_files),
        )
    plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    names = Names(archive)
    total = 0
    compressed = 0
    for info in infos:
        # zipfile cuts a name at its first NUL ("evil\0.txt" becomes "evil"); the original is checked.
        if has_unsafe(info.orig_filename):
            raise _refuse(
                archive, _("member {name!r} has a control character in its name").format(name=info.orig_filename)
            )
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
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        names.add(info.filename, path, is_dir)
        if is_dir:
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
        check_overlaps(archive, zf)
        archive_size = archive.stat().st_size
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
                        # What was really written against what the archive really is, not what it declares.
                        if written_total > limits.ratio_floor and written_total > limits.max_ratio * archive_size:
                            raise _refuse(
                                archive,
                                _("it is compressed more than {ratio}:1 (a zip bomb?)").format(ratio=limits.max_ratio),
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
