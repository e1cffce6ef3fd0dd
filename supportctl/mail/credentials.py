"""Where a password (the SMTP server's, the package server's, the desk's IMAP server's) or an OAuth2 token
comes from, and the rules that keep it secret.

Sources, in order for `smtp.password_source = auto`: `SUPPORTCTL_SMTP_PASSWORD`, the system keyring
(optional extra `keyring`), `smtp.password_command` (run without a shell), a hidden prompt on a terminal.
With `smtp.auth = xoauth2` the access token comes from `smtp.token_command`. The package server's
password (`fetch`) comes from the same kinds of source: `SUPPORTCTL_FETCH_PASSWORD`, the keyring
(service `supportctl-fetch`), `fetch.password_command`, the prompt — see `SecretSources`; the desk's IMAP
password likewise (`SUPPORTCTL_IMAP_PASSWORD`, `supportctl-imap`, `imap.password_command`). Every secret
command runs through `run_secret_command`: no shell, one timeout, one size cap, and its stderr is the user's.

The secret never reaches argv, the config file, logs, output or any file supportctl writes: it lives in a
`Secret` whose repr is masked, and is handed only to the SMTP AUTH exchange.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from supportctl.errors import ConfigError, os_reason
from supportctl.i18n import N_, _, word

ENV_PASSWORD = "SUPPORTCTL_SMTP_PASSWORD"
KEYRING_SERVICE = "supportctl-smtp"
COMMAND_TIMEOUT = 60
MAX_SECRET_BYTES = 16384
FORBIDDEN_KEYS = ("smtp.password", "smtp.token", "smtp.access_token", "fetch.password")

Prompt = Callable[[str], str]


@dataclass(frozen=True)
class Secret:
    """A password or token. `repr`/`str` never show it, so a stray log line or trace cannot leak it."""

    value: str = field(repr=False)
    source: str = "unknown"  # env | keyring | command | prompt | token_command

    def __str__(self) -> str:
        return "***"


class SecretSources(NamedTuple):
    """Where one kind of password is looked for: the settings prefix names the `*.password_source` and
    `*.password_command` settings, and the variable and keyring service belong to that kind."""

    prefix: str  # "smtp" | "fetch" | "imap"
    env_var: str
    keyring_service: str


SMTP_SECRETS = SecretSources("smtp", ENV_PASSWORD, KEYRING_SERVICE)
FETCH_SECRETS = SecretSources("fetch", "SUPPORTCTL_FETCH_PASSWORD", "supportctl-fetch")
IMAP_SECRETS = SecretSources("imap", "SUPPORTCTL_IMAP_PASSWORD", "supportctl-imap")


class Credentials(NamedTuple):
    mechanism: str  # "password" | "xoauth2"
    username: str
    secret: Secret  # its repr never shows the value


def refuse_secrets_in_file(file_values: Mapping[str, Any], path: Path) -> None:
    """A password in the config file is an error, never silently used or ignored."""
    for key in FORBIDDEN_KEYS:
        if key in file_values:
            raise ConfigError(
                _("the config file {path} contains {key}: supportctl never reads passwords from it").format(
                    path=path, key=key
                ),
                _(
                    "remove that line; use SUPPORTCTL_SMTP_PASSWORD, the system keyring, smtp.password_command "
                    "or the prompt (`supportctl config smtp`)"
                ),
            )


def run_secret_command(command: str, setting: str) -> str:
    """Run a password/token command WITHOUT a shell and return its first output line (every kind of secret)."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(_("{setting} cannot be parsed: {reason}").format(setting=setting, reason=exc)) from None
    if not argv:
        raise ConfigError(_("{setting} is empty").format(setting=setting))
    try:
        p = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,  # stderr stays the user's: a helper may talk to them there
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            _("{setting}: command {name} not found").format(setting=setting, name=argv[0]),
            _("set {setting} to a command that prints the secret").format(setting=setting),
        ) from None
    except subprocess.TimeoutExpired:
        raise ConfigError(
            _("{setting}: the command did not finish within {n} s").format(setting=setting, n=COMMAND_TIMEOUT)
        ) from None
    except OSError as exc:
        raise ConfigError(
            _("{setting}: cannot run {name}: {reason}").format(setting=setting, name=argv[0], reason=os_reason(exc))
        ) from None
    if p.returncode != 0:
        # Its stdout might hold a secret and is never shown.
        raise ConfigError(
            _("{setting}: the command failed with status {status}").format(setting=setting, status=p.returncode)
        )
    data = p.stdout[:MAX_SECRET_BYTES].decode("utf-8", "replace")
    secret = data.split("\n", 1)[0].rstrip("\r")
    if not secret:
        raise ConfigError(_("{setting}: the command printed nothing").format(setting=setting))
    return secret


def _from_keyring(username: str, host: str, service: str = KEYRING_SERVICE) -> str | None:
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    try:
        value = keyring.get_password(service, f"{username}@{host}")
    except Exception:  # any backend failure means "not available here"
        return None
    return value if isinstance(value, str) and value else None


