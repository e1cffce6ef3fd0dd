"""SMTP transport: verified TLS, AUTH, and a DATA phase that knows whether the final "." went out.

One `Session` sends many messages over one connection. Each `deliver` returns an `Outcome` whose
`state` is what the outbox records: sent, deferred (try again later), failed (permanent), needs-credentials,
or uncertain (the connection died after the final "." and before the reply: the server may have it).
smtplib and ssl are imported inside the functions (start-up time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supportctl.errors import ConfigError, os_reason
from supportctl.i18n import _
from supportctl.mail.credentials import Credentials

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_QUEUE_ID = re.compile(r"(?:queued as|id=|queue id)\s*<?([A-Za-z0-9._@-]+)", re.I)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls | tls | none
    timeout: float
    ca_bundle: str | None
    allow_plaintext_auth: bool

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> SmtpSettings:
        host = s.get("smtp.host")
        if not host:
            raise ConfigError(
                _("no SMTP server configured"),
                _("run `supportctl config smtp` or set SUPPORTCTL_SMTP_HOST"),
            )
        security = s.get("smtp.security") or "starttls"
        port = s.get("smtp.port") or DEFAULT_PORTS[security]
        timeout = s.get("smtp.timeout") or 30
        if timeout <= 0:
            raise ConfigError(_("smtp.timeout must be at least 1 second"))
        return cls(
            host, int(port), security, float(timeout), s.get("smtp.ca_bundle"), bool(s.get("smtp.allow_plaintext_auth"))
        )


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | deferred | failed | needs-credentials | uncertain
    code: int | None
    text: str
    kind: str = "reply"  # reply | network | timeout | tls | starttls | auth | credentials
    queue_id: str | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


class _Fail(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.text)
        self.outcome = outcome


def _text(resp: bytes | str) -> str:
    raw = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
    return " ".join(raw.split())[:500]


def _state_for(code: int) -> str:
    if code in (530, 534, 535):
        return "needs-credentials"
    if 400 <= code < 500:
        return "deferred"
    return "failed"


def _reason(exc: BaseException) -> str:
    import socket

    if isinstance(exc, socket.timeout | TimeoutError):
        return _("timed out")
    if isinstance(exc, OSError):  # errno texts in the user's language; "not TLS" in words
        return os_reason(exc)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def quote_data(data: bytes) -> bytes:
    """CRLF line ends and dot-stuffing (RFC 5321 4.5.2), ending in CRLF; the final "." is sent apart."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


