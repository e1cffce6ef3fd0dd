"""`supportctl config smtp`: which [smtp] settings to ask for, checked as `submit` will use them, and the
file written with them (never a password).

The dialogue's order and rules live here; the CLI supplies how to ask (a prompt at a terminal, or nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportctl.errors import ConfigError, SupportctlError, UsageError
from supportctl.i18n import N_, _

if TYPE_CHECKING:
    from supportctl.config import Config
    from supportctl.mail.credentials import Prompt

# (question, default shown) -> the answer typed
Ask = Callable[[str, str], str]

QUESTIONS = {
    "host": N_("SMTP server"),
    "security": N_("Security (starttls, tls, none)"),
    "port": N_("Port"),
    "username": N_("Login name (empty: no login)"),
    "from": N_("Sender address"),
    "auth": N_("Login method (password, xoauth2, none)"),
    "password_source": N_("Password from (auto, env, keyring, command, prompt)"),
    "password_command": N_("Command that prints the password"),
    "token_command": N_("Command that prints the access token"),
}


class BadOptionValue(ConfigError):
    """A value given as an option (`--port x`) that the setting refuses: a wrong command line."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(message)
        self.flag = flag


def check_configured_sender(cfg: Config) -> None:
    """A bad `smtp.from` in the file is a config error naming the file (exit 8), a bad --from a usage error."""
    from supportctl.mail import compose

    src = cfg.source("smtp.from")
    if src.value:
        compose.check_sender(str(src.value), "smtp.from", src.source, src.origin)


def choose(
    cfg: Config,
    current: Mapping[str, Any],
    given: Mapping[str, Any],
    ask: Ask | None,
    on_bad_answer: Callable[[SupportctlError], None],
) -> dict[str, Any]:
    """The [smtp] block to write: each key from its option, else asked (`ask`: at a terminal), else as configured.

    Only what applies is asked (the token command for XOAUTH2, the password source for a login); every [smtp]
    key of the file not asked about stays as it is (allow_plaintext_auth, timeout, cc, ...).
    """
    from supportctl.config import SETTINGS, coerce, read_file
    from supportctl.mail import compose, smtp

    chosen: dict[str, Any] = {}

    def answer(key: str, default: object) -> str | None:
        assert ask is not None
        while True:
            value = ask(_(QUESTIONS[key]), "" if default is None else str(default)).strip() or None
            if key != "from" or value is None:
                return value
            try:  # the same address check as `submit`, asked again on the spot
                compose.check_sender(value)
                return value
            except UsageError as exc:
                on_bad_answer(exc)

    def pick(key: str) -> None:
        value = given.get(key)
        if value is None and ask is not None:
            default = current.get(f"smtp.{key}")
            if key == "port" and default is None:
                default = smtp.DEFAULT_PORTS.get(chosen.get("security") or "starttls")
            value = answer(key, default)
        elif value is None:
            value = current.get(f"smtp.{key}")
            if key == "from" and value:
                check_configured_sender(cfg)
        elif key == "from":
            compose.check_sender(str(value))  # --from: exit 2
        if value is not None:
            flag = "--" + key.replace("_", "-")
            try:
                value = coerce(SETTINGS[f"smtp.{key}"], value, flag if given.get(key) is not None else str(cfg.path))
            except ConfigError as exc:
                if given.get(key) is None:
                    raise
                raise BadOptionValue(flag, exc.message.removeprefix(flag + ": ")) from None
        chosen[key] = value

    for key in ("host", "security", "port", "username", "from", "auth"):
        pick(key)
    if chosen.get("auth") == "xoauth2":
        pick("token_command")
    elif chosen.get("username") and chosen.get("auth") != "none":
        pick("password_source")
        if chosen.get("password_source") in ("command", "auto") and (
            given.get("password_command") is not None or chosen.get("password_source") == "command"
        ):
            pick("password_command")
    ca_bundle = given.get("ca_bundle")
    chosen["ca_bundle"] = ca_bundle if ca_bundle is not None else current.get("smtp.ca_bundle")
    for key, value in read_file(cfg.path).items():  # the block is rewritten whole
        short = key[len("smtp.") :] if key.startswith("smtp.") else None
        if short and short not in chosen:
            chosen[short] = value
    if not chosen.get("host"):
        raise UsageError(_("no SMTP server given"), _("pass --host or run on a terminal"))
    return chosen