def keyring_available() -> bool:
    try:
        import keyring  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def store_in_keyring(username: str, host: str, password: str) -> None:
    try:
        import keyring
    except ImportError:
        raise ConfigError(
            _("the keyring module is not installed"), _("pip install 'supportctl[keyring]' or choose another source")
        ) from None
    try:
        keyring.set_password(KEYRING_SERVICE, f"{username}@{host}", password)
    except Exception as exc:
        raise ConfigError(
            _("cannot store the password in the system keyring: {reason}").format(reason=type(exc).__name__)
        ) from None


def obtain(
    settings: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
) -> Credentials | None:
    """The credentials for AUTH, or None when no login is configured.

    `settings` holds the resolved `smtp.*` values. `prompt` (a hidden terminal prompt) is given by the
    CLI only when stdin is a terminal; the core never prompts by itself.
    """
    env = os.environ if environ is None else environ
    auth = settings.get("smtp.auth") or "password"
    username = settings.get("smtp.username")
    host = settings.get("smtp.host") or ""
    if auth == "none":
        return None
    if auth == "xoauth2":
        if not username:
            raise ConfigError(_("smtp.auth = xoauth2 needs smtp.username"), _("run `supportctl config smtp`"))
        command = settings.get("smtp.token_command")
        if not command:
            raise ConfigError(
                _("smtp.auth = xoauth2 needs smtp.token_command"),
                _("set it to a command that prints an access token, e.g. oama access you@example.com"),
            )
        return Credentials(
            "xoauth2", username, Secret(run_secret_command(command, "smtp.token_command"), "token_command")
        )
    if not username:
        return None
    return Credentials("password", username, password_for(username, host, settings, SMTP_SECRETS, env, prompt))


def password_for(
    username: str,
    host: str,
    settings: Mapping[str, Any],
    kind: SecretSources,
    environ: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
) -> Secret:
    """The password of `username` at `host` from the sources of `kind`, in the order its
    `*.password_source` setting says (auto: env, keyring, command, prompt). ConfigError when none has it."""
    env = os.environ if environ is None else environ
    source = settings.get(f"{kind.prefix}.password_source") or "auto"
    command_key = f"{kind.prefix}.password_command"
    if source == "keyring" and not keyring_available():
        raise ConfigError(
            _("no password for {user} at {host}: the password source keyring needs the keyring module").format(
                user=username, host=host
            ),
            _("pip install 'supportctl[keyring]', or choose another {setting}").format(
                setting=f"{kind.prefix}.password_source"
            ),
        )
    order = ["env", "keyring", "command", "prompt"] if source == "auto" else [source]
    for way in order:
        if way == "env" and env.get(kind.env_var):
            return Secret(env[kind.env_var], "env")
        if way == "keyring":
            value = _from_keyring(username, host, kind.keyring_service)
            if value:
                return Secret(value, "keyring")
        if way == "command" and settings.get(command_key):
            return Secret(run_secret_command(settings[command_key], command_key), "command")
        if way == "prompt" and prompt is not None:
            value = prompt(_("Password for {user} at {host}: ").format(user=username, host=host))
            if value:
                return Secret(value, "prompt")
    raise ConfigError(
        _("no password for {user} at {host} (source: {source})").format(user=username, host=host, source=source),
        _("set {variable}, store it in the keyring, set {setting}, or run on a terminal to be asked").format(
            variable=kind.env_var, setting=command_key
        ),
    )


def describe_source(settings: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """Where the password would come from, for --dry-run: never the password itself."""
    env = os.environ if environ is None else environ
    auth = settings.get("smtp.auth") or "password"
    if auth == "none" or (auth == "password" and not settings.get("smtp.username")):
        return "none"
    if auth == "xoauth2":
        return "token_command"
    source = str(settings.get("smtp.password_source") or "auto")
    if source == "auto":
        if env.get(ENV_PASSWORD):
            return "env"
        if settings.get("smtp.password_command"):
            return "command (or keyring)"
        return "keyring or prompt"
    return source


# `describe_source`'s codes in words (for `submit --dry-run`).
_SOURCE_WORDS = {
    "env": N_("the SUPPORTCTL_SMTP_PASSWORD variable"),
    "token_command": N_("the token command (XOAUTH2)"),
    "command": N_("the password command"),
    "command (or keyring)": N_("the password command or the keyring"),
    "keyring": N_("the system keyring"),
    "keyring or prompt": N_("the system keyring, else a prompt"),
    "prompt": N_("a prompt"),
}


def source_label(code: str) -> str:
    return word(_SOURCE_WORDS, code)


def imap_password(
    username: str,
    host: str,
    command: str | None,
    environ: Mapping[str, str] | None = None,
    prompt: Prompt | None = None,
) -> Secret:
    """The desk's IMAP password: `SUPPORTCTL_IMAP_PASSWORD`, the keyring, `imap.password_command`, a prompt."""
    return password_for(username, host, {"imap.password_command": command}, IMAP_SECRETS, environ, prompt)
