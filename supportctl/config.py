"""Settings, resolved in one place: flag > SUPPORTCTL_* environment > config file > default.

The config file is TOML at `$XDG_CONFIG_HOME/supportctl/config.toml` (or `SUPPORTCTL_CONFIG`).
Dotted keys map to tables (`smtp.host` is `[smtp] host = ...`) and to environment variables
(`SUPPORTCTL_SMTP_HOST`). Secrets are never read from the config file or shown.
"""

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from supportctl import paths
from supportctl.errors import ConfigError, os_reason
from supportctl.i18n import _


class Setting(NamedTuple):
    key: str
    kind: str  # "str" | "int" | "bool"
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: int | None = None  # inclusive range of an "int" setting
    high: int | None = None


# Every setting supportctl knows. Later commands register theirs here, so `config show` lists all.
SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in [
        Setting("lang", "str", None, "Interface language", ("de", "en")),
        Setting("package", "str", None, "Document package to use (directory or .zip)"),
        Setting("package_url", "str", None, "Where `fetch` downloads the package from"),
        Setting("tz", "str", None, "Time zone for displayed times (default: local)"),
        Setting("input_tz", "str", None, "Time zone for times given without offset (default: local)"),
        Setting("schedule.timezone", "str", None, "Business schedule time zone (default: package)"),
        Setting("schedule.days", "str", None, "Business days, e.g. mon-fri (default: package)"),
        Setting("schedule.hours", "str", None, "Business hours, e.g. 09:00-18:00 (default: package)"),
        Setting("schedule.holidays", "str", None, "Holidays: DE, DE-BY, … or none (default: package)"),
        Setting(
            "schedule.half_days",
            "str",
            None,
            "Shortened days, e.g. 12-24=09:00-13:00,12-31=09:00-13:00 (default: package)",
        ),
        Setting(
            "eta.standard_mode", "str", "hours", "standard class: +9 business hours or end of day", ("hours", "eod")
        ),
    ]
}

# Settings of later commands, one block per area so that parallel work merges cleanly.
# fetch
_FETCH: list[Setting] = [
    Setting("fetch.dest", "str", "./registration-package", "Where `fetch` puts the package"),
    Setting("fetch.max_size", "str", "100MB", "Largest download `fetch` accepts, e.g. 100MB, 1.5GiB"),
    Setting("fetch.timeout", "int", 30, "Seconds `fetch` waits for a connection or for data", (), 1, 86400),
    Setting("fetch.deadline", "int", 600, "Seconds a whole download may take, however slow", (), 1, 7 * 86400),
    Setting("fetch.ca_bundle", "str", None, "CA certificates for https downloads (default: system, SSL_CERT_FILE)"),
    Setting("fetch.username", "str", None, "User name for a package server that asks for a login (https only)"),
    Setting(
        "fetch.password_source",
        "str",
        "auto",
        "Where the package server's password comes from: auto = env, keyring, command, prompt",
        ("auto", "env", "keyring", "command", "prompt"),
    ),
    Setting("fetch.password_command", "str", None, "Command printing the package server's password (no shell)"),
    Setting("print.printer", "str", None, "Printer for `print` and `fetch --print` (default: the system default)"),
]

# fill / profile: `[profile]` answers reused as defaults by `fill`.
_FORM: list[Setting] = [
    Setting(f"profile.{name}", "str", None, f"Your {what}: default for `fill`")
    for name, what in (
        ("company", "company"),
        ("first_name", "first name"),
        ("last_name", "last name"),
        ("email", "e-mail address"),
        ("phone", "phone number"),
        ("street", "street and number"),
        ("postal_code", "postal code"),
        ("city", "city"),
        ("country", "country (ISO code)"),
        ("membership_id", "membership or subscription ID"),
        ("program", "program"),
    )
]

# submit / smtp / outbox. No password setting on purpose: see supportctl/credentials.py.
_MAIL: list[Setting] = [
    Setting("smtp.host", "str", None, "SMTP server host name"),
    Setting("smtp.port", "int", None, "SMTP port (default: 587 starttls, 465 tls, 25 none)", (), 1, 65535),
    Setting("smtp.security", "str", "starttls", "Transport security", ("starttls", "tls", "none")),
    Setting("smtp.username", "str", None, "SMTP login name (none: no AUTH)"),
    Setting("smtp.from", "str", None, "Sender address (From:)"),
    Setting("smtp.cc", "str", None, "Copy the registration to these addresses (comma-separated)"),
    Setting("smtp.auth", "str", "password", "How to log in", ("password", "xoauth2", "none")),
    Setting(
        "smtp.password_source",
        "str",
        "auto",
        "Where the password comes from: auto = env, keyring, command, prompt",
        ("auto", "env", "keyring", "command", "prompt"),
    ),
    Setting("smtp.password_command", "str", None, "Command printing the password (run without a shell)"),
    Setting("smtp.token_command", "str", None, "Command printing an OAuth2 access token (auth = xoauth2)"),
    Setting("smtp.ca_bundle", "str", None, "CA certificates file (default: the system store)"),
    Setting("smtp.timeout", "int", 30, "Network timeout in seconds", (), 1, 86400),
    Setting(
        "smtp.allow_plaintext_auth",
        "bool",
        False,
        "DANGEROUS: send the password over an unencrypted connection (local relays only)",
    ),
]

