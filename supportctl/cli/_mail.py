"""`supportctl submit`, `outbox …`, `config smtp`: sending through the durable outbox (issue 5)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer

from supportctl import output as out
from supportctl.cli._base import (
    HELP_MARKUP,
    JsonOpt,
    PackageOpt,
    _begin,
    _Group,
    _load_config,
    _load_package,
    app,
    config_app,
)
from supportctl.errors import ExitCode
from supportctl.i18n import _

# ================================================================ submit, outbox (issue 5)
# Sending: `submit`, `outbox …`, `config smtp`.
# Core: supportctl/mail.py, supportctl/smtp.py, supportctl/outbox.py, supportctl/credentials.py.
# (section start)
_STATE_EXIT = {
    "sent": ExitCode.OK,
    "deferred": ExitCode.QUEUED,
    "queued": ExitCode.QUEUED,
    "failed": ExitCode.MAIL_REFUSED,
    "needs-credentials": ExitCode.CONFIG,
    "uncertain": ExitCode.UNCERTAIN,
}
# Worst first: the exit status of a run that sent several messages.
_EXIT_ORDER = [ExitCode.UNCERTAIN, ExitCode.MAIL_REFUSED, ExitCode.CONFIG, ExitCode.TRANSFER, ExitCode.QUEUED]


def _result_exit(result: Any) -> ExitCode:
    if result.skipped == "state":
        # A message named on the command line that is not sendable: its state is the answer.
        return _STATE_EXIT.get(result.state, ExitCode.OK) if result.state != "queued" else ExitCode.OK
    if result.skipped == "expired":
        return ExitCode.MAIL_REFUSED
    if result.skipped:
        return ExitCode.OK
    code = _STATE_EXIT.get(result.state, ExitCode.ERROR)
    if result.state == "deferred" and result.kind in ("network", "timeout", "tls", "starttls"):
        return ExitCode.TRANSFER
    return code


def _worst_exit(results: list[Any]) -> ExitCode:
    codes = {_result_exit(r) for r in results}
    for code in _EXIT_ORDER:
        if code in codes:
            return code
    return ExitCode.OK


def _smtp_values(cfg: Any) -> dict[str, Any]:
    return {k: r.value for k, r in cfg.values.items() if k.startswith("smtp.")}


def _mail_config(flags: dict[str, Any]) -> Any:
    from supportctl import config
    from supportctl.mail import credentials

    cfg = _load_config(flags)
    credentials.refuse_secrets_in_file(config.read_file(cfg.path), cfg.path)
    return cfg


def _password_prompt() -> Any:
    """A hidden prompt, only when a person is at a terminal; the core never prompts by itself."""
    if not sys.stdin.isatty():
        return None
    import getpass

    return lambda text: getpass.getpass(text)


def _open_session(cfg: Any) -> Any:
    from supportctl.mail import compose as mail

    return mail.open_session(_smtp_values(cfg), prompt=_password_prompt(), warn=out.say)


def _send(cfg: Any, ids: list[str] | None, mode: str) -> list[Any]:
    from supportctl.mail import outbox

    session = _open_session(cfg)
    try:
        return outbox.send(ids, session, mode=mode)
    finally:
        session.close()


def _state_label(state: str) -> str:
    from supportctl.mail.outbox import state_label

    return state_label(state)


def _when(iso: Any) -> str:
    """An ISO time from the outbox, in the chosen language's format; as stored if it is not one."""
    if not iso:
        return ""
    try:
        return out.format_datetime(datetime.fromisoformat(str(iso)))
    except ValueError:
        return str(iso)