class Session:
    """One SMTP connection, opened on first use, reused for every message, reopened after a drop."""

    def __init__(
        self,
        settings: SmtpSettings,
        credentials: Callable[[], Credentials | None],
        warn: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._warn = warn
        self._conn: Any = None
        self._connect_failure: Outcome | None = None
        self._creds: Credentials | None = None
        self._creds_loaded = False

    # ------------------------------------------------------------ connection

    def _get_credentials(self) -> Credentials | None:
        if not self._creds_loaded:
            self._creds = self._credentials()
            self._creds_loaded = True
        return self._creds

    def _open(self) -> Any:
        import smtplib
        import ssl

        s = self.settings
        try:
            creds = self._get_credentials()
        except ConfigError as exc:
            raise _Fail(Outcome("needs-credentials", None, exc.message, "credentials")) from None
        if creds is not None and s.security == "none":
            if not s.allow_plaintext_auth:
                raise ConfigError(
                    _("refusing to send the password over an unencrypted connection to {host}").format(host=s.host),
                    _("use smtp.security = starttls or tls; smtp.allow_plaintext_auth = true only for a local relay"),
                )
            self._warn(
                _("WARNING: sending the password UNENCRYPTED to {host}:{port} (smtp.allow_plaintext_auth)").format(
                    host=s.host, port=s.port
                )
            )
        ctx = ssl.create_default_context(cafile=s.ca_bundle) if s.ca_bundle else ssl.create_default_context()
        conn: Any = None
        try:
            if s.security == "tls":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ctx)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            _nodelay(conn)
            code, resp = conn.ehlo()
            if code != 250:
                code, resp = conn.helo()
                if code != 250:
                    raise _Fail(Outcome(_state_for(code), code, _text(resp)))
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise _Fail(
                        Outcome(
                            "deferred",
                            None,
                            _("{host} does not offer STARTTLS; not sending without encryption").format(host=s.host),
                            "starttls",
                        )
                    )
                code, resp = conn.starttls(context=ctx)
                conn.ehlo()
            if creds is not None:
                self._login(conn, creds)
        except _Fail:
            _close(conn)
            raise
        except ssl.SSLCertVerificationError as exc:
            _close(conn)
            raise _Fail(
                Outcome(
                    "deferred",
                    None,
                    _("certificate of {host} not accepted: {reason}").format(
                        host=s.host, reason=exc.verify_message or exc.reason
                    ),
                    "tls",
                )
            ) from None
        except smtplib.SMTPResponseException as exc:  # incl. SMTPConnectError: 421 at greeting
            _close(conn)
            raise _Fail(Outcome(_state_for(exc.smtp_code), exc.smtp_code, _text(exc.smtp_error))) from None
        except OSError as exc:
            _close(conn)
            kind = "timeout" if "timed out" in _reason(exc) else "network"
            raise _Fail(
                Outcome(
                    "deferred",
                    None,
                    _("{host}:{port}: {reason}").format(host=s.host, port=s.port, reason=_reason(exc)),
                    kind,
                )
            ) from None
        return conn

    def _login(self, conn: Any, creds: Credentials) -> None:
        import smtplib

        offered = conn.esmtp_features.get("auth", "").upper().split() if conn.has_extn("auth") else []
        if creds.mechanism == "xoauth2":
            if "XOAUTH2" not in offered:
                raise _Fail(Outcome("needs-credentials", None, _("the server does not offer AUTH XOAUTH2"), "auth"))
            secret = creds.secret.value
            user = creds.username

            def xoauth2(challenge: bytes | None = None) -> str:
                # After a failure the server sends a JSON challenge; an empty reply ends the exchange.
                return "" if challenge is not None else f"user={user}\x01auth=Bearer {secret}\x01\x01"

            try:
                conn.auth("XOAUTH2", xoauth2)
            except smtplib.SMTPAuthenticationError as exc:
                raise _Fail(Outcome(_auth_state(exc.smtp_code), exc.smtp_code, _text(exc.smtp_error), "auth")) from None
            return
        if not offered:
            raise _Fail(Outcome("needs-credentials", None, _("the server offers no AUTH on this connection"), "auth"))
        # smtplib's login() encodes as ASCII only; PLAIN and LOGIN are done here, in UTF-8 (RFC 4616).
        import base64

        def b64(raw: str) -> str:
            return base64.b64encode(raw.encode("utf-8")).decode("ascii")

        user, secret = creds.username, creds.secret.value
        if "PLAIN" in offered:
            code, resp = conn.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{secret}"))
        elif "LOGIN" in offered:
            code, resp = conn.docmd("AUTH", "LOGIN")
            if code == 334:
                code, resp = conn.docmd(b64(user))
            if code == 334:
                code, resp = conn.docmd(b64(secret))
        else:
            raise _Fail(
                Outcome(
                    "needs-credentials",
                    None,
                    _("the server offers no supported AUTH mechanism ({offered})").format(offered=" ".join(offered)),
                    "auth",
                )
            )
        if code != 235:
            raise _Fail(Outcome(_auth_state(code), code, _text(resp), "auth"))

    def _ensure(self) -> Any:
        if self._conn is not None:
            return self._conn
        if self._connect_failure is not None:
            # The server could not be reached a moment ago: do not hammer it once per message.
            raise _Fail(self._connect_failure)
        try:
            self._conn = self._open()
        except _Fail as f:
            self._connect_failure = f.outcome
            raise
        return self._conn

    def _drop(self) -> None:
        _close(self._conn)
        self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except Exception:
                pass
            self._drop()

    # ------------------------------------------------------------ one message

    def deliver(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        before_dot: Callable[[], None],
        after_dot: Callable[[], None] = lambda: None,
    ) -> Outcome:
        """Send one message. `before_dot` runs (and must persist "dot sent") right before the final "."."""
        try:
            conn = self._ensure()
        except _Fail as f:
            return f.outcome
        options: list[str] = []
        if conn.has_extn("size"):
            limit = conn.esmtp_features.get("size", "").strip()
            if limit.isdigit() and 0 < int(limit) < len(data):
                # Refused before a byte of it is uploaded: the server said how much it takes.
                text = _("the message is {size} bytes; the server accepts at most {limit}").format(
                    size=len(data), limit=int(limit)
                )
                return Outcome("failed", 552, text)
            options.append(f"SIZE={len(data)}")
        if not data.isascii():
            if conn.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            else:
                data = seven_bit(data)  # the server takes 7-bit only: the same message, text parts re-encoded
        try:
            code, resp = conn.mail(sender, options)
            if code != 250:
                return self._abort(conn, Outcome(_state_for(code), code, _text(resp)))
            refused: dict[str, tuple[int, str]] = {}
            accepted = []
            for rcpt in recipients:
                code, resp = conn.rcpt(rcpt)
                if code in (250, 251):
                    accepted.append(rcpt)
                else:
                    refused[rcpt] = (code, _text(resp))
                    if code == 421:
                        return self._abort(conn, Outcome("deferred", code, _text(resp), refused=refused))
            if not accepted:
                codes = [c for c, _t in refused.values()]
                state = "deferred" if any(400 <= c < 500 for c in codes) else _state_for(codes[0])
                first = next(iter(refused.values()))
                return self._abort(conn, Outcome(state, first[0], first[1], refused=refused))
            code, resp = conn.docmd("DATA")
            if code != 354:
                return self._abort(conn, Outcome(_state_for(code), code, _text(resp), refused=refused))
            conn.send(quote_data(data))
        except OSError as exc:  # smtplib's exceptions are OSErrors too: the "." has NOT been sent
            self._drop()
            kind = "timeout" if "timed out" in _reason(exc) else "network"
            return Outcome(
                "deferred",
                None,
                _("connection lost before the end of the message: {reason}").format(reason=_reason(exc)),
                kind,
            )
        if _peer_spoke(conn):
            # The server replied or hung up before the final ".": it cannot have accepted the message.
            self._drop()
            return Outcome("deferred", None, _("the server closed the connection during the message"), "network")
        before_dot()
        import ssl

        end = b".\r\n"
        try:
            sent = conn.sock.send(end)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            # The write failed because the server had ALREADY closed or reset the connection: whatever we
            # write after that is discarded by it, so it cannot have received the ".".
            self._drop()
            return Outcome("deferred", None, _("the server closed the connection during the message"), "network")
        except OSError as exc:
            self._drop()
            return _uncertain(exc, refused)
        try:
            if sent < len(end):
                conn.sock.sendall(end[sent:])
            after_dot()
            code, resp = conn.getreply()
        except OSError as exc:
            self._drop()
            return _uncertain(exc, refused)
        text = _text(resp)
        if code == 250:
            m = _QUEUE_ID.search(text)
            return Outcome("sent", code, text, queue_id=m.group(1) if m else None, refused=refused)
        if code == 421:
            self._drop()
        return Outcome(_state_for(code), code, text, refused=refused)

    def _abort(self, conn: Any, outcome: Outcome) -> Outcome:
        """End a failed transaction so that the next message can use the same connection."""
        if outcome.code == 421:
            self._drop()
            return outcome
        try:
            conn.rset()
        except Exception:
            self._drop()
        return outcome


