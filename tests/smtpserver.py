"""A real aiosmtpd server on 127.0.0.1 with STARTTLS (throw-away trustme CA), AUTH and switchable faults.

Faults (`server.mode`): ok, greet421, rcpt451, rcpt452, rcpt550, data554, drop-mid-data, drop-after-dot,
stall (RCPT hangs), slow-data (DATA reply after a pause). `server.refuse` refuses single addresses.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER = "alice@example.org"
PASSWORD = "s3cr3t-Pa55-\u00e9xyz"
TOKEN = "ya29.token-abcdefghijklmnop"


@dataclass
class Handler:
    mode: str = "ok"
    refuse: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    auth_seen: list[str] = field(default_factory=list)
    connections: int = 0
    password: str = PASSWORD
    token: str = TOKEN
    stall_seconds: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "stall":
            await asyncio.sleep(self.stall_seconds)
        if address in self.refuse:
            return self.refuse[address]
        codes = {
            "rcpt451": "451 4.3.0 Try again later",
            "rcpt452": "452 4.2.2 Mailbox full",
            "rcpt550": "550 5.1.1 No such user",
        }
        if self.mode in codes:
            return codes[self.mode]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "data554":
            return "554 5.7.1 Message rejected as spam"
        if self.mode == "slow-data":
            await asyncio.sleep(1.5)
        with self.lock:
            self.messages.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "data": bytes(envelope.original_content),
                    "mail_options": list(envelope.mail_options),
                }
            )
            n = len(self.messages)
        if self.mode == "drop-after-dot":
            server.transport.abort()
        return f"250 2.0.0 Ok: queued as Q{n:05d}"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        self.auth_seen.append("XOAUTH2")
        raw = base64.b64decode(args[1]) if len(args) > 1 else b""
        parts = dict(p.split("=", 1) for p in raw.decode().split("\x01") if "=" in p)
        if parts.get("user") == USER and parts.get("auth") == f"Bearer {self.token}":
            return AuthResult(success=True, auth_data=parts["user"])
        await server.challenge_auth('{"status":"401","schemes":"bearer"}')
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


class FaultySMTP(SMTP):
    async def _handle_client(self) -> None:
        handler: Handler = self.event_handler
        handler.connections += 1
        if handler.mode == "greet421":
            await self.push("421 4.3.2 Service not available, closing transmission channel")
            self.transport.close()
            return
        await super()._handle_client()

    async def smtp_DATA(self, arg: str) -> None:
        if self.event_handler.mode == "drop-mid-data" and self.envelope.rcpt_tos:
            # Hang up right after inviting the data: the client is mid-DATA and has not sent the final ".".
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            self.transport.abort()
            return
        await super().smtp_DATA(arg)


def _authenticator(handler: Handler) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        handler.auth_seen.append(mechanism)
        if (
            isinstance(data, LoginPassword)
            and data.login.decode() == USER
            and data.password.decode() == handler.password
        ):
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


class _Controller(Controller):
    def factory(self) -> SMTP:
        return FaultySMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # The default readiness probe would count as a connection and trip greet421: a plain connect suffices.
        with socket.create_connection((self.hostname, self.port), 1.0):
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    handler: Handler
    controller: Controller
    port: int
    ca_file: Path

    @property
    def mode(self) -> str:
        return self.handler.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.handler.mode = value

    def count(self) -> int:
        return self.handler.count()

    def wait_count(self, n: int, timeout: float = 3.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.count() < n:
            time.sleep(0.02)
        return self.count()

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "SUPPORTCTL_SMTP_HOST": "127.0.0.1",
            "SUPPORTCTL_SMTP_PORT": str(self.port),
            "SUPPORTCTL_SMTP_SECURITY": "starttls",
            "SUPPORTCTL_SMTP_USERNAME": USER,
            "SUPPORTCTL_SMTP_FROM": USER,
            "SUPPORTCTL_SMTP_CA_BUNDLE": str(self.ca_file),
            "SUPPORTCTL_SMTP_TIMEOUT": "1",
            "SUPPORTCTL_SMTP_PASSWORD": PASSWORD,
        }
        env.update(extra)
        return env

    def stop(self) -> None:
        self.controller.stop()


def start(
    tmp: Path,
    *,
    starttls: bool = True,
    cert_host: str = "127.0.0.1",
    auth_require_tls: bool = True,
    implicit_tls: bool = False,
    eight_bit: bool = True,
    size_limit: int | None = None,
) -> Server:
    ca = trustme.CA()
    cert = ca.issue_cert(cert_host)
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    handler = Handler()
    kwargs: dict[str, Any] = {
        "authenticator": _authenticator(handler),
        "auth_require_tls": auth_require_tls,
        "decode_data": not eight_bit,  # aiosmtpd advertises 8BITMIME only when it keeps the bytes
    }
    if size_limit is not None:
        kwargs["data_size_limit"] = size_limit
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    extra: dict[str, Any] = {}
    if implicit_tls:
        # aiosmtpd does not count implicit TLS as "TLS" for AUTH: allow AUTH explicitly.
        extra["ssl_context"] = ctx
        kwargs["auth_require_tls"] = False
    elif starttls:
        kwargs["tls_context"] = ctx
    port = free_port()
    controller = _Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **extra, **kwargs)
    controller.start()
    end = time.monotonic() + 2
    while handler.connections < 1 and time.monotonic() < end:  # the readiness probe is not a client
        time.sleep(0.01)
    handler.connections = 0
    return Server(handler, controller, port, ca_file)