def _result_line(r: Any) -> str:
    if r.skipped == "busy":
        return _("{id}: skipped, another supportctl run is sending it").format(id=r.id)
    if r.skipped == "expired":
        return _("{id}: failed, given up after 5 days").format(id=r.id)
    if r.skipped:
        return _("{id}: not sent, it is {state} (see `supportctl outbox show {id}`)").format(
            id=r.id, state=_state_label(r.state)
        )
    lines = {
        "sent": _("{id}: sent ({text})"),
        "deferred": _("{id}: not sent, will be retried: {text}"),
        "failed": _("{id}: refused permanently: {text}"),
        "needs-credentials": _("{id}: login failed or no credentials: {text}"),
        "uncertain": _("{id}: UNCERTAIN whether it was delivered: {text}"),
    }
    code = f"{r.code} " if r.code else ""
    line = lines.get(r.state, "{id}: {text}").format(id=r.id, text=(code + r.text).strip())
    for addr, (rc, rt) in sorted(r.refused.items()):
        line += "\n  " + _("recipient {addr} refused: {code} {text}").format(addr=addr, code=rc, text=rt)
    return line


def _hint_for(state: str, entry_id: str) -> str | None:
    hints = {
        "deferred": _("it stays in the outbox; `supportctl outbox flush` (cron) or `supportctl outbox retry {id}`"),
        "needs-credentials": _("fix the login (`supportctl config smtp`), then `supportctl outbox retry {id}`"),
        "uncertain": _(
            "check the recipient's mailbox or the sent folder; then `supportctl outbox resolve {id} "
            "--delivered` or `--resend`"
        ),
        "failed": _("read the server's reason; correct and `supportctl submit --again`"),
    }
    h = hints.get(state)
    return h.format(id=entry_id) if h else None