@dataclass(frozen=True)
class SmtpSetup:
    """What `config smtp` did: the file written, the [smtp] block in it, and the test login (None: not tried)."""

    path: Path
    chosen: dict[str, Any]
    test: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": str(self.path), "settings": {f"smtp.{k}": v for k, v in self.chosen.items()}}
        if self.test is not None:
            data["test"] = self.test
        return data


def configure(
    cfg: Config,
    current: Mapping[str, Any],
    given: Mapping[str, Any],
    *,
    ask: Ask | None,
    prompt: Prompt | None,
    say: Callable[[str], None],
    quiet: bool,
    reread: Callable[[], Mapping[str, Any]] | None,
) -> SmtpSetup:
    """`config smtp`: choose the [smtp] block (`choose`), store the password in the keyring when asked at a
    terminal (`ask` and `prompt` given), write the file, then log in once with the settings as read back
    (`reread`; None: no test). `say` warns and refuses a bad answer; what was done is said too unless `quiet`."""
    from supportctl.mail import credentials
    from supportctl.output import error_line

    chosen = choose(cfg, current, given, ask, lambda exc: say("  " + error_line(exc.message, exc.hint)))
    keyring = chosen.get("password_source") == "keyring"
    if (
        ask is not None
        and prompt is not None
        and keyring
        and chosen.get("username")
        and credentials.keyring_available()
    ):
        pw = prompt(_("Password to store in the system keyring: "))
        if pw:
            credentials.store_in_keyring(chosen["username"], chosen["host"], pw)
    if keyring and not credentials.keyring_available():
        say(
            _("warning: {message}").format(
                message=_("the password source keyring needs the keyring module: pip install 'supportctl[keyring]'")
            )
        )
    write_smtp_config(cfg.path, chosen)
    if not quiet:
        say(_("Wrote the [smtp] settings to {path} (no password)").format(path=cfg.path))
    if reread is None:
        return SmtpSetup(cfg.path, chosen)
    values = reread()
    test = test_login(values, prompt)
    if not quiet:
        say(_("Test login to {host}: ok").format(host=values["smtp.host"]))
    return SmtpSetup(cfg.path, chosen, test)


def test_login(values: Mapping[str, Any], prompt: Prompt | None) -> dict[str, Any]:
    """Log in once with the settings as written; a failure is a config error (the settings stay saved)."""
    from supportctl.mail import credentials, smtp

    creds = credentials.obtain(values, prompt=prompt)
    outcome = smtp.check_login(smtp.SmtpSettings.from_settings(values), creds)
    if outcome.state != "sent":
        hint = _("the settings are saved; correct them with `supportctl config smtp`")
        if outcome.kind == "tls":  # its certificate: the questions do not ask for a CA, the option gives it
            hint = _(
                "the settings are saved; for a server with a certificate of its own CA: "
                "`supportctl config smtp --ca-bundle FILE`"
            )
        raise ConfigError(
            _("the test login to {host} failed: {text}").format(host=values["smtp.host"], text=outcome.text), hint
        )
    return {"ok": True, "code": outcome.code, "text": outcome.text}


def write_smtp_config(path: Any, values: Mapping[str, object]) -> None:
    """Replace the `[smtp]` table of the config file (comments elsewhere are kept), atomically.

    Never writes a password: `values` with a password-like key is a programming error.
    """
    import sys

    from supportctl.fsutil import atomic_write_text
    from supportctl.mail.credentials import FORBIDDEN_KEYS

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    import json

    p = Path(path)
    assert not any(f"smtp.{k}" in FORBIDDEN_KEYS for k in values)
    from supportctl import paths
    from supportctl.fsutil import private_dir, read_regular

    if p.parent == paths.config_dir():
        private_dir(p.parent)  # ours: 0700, never a link, never someone else's
    try:
        old = read_regular(p, 1 << 20, follow_symlinks=True, error=ConfigError).decode("utf-8-sig")
    except FileNotFoundError:
        old = ""
    kept: list[str] = []
    skipping = False
    for line in old.splitlines():
        stripped = line.strip()
        if re.match(r"^\[\s*smtp\s*\]\s*(#.*)?$", stripped):
            skipping = True
            continue
        if skipping and stripped.startswith("["):
            skipping = False
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    block = ["[smtp]"]
    for key, value in values.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int):
            rendered = str(value)
        else:
            rendered = json.dumps(str(value), ensure_ascii=False)
        block.append(f"{key} = {rendered}")
    text = "\n".join([*kept, "", *block]).lstrip("\n") + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("cannot update {path}: {reason}").format(path=p, reason=exc),
            _("fix or move the config file, then run `supportctl config smtp` again"),
        ) from None
    atomic_write_text(p, text, 0o600)