# inbox / imap
_INBOX: list[Setting] = [
    Setting("inbox.max_message_bytes", "int", 25 << 20, "Skip messages larger than this (bytes)", (), 1, 1 << 40),
    Setting("inbox.max_parts", "int", 100, "Skip messages with more MIME parts than this", (), 1, 1_000_000),
    Setting("inbox.max_depth", "int", 10, "Skip messages with MIME parts nested deeper than this", (), 1, 1000),
    Setting("inbox.reply_from", "str", None, "From: of `inbox reply` (default: the package's registration address)"),
    Setting("inbox.mailbox", "str", None, "The desk's mailbox, when `inbox` or `inbox report` is given no SOURCE"),
    Setting("inbox.sent_folder", "str", None, "IMAP folder for reply copies (default: the server's \\Sent folder)"),
    Setting("inbox.member", "str", None, "Your name on the shared mailbox's claims (default: your login name)"),
    Setting("imap.password_command", "str", None, "Command (no shell) that prints the IMAP password"),
    Setting("imap.ca_bundle", "str", None, "CA certificates to verify the IMAP server with (PEM file)"),
    Setting("imap.timeout", "int", 30, "Seconds to wait for the IMAP server before giving up", (), 1, 86400),
]

# status (issue 14): the applicant's own mailbox, where the desk's reply arrives.
_STATUS: list[Setting] = [
    Setting("status.mailbox", "str", None, "Your mailbox for `status`: Maildir, mbox, .eml directory or imaps://"),
    Setting("status.interval", "int", 60, "Seconds between two looks at a local mailbox in `status --watch`"),
]

for _s in (*_FETCH, *_FORM, *_MAIL, *_INBOX, *_STATUS):
    SETTINGS[_s.key] = _s

SECRET_ENV = ("SUPPORTCTL_SMTP_PASSWORD", "SUPPORTCTL_IMAP_PASSWORD")


def register(setting: Setting) -> None:
    SETTINGS[setting.key] = setting


def env_name(key: str) -> str:
    return "SUPPORTCTL_" + key.upper().replace(".", "_")


class Resolved(NamedTuple):
    key: str
    value: Any
    source: str  # "flag" | "env" | "file" | "default"
    origin: str  # the variable name or file path, "" for flag/default


class Config:
    """Every resolved setting; `warnings` collects what the CLI should tell the user."""

    def __init__(
        self, values: dict[str, Resolved], path: Path, file_exists: bool, warnings: list[str] | None = None
    ) -> None:
        self.values = values
        self.path = path
        self.file_exists = file_exists
        self.warnings = warnings if warnings is not None else []

    def get(self, key: str) -> Any:
        return self.values[key].value

    def source(self, key: str) -> Resolved:
        return self.values[key]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every setting by key: value, source and origin (`config show`); a password in an address redacted
        (package_url, and an imaps:// mailbox, which `inbox` and `status` refuse but the setting may hold)."""
        settings = {
            k: {"value": r.value, "source": r.source, "origin": r.origin} for k, r in sorted(self.values.items())
        }
        for key in ("package_url", "inbox.mailbox", "status.mailbox"):
            if settings.get(key, {}).get("value"):
                from supportctl.package.urlauth import redact

                settings[key]["value"] = redact(str(settings[key]["value"]))
        return settings

    def show_data(self) -> dict[str, Any]:
        """The data of `config show --json`: the file's path, whether it exists, and every setting."""
        return {"path": str(self.path), "exists": self.file_exists, "settings": self.to_dict()}

    def show_table(self) -> tuple[str, list[str], list[list[str]]]:
        """`config show` for the person: the table's title, columns and rows (setting, value, source)."""
        from supportctl.output import token

        sources = {"env": _("environment"), "file": _("config file"), "default": _("default"), "flag": _("flag")}
        rows = []
        for key, s in self.to_dict().items():
            # As written in the config file (TOML): true/false, not Python's True/False.
            v = s["value"]
            value = "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            # On a terminal the word; in a pipe the code of --json (env, file, default, flag), as for states.
            where = token(s["source"], sources[s["source"]]) + (f" ({s['origin']})" if s["source"] == "env" else "")
            rows.append([key, value, where])
        return _("Settings ({path})").format(path=self.path), [_("Setting"), _("Value"), _("Source")], rows


def coerce(setting: Setting, raw: Any, where: str) -> Any:
    if setting.kind == "bool":
        if isinstance(raw, bool):
            value: Any = raw
        elif isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "on"):
            value = True
        elif isinstance(raw, str) and raw.lower() in ("0", "false", "no", "off"):
            value = False
        else:
            raise ConfigError(
                _("{where}: {key} must be true or false, not {value!r}").format(where=where, key=setting.key, value=raw)
            )
    elif setting.kind == "int":
        value = _whole(raw)
        if value is None:
            raise ConfigError(
                _("{where}: {key} must be a whole number, not {value!r}").format(
                    where=where, key=setting.key, value=raw
                )
            )
        if (setting.low is not None and value < setting.low) or (setting.high is not None and value > setting.high):
            raise ConfigError(
                _("{where}: {key} must be between {low} and {high}, not {value}").format(
                    where=where, key=setting.key, low=setting.low, high=setting.high, value=value
                )
            )
    else:
        if isinstance(raw, dict) and setting.key == "schedule.half_days":
            raw = ",".join(f"{k}={v}" for k, v in raw.items())
        elif isinstance(raw, list):
            raw = ",".join(str(x) for x in raw)
        if not isinstance(raw, str):
            raise ConfigError(
                _("{where}: {key} must be a string, not {value!r}").format(where=where, key=setting.key, value=raw)
            )
        value = raw
    if setting.choices and value not in setting.choices:
        raise ConfigError(
            _("{where}: {key} must be one of {choices}, not {value!r}").format(
                where=where, key=setting.key, choices=", ".join(setting.choices), value=value
            )
        )
    return value