@app.command(no_args_is_help=True)
def submit(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help=_("The filled registration form (PDF)."), metavar="FORM.pdf")],
    package: PackageOpt = None,
    to: Annotated[
        str | None, typer.Option("--to", help=_("Recipient (default: the package's registration address)."))
    ] = None,
    sender: Annotated[str | None, typer.Option("--from", help=_("Sender address (default: smtp.from)."))] = None,
    cc: Annotated[str | None, typer.Option("--cc", help=_("Copy to these addresses (comma-separated)."))] = None,
    again: Annotated[bool, typer.Option("--again", help=_("Send a form that was submitted before once more."))] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=_("Show the message and the server; send and queue nothing."))
    ] = False,
    eml: Annotated[
        str | None, typer.Option("--eml", help=_("Write the message to FILE instead of sending it."), metavar="FILE")
    ] = None,
    ca_bundle: Annotated[
        str | None, typer.Option("--ca-bundle", help=_("CA certificates to verify the server with."), metavar="FILE")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """E-mail the filled form to the registration desk, through the durable outbox.

    Examples:  supportctl submit form.pdf --dry-run   ·   supportctl submit form.pdf --cc me@example.com
    """
    _begin(ctx, "submit", json_output)
    from pathlib import Path

    from supportctl.errors import InvalidInputError
    from supportctl.fsutil import atomic_write
    from supportctl.mail import compose as mail
    from supportctl.mail import outbox

    cfg = _mail_config({"smtp.from": sender, "smtp.cc": cc, "smtp.ca_bundle": ca_bundle})
    pkg = _load_package(package, cfg)
    path = Path(form)
    from supportctl.fsutil import read_regular

    try:
        if path.stat().st_size > mail.MAX_FORM_BYTES:
            raise InvalidInputError(_("{path} is too large for a registration form").format(path=path))
        data = read_regular(path, mail.MAX_FORM_BYTES, follow_symlinks=True)
    except OSError as exc:
        raise InvalidInputError(
            _("cannot read {path}: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    report = mail.validate_form(pkg, data, path.name)
    if not report.ok:
        from supportctl.form import pdfform as form_core

        if not json_output:
            for f in report.findings:
                line = (f"{f.field}: " if f.field else "") + f.message
                out.say("  " + (f"{line} ({f.suggestion})" if f.suggestion else line))
        # Exit 4; with --json the envelope's error carries every finding.
        raise form_core.FormFindingsError(list(report.findings))
    composed = mail.compose(
        pkg,
        report.values,
        data,
        path.name,
        cfg.get("smtp.from"),
        to=mail.split_addresses(to, "--to"),
        cc=mail.split_addresses(cfg.get("smtp.cc"), "--cc"),
    )
    if eml is not None:
        from email import policy

        atomic_write(Path(eml), composed.message.as_bytes(policy=policy.SMTP), 0o600)
        if json_output:
            out.write_out(out.envelope("submit", {"eml": eml, "message": composed.to_dict(), "sent": False}))
        else:
            out.say(_("Wrote the message to {path}; nothing was sent").format(path=eml))
        return
    if dry_run:
        _render_dry_run(composed, cfg, json_output)
        return
    session = _open_session(cfg)  # a missing server is a config error before anything is queued
    try:
        entry = outbox.enqueue(
            composed.message, outbox.make_dedupe_key(composed.pdf_sha256, composed.to[0]), again=again
        )
        outbox.failpoint("after-queue-write")
        if not json_output:
            out.say(_("Queued as {id} in the outbox").format(id=entry.id))
        result = outbox.send([entry.id], session, mode="submit")[0]
    finally:
        session.close()
    code = _result_exit(result)
    if json_output:
        errors = []
        if code != ExitCode.OK:
            errors.append(
                {
                    "code": result.state,
                    "exit_code": int(code),
                    "message": result.text,
                    "hint": _hint_for(result.state, entry.id),
                }
            )
        data_out = {"id": entry.id, "message": composed.to_dict(), "result": result.to_dict()}
        out.write_out(out.envelope("submit", data_out, errors, ok=code == ExitCode.OK))
    else:
        out.say(_result_line(result))
        hint = _hint_for(result.state, entry.id)
        if hint:
            out.say("  " + hint)
    raise typer.Exit(int(code))


def _server_line(server: dict[str, Any]) -> str:
    """The server part of `submit --dry-run`: the password's source in words, never the password."""
    host = server["host"] or _("(not configured)")
    port = server["port"] or "-"
    if server["password_source"] == "none":
        return _("Server: {host}:{port} ({security}), no login").format(
            host=host, port=port, security=server["security"]
        )
    sources = {
        "env": _("the SUPPORTCTL_SMTP_PASSWORD variable"),
        "token_command": _("the token command (XOAUTH2)"),
        "command": _("the password command"),
        "command (or keyring)": _("the password command or the keyring"),
        "keyring": _("the system keyring"),
        "keyring or prompt": _("the system keyring, else a prompt"),
        "prompt": _("a prompt"),
    }
    source = sources.get(server["password_source"], server["password_source"])
    return _("Server: {host}:{port} ({security}), login {user}, password from {source}").format(
        host=host, port=port, security=server["security"], user=server["username"] or "-", source=source
    )


def _render_dry_run(composed: Any, cfg: Any, json_output: bool) -> None:
    from supportctl.mail import credentials, smtp

    values = _smtp_values(cfg)
    server = {
        "host": values.get("smtp.host"),
        "port": values.get("smtp.port") or smtp.DEFAULT_PORTS.get(values.get("smtp.security") or "starttls"),
        "security": values.get("smtp.security"),
        "username": values.get("smtp.username"),
        "auth": values.get("smtp.auth"),
        "password_source": credentials.describe_source(values),
    }
    if json_output:
        out.write_out(out.envelope("submit", {"dry_run": True, "message": composed.to_dict(), "server": server}))
        return
    d = composed.to_dict()
    lines = [
        f"From: {d['from']}",
        f"To: {', '.join(d['to'])}",
        *([f"Cc: {', '.join(d['cc'])}"] if d["cc"] else []),
        f"Date: {d['date']}",
        f"Message-ID: {d['message_id']}",
        f"Subject: {d['subject']}",
        _("Attachment: {name} (application/pdf, {size} bytes, sha256 {sha})").format(
            name=d["attachment"]["filename"], size=d["attachment"]["size"], sha=d["attachment"]["sha256"]
        ),
        "",
        d["body"].rstrip("\n"),
        "",
        _server_line(server),
        _("Dry run: nothing was sent or queued."),
    ]
    out.write_out("\n".join(lines))


outbox_app = typer.Typer(
    cls=_Group,
    help=_("The durable outbox of messages to send: list, show, retry, flush, resolve, purge."),
    invoke_without_command=True,
    rich_markup_mode=HELP_MARKUP,
)
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox_main(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Without a subcommand: list the outbox."""
    if ctx.invoked_subcommand is None:
        _begin(ctx, "outbox list", json_output)
        _outbox_list(json_output)


@outbox_app.command("list")
def outbox_list(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List every message: state, attempts, next try, the server's last reply."""
    _begin(ctx, "outbox list", json_output)
    _outbox_list(json_output)


def _outbox_list(json_output: bool) -> None:
    from supportctl.mail import outbox

    items = outbox.entries()
    if json_output:
        out.write_out(out.envelope("outbox list", {"messages": [e.to_dict() for e in items]}))
        return
    if not items:
        out.say(_("The outbox is empty."))
        return
    rows = [
        [
            e.id,
            _state_label(e.state),
            str(e.attempts),
            _when(e.next_attempt),
            ", ".join(e.recipients),
            e.subject,
            f"{e.last_code or ''} {e.last_text or ''}".strip()[:80],
        ]
        for e in items
    ]
    out.table(
        _("Outbox"),
        [_("ID"), _("State"), _("Attempts"), _("Next try"), _("To"), _("Subject"), _("Last reply")],
        rows,
    )


@outbox_app.command("show", no_args_is_help=True)
def outbox_show(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help=_("Message id (a unique prefix is enough)."), metavar="ID")],
    json_output: JsonOpt = False,
) -> None:
    """Show one message: its state, headers and every attempt."""
    _begin(ctx, "outbox show", json_output)
    from supportctl.mail import outbox

    e = outbox.get(message_id)
    if json_output:
        out.write_out(out.envelope("outbox show", e.to_dict()))
        return
    lines = [
        _("ID: {id}").format(id=e.id),
        _("State: {state}").format(state=_state_label(e.state)),
        f"Message-ID: {e.message_id}",
        f"From: {e.sender}",
        f"To: {', '.join(e.recipients)}",
        f"Subject: {e.subject}",
        _("Queued: {when}").format(when=_when(e.created)),
        _("Attempts: {n}").format(n=e.attempts),
    ]
    if e.queue_id:
        lines.append(_("Server queue id: {qid}").format(qid=e.queue_id))
    if e.next_attempt and e.state == "deferred":
        lines.append(_("Next try: {when}").format(when=_when(e.next_attempt)))
    for addr, (rc, rt) in sorted(e.refused.items()):
        lines.append(_("Recipient {addr} refused: {code} {text}").format(addr=addr, code=rc, text=rt))
    lines.append(_("History:"))
    for h in e.history:
        state = _state_label(str(h.get("state")))
        lines.append(f"  {_when(h.get('at'))}  {state}  {h.get('code') or ''} {h.get('text') or ''}".rstrip())
    lines.append(_("Message file: {path}").format(path=e.path / "message.eml"))
    out.write_out("\n".join(lines))


def _render_results(command: str, results: list[Any], json_output: bool) -> None:
    code = _worst_exit(results)
    if json_output:
        out.write_out(out.envelope(command, {"results": [r.to_dict() for r in results]}, ok=code == ExitCode.OK))
    else:
        for r in results:
            out.say(_result_line(r))
    raise typer.Exit(int(code))


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help=_("Message ids."), metavar="ID…")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help=_("Every queued, deferred or needs-credentials message."))
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Try these messages now, whatever their backoff, over one connection (never uncertain or failed ones)."""
    _begin(ctx, "outbox retry", json_output)
    from supportctl.errors import UsageError

    if not ids and not all_:
        raise UsageError(_("name message ids or use --all"), _("`supportctl outbox list` shows them"))
    cfg = _mail_config({})
    results = _send(cfg, None if all_ else list(ids or []), "retry")
    if all_:
        results = [r for r in results if r.skipped != "state"]
    _render_results("outbox retry", results, json_output)


@outbox_app.command("flush")
def outbox_flush(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """Send what is due (for cron or a timer), over one connection."""
    _begin(ctx, "outbox flush", json_output)
    from supportctl.mail import outbox

    cfg = _mail_config({})
    if not any(e.state in ("queued", "deferred") for e in outbox.entries()):
        _render_results("outbox flush", [], json_output)
    _render_results("outbox flush", [r for r in _send(cfg, None, "flush") if r.skipped != "state"], json_output)


@outbox_app.command("resolve", no_args_is_help=True)
def outbox_resolve(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(help=_("Message id."), metavar="ID")],
    delivered: Annotated[bool, typer.Option("--delivered", help=_("It arrived: mark it sent."))] = False,
    resend: Annotated[bool, typer.Option("--resend", help=_("It did not arrive: queue it again."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Decide an uncertain message: it was delivered, or send it again."""
    _begin(ctx, "outbox resolve", json_output)
    from supportctl.errors import UsageError
    from supportctl.mail import outbox

    if delivered == resend:
        raise UsageError(_("use exactly one of --delivered and --resend"))
    e = outbox.resolve(message_id, delivered=delivered)
    if json_output:
        out.write_out(out.envelope("outbox resolve", e.to_dict()))
    elif delivered:
        out.say(_("{id} marked as delivered").format(id=e.id))
    else:
        out.say(_("{id} queued again; `supportctl outbox retry {id}` sends it now").format(id=e.id))


