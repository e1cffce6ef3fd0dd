"""`supportctl config show|path|smtp`: the settings, where they come from, and setting up sending."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from supportctl import output as out
from supportctl.cli import common
from supportctl.cli._base import HELP_MARKUP, Group, app
from supportctl.cli.common import JsonOpt, begin, load_config, option
from supportctl.i18n import _

config_app = typer.Typer(
    cls=Group,
    rich_markup_mode=HELP_MARKUP,
    help=_("Settings: show them and where they come from (show), the file's path (path), sending (smtp)."),
)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print every setting, its value and where it came from (flag, environment, file, default)."""
    begin(ctx, "config show", json_output)
    cfg = load_config()
    if json_output:
        out.write_out(out.envelope("config show", cfg.show_data()))
        return
    out.table(*cfg.show_table())


@config_app.command("path")
def config_path(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Print the path of the config file (it need not exist); the state and cache directories on stderr."""
    begin(ctx, "config path", json_output)
    from supportctl import paths

    p = paths.config_file()
    state, cache = paths.state_dir(), paths.cache_dir()
    if json_output:
        data = {"path": str(p), "exists": p.exists(), "state": str(state), "cache": str(cache)}
        out.write_out(out.envelope("config path", data))
        return
    out.write_out(str(p))  # stdout stays the config file alone: scripts use $(supportctl config path)
    out.say(_("state: {path}").format(path=state))
    out.say(_("cache: {path}").format(path=cache))


@config_app.command("smtp")
def config_smtp(
    ctx: typer.Context,
    host: Annotated[str | None, option("--host", _("SMTP server."))] = None,
    port: Annotated[int | None, option("--port", _("Port (587 starttls, 465 tls)."))] = None,
    security: Annotated[str | None, option("--security", _("starttls, tls or none."))] = None,
    username: Annotated[str | None, option("--username", _("Login name."))] = None,
    sender: Annotated[str | None, option("--from", _("Sender address."), "ADDR")] = None,
    auth: Annotated[str | None, option("--auth", _("password, xoauth2 or none."))] = None,
    password_source: Annotated[
        str | None, option("--password-source", _("auto, env, keyring, command or prompt."))
    ] = None,
    password_command: Annotated[
        str | None, option("--password-command", _("Command that prints the password (no shell)."))
    ] = None,
    token_command: Annotated[
        str | None, option("--token-command", _("Command that prints an OAuth2 access token."))
    ] = None,
    ca_bundle: Annotated[str | None, option("--ca-bundle", _("CA certificates file."), "FILE")] = None,
    test: Annotated[bool, option("--test/--no-test", _("Log in once to check the settings."))] = True,
    json_output: JsonOpt = False,
) -> None:
    """Set up sending: server, security, login and where the password comes from. Never stores a password."""
    begin(ctx, "config smtp", json_output)
    from supportctl.mail import setup

    cfg, current = common.mail_config({})
    given = {
        "host": host,
        "port": port,
        "security": security,
        "username": username,
        "from": sender,
        "auth": auth,
        "password_source": password_source,
        "password_command": password_command,
        "token_command": token_command,
        "ca_bundle": ca_bundle,
    }

    def ask(question: str, default: str) -> str:
        return str(typer.prompt(question, default=default, show_default=True))

    try:
        done = setup.configure(
            cfg,
            current,
            given,
            ask=ask if sys.stdin.isatty() and not json_output else None,
            prompt=common.password_prompt(),
            say=out.say,
            quiet=json_output,
            reread=(lambda: common.mail_config({})[1]) if test else None,
        )
    except setup.BadOptionValue as exc:  # a usage error (exit 2, with the usage hint), as for every option
        raise typer.BadParameter(exc.message, param_hint=f"'{exc.flag}'") from None
    if json_output:
        out.write_out(out.envelope("config smtp", done.to_dict()))