def _whole(raw: Any) -> int | None:
    """An int from TOML or text; None for anything else (1e400, nan, 2.5, true, "ten")."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None  # is_integer() is False for inf and nan
    if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", raw):
        return int(raw)
    return None


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in SETTINGS and key != "profile":
            out.update(_flatten(v, key + "."))
        elif isinstance(v, dict) and key == "profile":
            out.update(_flatten(v, "profile."))
        else:
            out[key] = v
    return out


_LINE = r"\(at line (\d+), column (\d+)\)"  # in tomllib's messages (compiled when one is shown)
MAX_CONFIG_BYTES = 1 << 20


def read_file(path: Path) -> dict[str, Any]:
    """Parse the config file; a malformed one is one error naming file and line."""
    from supportctl.fsutil import read_regular

    try:
        # A FIFO or /dev/zero as the config file is refused, not waited on or read forever.
        data = read_regular(path, MAX_CONFIG_BYTES, follow_symlinks=True, error=ConfigError)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(
            _("cannot read config file {path}: {reason}").format(path=path, reason=os_reason(exc))
        ) from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        parsed = tomllib.loads(data.decode("utf-8-sig"))  # Notepad and PowerShell 5 write a BOM
    except UnicodeDecodeError:
        raise ConfigError(_("config file {path} is not UTF-8 text").format(path=path)) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(_LINE, msg)
        reason = re.sub(_LINE, "", msg).strip()
        if m:
            raise ConfigError(
                _("config file {path}, line {line}: {reason}").format(path=path, line=m.group(1), reason=reason),
                _("fix the line or move the file away; `supportctl config path` shows where it is"),
            ) from None
        raise ConfigError(_("config file {path}: {reason}").format(path=path, reason=reason)) from None
    return _flatten(parsed)


def _line_of(path: Path, key: str) -> int | None:
    leaf = key.rsplit(".", 1)[-1]
    from supportctl.fsutil import read_regular

    try:
        data = read_regular(path, MAX_CONFIG_BYTES, follow_symlinks=True, error=ConfigError)
        text = data.decode("utf-8-sig", "replace")
    except (OSError, ConfigError):
        return None
    for n, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(leaf)}\s*=", line):
            return n
    return None


def load(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Config:
    """Resolve every known setting. `flags` holds command-line values (None = not given)."""
    env = os.environ if environ is None else environ
    cfg_path = path or paths.config_file()
    file_values = read_file(cfg_path)
    warnings: list[str] = []
    for key in file_values:
        if key not in SETTINGS and not key.startswith("profile."):
            import difflib

            near = difflib.get_close_matches(key, list(SETTINGS), n=1)
            line = _line_of(cfg_path, key)
            where = f"{cfg_path}:{line}" if line else str(cfg_path)
            if near:
                warnings.append(
                    _("{where}: unknown setting {key!r} ignored; did you mean {near!r}?").format(
                        where=where, key=key, near=near[0]
                    )
                )
            else:
                warnings.append(_("{where}: unknown setting {key!r} ignored").format(where=where, key=key))
    values: dict[str, Resolved] = {}
    flags = flags or {}
    for key, setting in SETTINGS.items():
        if flags.get(key) is not None:
            values[key] = Resolved(key, coerce(setting, flags[key], "--" + key), "flag", "")
        elif env.get(env_name(key)):
            name = env_name(key)
            values[key] = Resolved(key, coerce(setting, env[name], name), "env", name)
        elif key in file_values:
            line = _line_of(cfg_path, key)
            where = f"{cfg_path}:{line}" if line else str(cfg_path)
            values[key] = Resolved(key, coerce(setting, file_values[key], where), "file", str(cfg_path))
        else:
            values[key] = Resolved(key, setting.default, "default", "")
    for key, raw in file_values.items():
        if key.startswith("profile.") and key not in SETTINGS:
            values[key] = Resolved(key, str(raw), "file", str(cfg_path))
    return Config(values=values, path=cfg_path, file_exists=cfg_path.exists(), warnings=warnings)