def _uncertain(exc: BaseException, refused: dict[str, tuple[int, str]]) -> Outcome:
    return Outcome(
        "uncertain",
        None,
        _("connection lost after the message was handed over, before the server confirmed it: {reason}").format(
            reason=_reason(exc)
        ),
        "network",
        refused=refused,
    )


def _nodelay(conn: Any) -> None:
    """The final ".\r\n" is a small write right after the body: without TCP_NODELAY, Nagle's algorithm and
    the server's delayed ACK hold it back ~40 ms per message."""
    import socket

    try:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def _peer_spoke(conn: Any) -> bool:
    """Whether anything (a reply, a close) is waiting from the server before we end DATA."""
    import select

    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _w, _x = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _auth_state(code: int) -> str:
    return "deferred" if 400 <= code < 500 else "needs-credentials"


def _close(conn: Any) -> None:
    if conn is None:
        return
    try:
        conn.close()
    except Exception:
        pass


def check_login(settings: SmtpSettings, credentials: Credentials | None) -> Outcome:
    """Connect, log in, QUIT: the test `config smtp` offers. Sends no message."""
    session = Session(settings, lambda: credentials)
    try:
        session._ensure()
    except _Fail as f:
        return f.outcome
    finally:
        session.close()
    return Outcome("sent", 235, _("login ok"))


def seven_bit(data: bytes) -> bytes:
    """The same message with every 8-bit text part re-encoded as quoted-printable (for servers without 8BITMIME)."""
    from email import message_from_bytes, policy
    from email.message import EmailMessage

    msg = message_from_bytes(data, policy=policy.SMTP)
    assert isinstance(msg, EmailMessage)
    for part in msg.walk():
        if part.is_multipart() or str(part.get("Content-Transfer-Encoding", "")).lower() != "8bit":
            continue
        part.set_content(
            part.get_content(),
            subtype=part.get_content_subtype(),
            charset="utf-8",
            cte="quoted-printable",
            disposition=part.get_content_disposition(),
            filename=part.get_filename(),
        )
    return msg.as_bytes(policy=policy.SMTP)