@outbox_app.command("purge")
def outbox_purge(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help=_("Also delete failed messages."))] = False,
    json_output: JsonOpt = False,
) -> None:
    """Delete sent messages (and failed ones with --failed); the same form can then be submitted again."""
    _begin(ctx, "outbox purge", json_output)
    from supportctl.mail import outbox

    removed = outbox.purge(("sent", "failed") if failed else ("sent",))
    if json_output:
        out.write_out(out.envelope("outbox purge", {"removed": removed}))
    else:
        out.say(_("Deleted {n} message(s) from the outbox").format(n=len(removed)))


@config_app.command("smtp")
def config_smtp(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help=_("SMTP server."))] = None,
    port: Annotated[int | None, typer.Option("--port", help=_("Port (587 starttls, 465 tls)."))] = None,
    security: Annotated[str | None, typer.Option("--security", help=_("starttls, tls or none."))] = None,
    username: Annotated[str | None, typer.Option("--username", help=_("Login name."))] = None,
    sender: Annotated[str | None, typer.Option("--from", help=_("Sender address."))] = None,
    auth: Annotated[str | None, typer.Option("--auth", help=_("password, xoauth2 or none."))] = None,
    password_source: Annotated[
        str | None, typer.Option("--password-source", help=_("auto, env, keyring, command or prompt."))
    ] = None,
    password_command: Annotated[
        str | None, typer.Option("--password-command", help=_("Command that prints the password (no shell)."))
    ] = None,
    token_command: Annotated[
        str | None, typer.Option("--token-command", help=_("Command that prints an OAuth2 access token."))
    ] = None,
    ca_bundle: Annotated[str | None, typer.Option("--ca-bundle", help=_("CA certificates file."))] = None,
    test: Annotated[bool, typer.Option("--test/--no-test", help=_("Log in once to check the settings."))] = True,
    json_output: JsonOpt = False,
) -> None:
    """Set up sending: server, security, login and where the password comes from. Never stores a password."""
    _begin(ctx, "config smtp", json_output)
    from supportctl.config import SETTINGS, _coerce
    from supportctl.mail import compose as mail
    from supportctl.mail import credentials, smtp

    cfg = _mail_config({})
    current = _smtp_values(cfg)
    tty = sys.stdin.isatty() and not json_output
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
    questions = {
        "host": _("SMTP server"),
        "security": _("Security (starttls, tls, none)"),
        "port": _("Port"),
        "username": _("Login name (empty: no login)"),
        "from": _("Sender address"),
        "auth": _("Login method (password, xoauth2, none)"),
        "password_source": _("Password from (auto, env, keyring, command, prompt)"),
        "password_command": _("Command that prints the password"),
        "token_command": _("Command that prints the access token"),
    }
    chosen: dict[str, Any] = {}

    def ask(key: str) -> None:
        value = given.get(key)
        if value is None and tty:
            default = current.get(f"smtp.{key}")
            if key == "port" and default is None:
                default = smtp.DEFAULT_PORTS.get(chosen.get("security") or "starttls")
            answer = typer.prompt(questions[key], default="" if default is None else str(default), show_default=True)
            value = answer.strip() or None
        elif value is None:
            value = current.get(f"smtp.{key}")
        if value is not None:
            value = _coerce(SETTINGS[f"smtp.{key}"], value, f"smtp.{key}")
        chosen[key] = value

    for key in ("host", "security", "port", "username", "from", "auth"):
        ask(key)
    if chosen.get("auth") == "xoauth2":
        ask("token_command")
    elif chosen.get("username") and chosen.get("auth") != "none":
        ask("password_source")
        if chosen.get("password_source") in ("command", "auto") and (
            password_command is not None or chosen.get("password_source") == "command"
        ):
            ask("password_command")
    chosen["ca_bundle"] = given["ca_bundle"] if given["ca_bundle"] is not None else current.get("smtp.ca_bundle")
    # Every [smtp] key of the file that was not asked about stays as it is (password_command,
    # allow_plaintext_auth, timeout, cc, ...): the block is rewritten whole.
    from supportctl.config import read_file

    for key, value in read_file(cfg.path).items():
        short = key[len("smtp.") :] if key.startswith("smtp.") else None
        if short and short not in chosen:
            chosen[short] = value
    if not chosen.get("host"):
        from supportctl.errors import UsageError

        raise UsageError(_("no SMTP server given"), _("pass --host or run on a terminal"))
    if (
        tty
        and chosen.get("password_source") == "keyring"
        and chosen.get("username")
        and credentials.keyring_available()
    ):
        import getpass

        pw = getpass.getpass(_("Password to store in the system keyring: "))
        if pw:
            credentials.store_in_keyring(chosen["username"], chosen["host"], pw)
    mail.write_smtp_config(cfg.path, chosen)
    result: dict[str, Any] = {"path": str(cfg.path), "settings": {f"smtp.{k}": v for k, v in chosen.items()}}
    if not json_output:
        out.say(_("Wrote the [smtp] settings to {path} (no password)").format(path=cfg.path))
    if test:
        fresh = _mail_config({})
        values = _smtp_values(fresh)
        creds = credentials.obtain(values, prompt=_password_prompt())
        outcome = smtp.check_login(smtp.SmtpSettings.from_settings(values), creds)
        result["test"] = {"ok": outcome.state == "sent", "code": outcome.code, "text": outcome.text}
        if outcome.state != "sent":
            from supportctl.errors import ConfigError

            raise ConfigError(
                _("the test login to {host} failed: {text}").format(host=values["smtp.host"], text=outcome.text),
                _("the settings are saved; correct them with `supportctl config smtp`"),
            )
        if not json_output:
            out.say(_("Test login to {host}: ok").format(host=values["smtp.host"]))
    if json_output:
        out.write_out(out.envelope("config smtp", result))


# (section end: submit, outbox)


def outbox_send_now(entry_id: str, session: Any) -> Any:
    """Send one message just queued (also for `fetch --request`): the result of `outbox.send`."""
    from supportctl.mail import outbox

    return outbox.send([entry_id], session, mode="submit")[0]


def _report_sent(command: str, result: Any, data: dict[str, Any], json_output: bool, failed_hint: str) -> NoReturn:
    """The outcome of sending one queued message, with the exit codes of `submit` (also for `fetch --request`)."""
    code = _result_exit(result)
    hint = failed_hint if result.state == "failed" else _hint_for(result.state, result.id)
    if json_output:
        errors = []
        if code != ExitCode.OK:
            errors.append({"code": result.state, "exit_code": int(code), "message": result.text, "hint": hint})
        body = {**data, "sent": result.state == "sent", "result": result.to_dict()}
        out.write_out(out.envelope(command, body, errors, ok=code == ExitCode.OK))
    else:
        if result.skipped == "state" and result.state == "sent":
            out.say(_("{id}: sent before").format(id=result.id))
        else:
            out.say(_result_line(result))
        if hint:
            out.say("  " + hint)
    raise typer.Exit(int(code))
