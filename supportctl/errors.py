"""The one error hierarchy. Each class carries its exit code and, optionally, a hint.

Core modules raise these; only the `supportctl.cli` package turns them into one stderr line and an exit status.
The exit codes are part of the public interface: documented in the README, asserted in tests,
extended but never renumbered.
"""

from __future__ import annotations

from enum import IntEnum


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


class MailRefusedError(SupportctlError, exit_code=ExitCode.MAIL_REFUSED, code="mail-refused"):
    """The mail server refused the message for good (exit 6)."""


class QueuedForRetry(SupportctlError, exit_code=ExitCode.QUEUED, code="queued"):
    """Not sent yet; the outbox retries (exit 7)."""


class ConfigError(SupportctlError, exit_code=ExitCode.CONFIG, code="config"):
    """A setting, the login or a secret source is missing or wrong (exit 8)."""


class DeliveryUncertainError(SupportctlError, exit_code=ExitCode.UNCERTAIN, code="uncertain"):
    """It is unknown whether the server took the message (exit 9)."""


class OverdueError(SupportctlError, exit_code=ExitCode.OVERDUE, code="overdue"):
    """Something is overdue and the user asked to fail on it (exit 10)."""


class PrintSystemDownError(SupportctlError, exit_code=ExitCode.PRINT_SYSTEM_DOWN, code="print-system-down"):
    """The print system (CUPS) does not answer."""


class NoSuchPrinterError(SupportctlError, exit_code=ExitCode.NO_SUCH_PRINTER, code="no-such-printer"):
    """The printer named does not exist."""


class PrinterDisabledError(SupportctlError, exit_code=ExitCode.PRINTER_DISABLED, code="printer-disabled"):
    """The printer is stopped or refuses jobs."""
