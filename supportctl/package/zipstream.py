"""Unpack a zip while it downloads, so a package is written to disk once, not twice.

Members are read from their local headers as the bytes arrive and written into the (temporary) target
directory with the same limits as `safezip`: names are checked before anything is written, sizes are
enforced while writing, and the CRC is checked at each member's end. The central directory at the end of
the archive is then parsed by `zipfile` (from a sparse file that holds only that tail) and run through
`safezip.check` — symlinks, device files, counts, totals, ratios — and every entry must match what was
streamed. Anything a stream cannot handle (data descriptors, zip64, other compression methods, data before
the first member) raises `NotStreamable`; the caller then downloads to a file and uses `safezip.extract`.
Nothing here is trusted until `finish` returns; the caller discards the directory on any error.
"""

from __future__ import annotations

import hashlib
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from supportctl.errors import InvalidInputError
from supportctl.i18n import _
from supportctl.output import has_unsafe
from supportctl.package import safezip

LOCAL_SIG = b"PK\x03\x04"
CENTRAL_SIG = b"PK\x01\x02"
LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
TAIL_CAP = 8 << 20


class BackgroundHash:
    """sha256 in a second thread: hashlib releases the GIL, so hashing overlaps unpacking and writing.

    The queue is short, so at most a few chunks wait in memory.
    """

    def __init__(self) -> None:
        import queue
        import threading

        self._h = hashlib.sha256()
        self._q: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=4)
        self._t = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._t.start()
        self._digest: str | None = None

    def _run(self) -> None:
        while (chunk := self._q.get()) is not None:
            self._h.update(chunk)

    def update(self, chunk: bytes | memoryview) -> None:
        self._q.put(chunk)

    def close(self) -> None:
        if self._digest is None:
            self._q.put(None)
            self._t.join()
            self._digest = self._h.hexdigest()

    def hexdigest(self) -> str:
        self.close()
        assert self._digest is not None
        return self._digest


class NotStreamable(Exception):
    """The archive needs random access; download it to a file and extract from there."""


@dataclass
class _Member:
    name: str
    offset: int
    flags: int
    method: int
    crc: int
    csize: int
    usize: int


