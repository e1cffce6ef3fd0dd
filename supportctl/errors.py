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
    INTERRUPTED = 130
    TERMINATED = 143  # 128 + SIGTERM


class SupportctlError(Exception):
    """Base class: something the user can act on. `message` and `hint` are already translated."""

    exit_code: ExitCode = ExitCode.ERROR
    code: str = "error"

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


class UsageError(SupportctlError):
    exit_code = ExitCode.USAGE
    code = "usage"


class InvalidInputError(SupportctlError):
    exit_code = ExitCode.INVALID_INPUT
    code = "invalid-input"


class FormInvalidError(SupportctlError):
    exit_code = ExitCode.FORM_INVALID
    code = "form-invalid"


class TransferError(SupportctlError):
    exit_code = ExitCode.TRANSFER
    code = "transfer"


class MailRefusedError(SupportctlError):
    exit_code = ExitCode.MAIL_REFUSED
    code = "mail-refused"


class QueuedForRetry(SupportctlError):
    exit_code = ExitCode.QUEUED
    code = "queued"


class ConfigError(SupportctlError):
    exit_code = ExitCode.CONFIG
    code = "config"


class DeliveryUncertainError(SupportctlError):
    exit_code = ExitCode.UNCERTAIN
    code = "uncertain"


class OverdueError(SupportctlError):
    exit_code = ExitCode.OVERDUE
    code = "overdue"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every `finally` runs: no `.partial` directory or temp file is left."""
