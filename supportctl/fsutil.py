"""Files on disk: atomic writes, file locks, private directories, and reading files we do not control.

Atomic writes: a temporary file in the same directory, fsync, then `os.replace`.

Reading: every file supportctl reads (config, manifests, documents, PDFs, mail files) goes through
`open_regular` / `read_regular`: regular files only (a FIFO would hang, `/dev/zero` never ends), reads capped
at a size, NUL in a name refused. Files inside a package are also opened without following symbolic links and
must stay inside the package (`inside`); files the user names themselves may be symbolic links (dotfile
managers link config files), but what they point to must be a regular file too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from supportctl.errors import ConfigError, InvalidInputError, SupportctlError, os_reason
from supportctl.i18n import _

PRIVATE_DIR = 0o700


def default_backend() -> str:
    """How files are made private: `posix` (modes) or `windows` (the user profile's ACL; see `atomic_write`)."""
    return "windows" if sys.platform == "win32" else "posix"


def atomic_write(path: Path, data: bytes, mode: int = 0o644, backend: str | None = None) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a torn one."""
    import tempfile  # not at module level: it pulls in random and shutil on every start

    if path.is_dir():
        # os.replace would fail naming our temporary file; the user gave `path`.
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        make_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        # POSIX: the mode on the temporary file (mkstemp made it 0600) before any byte is written. Windows has
        # no modes (os.fchmod does not exist there, os.chmod only toggles read-only): a file created under the
        # user's profile inherits its ACL (the user, SYSTEM, Administrators), so nothing is changed.
        if (backend or default_backend()) == "posix":
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename == tmp:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = 0o644) -> None:
    atomic_write(path, text.encode("utf-8"), mode)


def fsync_dir(directory: Path) -> None:
    if sys.platform == "win32":  # a directory cannot be opened (or fsynced) on Windows; NTFS journals renames
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def flock(path: Path, blocking: bool = True) -> contextlib.AbstractContextManager[bool]:
    """Hold an exclusive lock on `path` (created 0600); yields False when `blocking` is off and it is taken.

    `supportctl.locks.file_lock`: flock on POSIX, msvcrt.locking on Windows.
    """
    from supportctl.locks import file_lock

    make_dirs(path.parent)
    return file_lock(path, blocking)


# ---------------------------------------------------------------- directories


def make_dirs(path: Path) -> None:
    """`mkdir -p`, but every directory it creates is 0700 (Path.mkdir gives missing parents 0777 & umask)."""
    missing: list[Path] = []
    p = path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            pass


def private_dir(path: Path, create: bool = True) -> Path:
    """`path` as a directory only we can use: created 0700, never a symbolic link, never someone else's.

    An existing directory of ours that others can read is tightened to 0700. Returns `path`.
    """
    if create:
        try:
            make_dirs(path)
        except OSError as exc:
            raise ConfigError(
                _("cannot create the directory {path}: {reason}").format(path=path, reason=os_reason(exc))
            ) from None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise ConfigError(_("cannot use {path}: {reason}").format(path=path, reason=os_reason(exc))) from None
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(
            _("{path} is a symbolic link; supportctl keeps its files only in a real directory").format(path=path),
            _("remove the link (and move its contents there) or point XDG_STATE_HOME/XDG_CONFIG_HOME elsewhere"),
        )
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(
            _("{path} is not a directory").format(path=path), _("move it away; supportctl creates the directory")
        )
    # Windows has no uids (st_uid is 0): the profile's ACL keeps other users out of it there.
    if sys.platform != "win32" and st.st_uid != os.geteuid():
        raise ConfigError(
            _("{path} belongs to another user (uid {uid})").format(path=path, uid=st.st_uid),
            _("remove it or point XDG_STATE_HOME/XDG_CONFIG_HOME to a directory of your own"),
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        try:
            os.chmod(path, PRIVATE_DIR)
        except OSError:
            pass
    return path


# ---------------------------------------------------------------- reading files we do not control


def _refused(error: type[SupportctlError], message: str) -> SupportctlError:
    return error(message)


def check_name(path: Path | str, error: type[SupportctlError] = InvalidInputError) -> None:
    if "\x00" in str(path):
        raise error(_("{path!r}: a file name cannot contain a NUL character").format(path=str(path)))


def open_regular(
    path: Path | str, *, follow_symlinks: bool = False, error: type[SupportctlError] = InvalidInputError
) -> BinaryIO:
    """Open `path` for reading if it is a regular file; `error` (one line, naming the path) otherwise.

    Opened non-blocking first, so a FIFO cannot hang the open, then checked with fstat (no race between
    a check and the open). OSErrors other than those (missing file, permissions) pass to the caller.
    """
    fd, _st = open_regular_fd(path, follow_symlinks=follow_symlinks, error=error)
    try:
        if sys.platform != "win32":
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def open_regular_fd(
    path: Path | str, *, follow_symlinks: bool = False, error: type[SupportctlError] = InvalidInputError
) -> tuple[int, os.stat_result]:
    """`open_regular`'s checks, giving the descriptor (still non-blocking: no matter for a regular file) and its
    fstat, for callers that read a few thousand files with `os.read` (a mailbox) and close it themselves."""
    check_name(path, error)
    # O_BINARY: Windows would otherwise translate line ends; O_NONBLOCK/O_NOFOLLOW exist only on POSIX.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    if sys.platform != "win32":
        flags |= os.O_NONBLOCK
        if not follow_symlinks:
            flags |= os.O_NOFOLLOW
    elif not follow_symlinks and os.path.islink(path):  # Windows: checked before the open instead
        raise _refused(
            error, _("{path} is a symbolic link; refusing to follow it out of the package").format(path=path)
        )
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise _refused(
                error, _("{path} is a symbolic link; refusing to follow it out of the package").format(path=path)
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            problem = _("{path} is not a regular file (a directory, FIFO or device); refusing to read it")
            raise _refused(error, problem.format(path=path))
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_fd(fd: int, n: int) -> bytes:
    """Up to `n` bytes from `fd`, fewer only at the end of the file."""
    data = os.read(fd, n)
    if 0 < len(data) < n:
        chunks = [data]
        got = len(data)
        while got < n:
            more = os.read(fd, n - got)
            if not more:
                break
            chunks.append(more)
            got += len(more)
        data = b"".join(chunks)
    return data


def read_regular(
    path: Path | str,
    limit: int,
    *,
    follow_symlinks: bool = False,
    error: type[SupportctlError] = InvalidInputError,
) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them (more is `error`)."""
    with open_regular(path, follow_symlinks=follow_symlinks, error=error) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        problem = _("{path} is larger than {limit} bytes; refusing to read it")
        raise _refused(error, problem.format(path=path, limit=limit))
    return data


def inside(root: Path, rel: str, error: type[SupportctlError] = InvalidInputError) -> Path:
    """`root / rel`, refused when `rel` is absolute, has `..`, a NUL, or resolves outside `root`."""
    check_name(rel, error)
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or rel.startswith(("/", "\\")):
        raise _refused(error, _("{path} points outside the package").format(path=rel))
    target = root / rel
    real_root = os.path.realpath(root)
    # The directories on the way may be links inside the package, not out of it.
    real_parent = os.path.realpath(target.parent)
    if real_parent != real_root and not real_parent.startswith(real_root + os.sep):
        raise _refused(error, _("{path} points outside the package").format(path=rel))
    return target
