"""The one error hierarchy. Each class carries its exit code and, optionally, a hint.

Core modules raise these; only the `supportctl.cli` package turns them into one stderr line and an exit status.
The exit codes are part of the public interface: documented in the README, asserted in tests,
extended but never renumbered.
"""

from __future__ import annotations

from enum import IntEnum

from supportctl.i18n import N_


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID_INPUT = 3
    FORM_INVALID = 4
    TRANSFER = 5
    MAIL_REFUSED = 6
    QUEUED = 7
    CONFIG = 8
    UNCERTAIN = 9
    OVERDUE = 10
    PARTIAL = 11
    PRINT_SYSTEM_DOWN = 12
    NO_SUCH_PRINTER = 13
    PRINTER_DISABLED = 14
    PRINT_QUEUED = 15
    INTERRUPTED = 130
    TERMINATED = 143  # 128 + SIGTERM


class SupportctlError(Exception):
    """Base class: something the user can act on. `message` and `hint` are already translated.

    A subclass names its exit code and its `--json` error code in its header:
    `class ConfigError(SupportctlError, exit_code=ExitCode.CONFIG, code="config")`.
    """

    exit_code: ExitCode = ExitCode.ERROR
    code: str = "error"

    def __init_subclass__(cls, exit_code: ExitCode | None = None, code: str | None = None) -> None:
        super().__init_subclass__()
        if exit_code is not None:
            cls.exit_code = exit_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "exit_code": int(self.exit_code),
            "message": self.message,
            "hint": self.hint,
        }


class UsageError(SupportctlError, exit_code=ExitCode.USAGE, code="usage"):
    """The command line asks for something impossible (exit 2)."""


class InvalidInputError(SupportctlError, exit_code=ExitCode.INVALID_INPUT, code="invalid-input"):
    """A file or value given to supportctl cannot be used (exit 3)."""


class FormInvalidError(SupportctlError, exit_code=ExitCode.FORM_INVALID, code="form-invalid"):
    """The registration form has findings (exit 4)."""


class TransferError(SupportctlError, exit_code=ExitCode.TRANSFER, code="transfer"):
    """A download or connection failed (exit 5)."""


class ConfigError(SupportctlError, exit_code=ExitCode.CONFIG, code="config"):
    """A setting, the login or a secret source is missing or wrong (exit 8)."""


class PrintSystemDownError(SupportctlError, exit_code=ExitCode.PRINT_SYSTEM_DOWN, code="print-system-down"):
    """The print system (CUPS) does not answer."""


class NoSuchPrinterError(SupportctlError, exit_code=ExitCode.NO_SUCH_PRINTER, code="no-such-printer"):
    """The printer named does not exist."""


class PrinterDisabledError(SupportctlError, exit_code=ExitCode.PRINTER_DISABLED, code="printer-disabled"):
    """The printer is stopped or refuses jobs."""


# ---------------------------------------------------------------- OS and network errors in words

# Common errno values, as the user reads them (translated; Python's strerror is always English).
_ERRNO_TEXT = {
    "ENOENT": N_("no such file or directory"),
    "EACCES": N_("permission denied"),
    "EPERM": N_("permission denied"),
    "EISDIR": N_("it is a directory; give a file name"),
    "ENOTDIR": N_("a part of the path is not a directory"),
    "ENOSPC": N_("no space left on the device"),
    "EROFS": N_("the file system is read-only"),
    "EEXIST": N_("it exists already"),
    "ECONNREFUSED": N_("connection refused (is the server running, and is it the right port?)"),
    "ECONNRESET": N_("the connection was reset by the other side"),
    "ECONNABORTED": N_("the connection was aborted"),
    "ETIMEDOUT": N_("timed out"),
    "EHOSTUNREACH": N_("the host cannot be reached"),
    "ENETUNREACH": N_("the network cannot be reached"),
}
# OpenSSL's reasons when the other side answers a TLS handshake with something that is not TLS.
NOT_TLS = (
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "HTTP_REQUEST",
    "UNKNOWN_PROTOCOL",
)


def os_reason(exc: BaseException) -> str:
    """An OS, socket or TLS error in plain words, in the user's language, without the file name
    (the caller's sentence names the path, once)."""
    import errno

    from supportctl.i18n import _

    name = type(exc).__name__
    if name == "gaierror":
        return _("the host name cannot be resolved")
    if "SSL" in name and getattr(exc, "reason", None) in NOT_TLS:
        return _("the server does not speak TLS on that port (check the port and the security setting)")
    code = getattr(exc, "errno", None)
    key = errno.errorcode.get(code) if isinstance(code, int) else None
    if key in _ERRNO_TEXT:
        return _(_ERRNO_TEXT[key])
    if isinstance(exc, TimeoutError):
        return _("timed out")
    return str(getattr(exc, "strerror", None) or exc or name)


def os_message(exc: OSError) -> str:
    """An unexpected OS error in one line: the file, once, and the reason in words."""
    return f"{exc.filename}: {os_reason(exc)}" if exc.filename else os_reason(exc)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every `finally` runs: no `.partial` directory or temp file is left."""