class StreamExtractor:
    def __init__(self, target: Path, label: str, limits: safezip.Limits | None = None) -> None:
        self.target = target
        self.label = label
        self.limits = limits or safezip.Limits()
        self.offset = 0  # bytes consumed so far
        self.header = bytearray()
        self.header_offset = 0
        self.tail: bytearray | None = None
        self.tail_offset = 0
        self.members: list[_Member] = []
        self.names = safezip.Names(Path(label))
        self.total = 0
        self.digests: dict[str, str] = {}
        # the member being written
        self.current: _Member | None = None
        self.remaining = 0
        self.fh: IO[bytes] | None = None
        self.rel = ""
        self.sha: Any = None
        self.crc = 0
        self.written = 0
        self.inflater: Any = None

    def _refuse(self, problem: str) -> InvalidInputError:
        return safezip._refuse(Path(self.label), problem)

    # ------------------------------------------------------------ feeding

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while len(view):
            if self.tail is not None:
                self.tail += view
                self.offset += len(view)
                if len(self.tail) > TAIL_CAP:
                    raise NotStreamable
                return
            if self.current is not None:
                n = min(len(view), self.remaining)
                self._data(view[:n])
                view = view[n:]
                self.offset += n
                self.remaining -= n
                if self.remaining == 0:
                    self._end_member()
                continue
            need = self._header_need()
            take = min(len(view), need - len(self.header))
            if not self.header:
                self.header_offset = self.offset
            self.header += view[:take]
            view = view[take:]
            self.offset += take
            if len(self.header) == self._header_need():
                self._header_complete()

    def _header_need(self) -> int:
        if len(self.header) < 4 or bytes(self.header[:4]) != LOCAL_SIG:
            return 4
        if len(self.header) < LOCAL_HEADER.size:
            return LOCAL_HEADER.size
        fields = LOCAL_HEADER.unpack_from(self.header)
        return int(LOCAL_HEADER.size + fields[9] + fields[10])

    def _header_complete(self) -> None:
        sig = bytes(self.header[:4])
        if sig == CENTRAL_SIG:
            self.tail = bytearray(self.header)
            self.tail_offset = self.header_offset
            self.header.clear()
            return
        if sig != LOCAL_SIG:
            raise NotStreamable  # not a zip, or data before the first member: let zipfile decide
        if len(self.header) < self._header_need():
            return  # the name and extra field are still to come
        _sig, _ver, flags, method, _t, _d, crc, csize, usize, nlen, _elen = LOCAL_HEADER.unpack_from(self.header)
        raw = bytes(self.header[LOCAL_HEADER.size : LOCAL_HEADER.size + nlen])
        self.header.clear()
        if flags & 0x1:
            name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
            raise self._refuse(_("member {name!r} is encrypted").format(name=name))
        if flags & 0x8 or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or 0xFFFFFFFF in (csize, usize):
            raise NotStreamable
        name = raw.decode("utf-8" if flags & 0x800 else "cp437")
        member = _Member(name, self.header_offset, flags, method, crc, csize, usize)
        self._start_member(member)

    # ------------------------------------------------------------ members

    def _start_member(self, m: _Member) -> None:
        limits = self.limits
        self.members.append(m)
        if len(self.members) > limits.max_files:
            raise self._refuse(
                _("it has {n} members, more than the limit of {limit}").format(
                    n=len(self.members), limit=limits.max_files
                )
            )
        if has_unsafe(m.name):
            raise self._refuse(_("member {name!r} has a control character in its name").format(name=m.name))
        path = safezip.member_path(m.name)
        if path is None:
            if m.name.replace("\\", "/").startswith("/") or (len(m.name) > 1 and m.name[1] == ":"):
                raise self._refuse(_("member {name!r} has an absolute path").format(name=m.name))
            raise self._refuse(_("member {name!r} points outside the package").format(name=m.name))
        self.names.add(m.name, path, m.name.endswith("/"))
        self.total += m.usize
        if self.total > limits.max_total:
            raise self._refuse(_("it unpacks to more than {limit} bytes").format(limit=limits.max_total))
        if m.usize > limits.ratio_floor and m.usize > limits.max_ratio * max(m.csize, 1):
            raise self._refuse(
                _("member {name!r} is compressed more than {ratio}:1 (a zip bomb?)").format(
                    name=m.name, ratio=limits.max_ratio
                )
            )
        dest = self.target.joinpath(*path.parts)
        if m.name.endswith("/"):
            if m.csize or m.usize:
                raise NotStreamable
            dest.mkdir(parents=True, exist_ok=True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.current = m
        self.remaining = m.csize
        self.rel = str(path)
        self.fh = open(dest, "xb")  # closed in _end_member or close()
        self.sha = BackgroundHash()
        self.crc = 0
        self.written = 0
        self.inflater = zlib.decompressobj(-15) if m.method == zipfile.ZIP_DEFLATED else None
        if self.remaining == 0:
            self._end_member()

    def _data(self, chunk: memoryview) -> None:
        if self.inflater is None:
            self._out(chunk)
            return
        try:
            out = self.inflater.decompress(chunk, safezip.CHUNK)
            self._out(out)
            while self.inflater.unconsumed_tail:
                self._out(self.inflater.decompress(self.inflater.unconsumed_tail, safezip.CHUNK))
        except zlib.error as exc:
            raise self._damaged(str(exc)) from None

    def _out(self, data: bytes | memoryview) -> None:
        assert self.current is not None and self.fh is not None
        self.written += len(data)
        if self.written > self.current.usize:
            raise self._refuse(_("member {name!r} is larger than declared").format(name=self.current.name))
        self.sha.update(data)  # views of immutable bytes: safe to hand to the hashing thread
        self.crc = zlib.crc32(data, self.crc)
        self.fh.write(data)

    def _damaged(self, reason: str) -> InvalidInputError:
        name = self.current.name if self.current else "?"
        return self._refuse(_("member {name!r} cannot be read: {reason}").format(name=name, reason=reason))

    def _end_member(self) -> None:
        m = self.current
        assert m is not None and self.fh is not None
        if self.inflater is not None:
            try:
                self._out(self.inflater.flush())
            except zlib.error as exc:
                raise self._damaged(str(exc)) from None
            if not self.inflater.eof or self.inflater.unused_data:
                raise self._damaged(_("the compressed data is incomplete"))
        if self.written != m.usize or self.crc != m.crc:
            raise self._damaged(_("its checksum or size does not match"))
        self.fh.close()
        self.fh = None
        self.digests[self.rel] = self.sha.hexdigest()
        self.current = None
        self.inflater = None

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
        if self.sha is not None:
            self.sha.close()

    # ------------------------------------------------------------ the end

    def finish(self, scratch: Path) -> dict[str, str]:
        """Check the central directory against what was streamed; return the digests of the files written."""
        if self.tail is None:
            if not self.members:
                raise NotStreamable  # no member at all: let zipfile say what it is
            raise self._refuse(_("the archive ends before its table of contents"))
        # A sparse file with the tail at its real offset: zipfile reads the central directory from it.
        with open(scratch, "xb") as fh:
            fh.seek(self.tail_offset)
            fh.write(self.tail)
        try:
            zf = zipfile.ZipFile(scratch)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
            raise self._refuse(_("its table of contents cannot be read")) from None
        with zf:
            safezip.check(Path(self.label), zf, self.limits)
            infos = zf.infolist()
        by_offset = {m.offset: m for m in self.members}
        if len(infos) != len(self.members):
            raise self._refuse(_("its table of contents does not match its contents"))
        for info in infos:
            m = by_offset.get(info.header_offset)
            if (
                m is None
                or m.name != info.filename
                or (m.crc, m.csize, m.usize, m.method)
                != (info.CRC, info.compress_size, info.file_size, info.compress_type)
                or stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR)
            ):
                raise self._refuse(_("its table of contents does not match its contents"))
        return dict(self.digests)
