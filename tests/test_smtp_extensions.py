"""SMTP extensions as a real server offers them: SIZE (refused before upload) and 8BITMIME (or 7-bit re-encoding)."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest

from supportctl.errors import ExitCode
from tests import smtpserver
from tests.test_mail import make_pdf, only_entry


def _serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> smtpserver.Server:
    srv = smtpserver.start(tmp_path, **kw)
    for k, v in srv.env().items():
        monkeypatch.setenv(k, v)
    return srv


@pytest.fixture
def stop() -> Iterator[list[smtpserver.Server]]:
    servers: list[smtpserver.Server] = []
    yield servers
    for s in servers:
        s.stop()


def test_size_and_8bitmime_are_declared_when_offered(cli: Any, tmp_path: Path, monkeypatch: Any, stop: Any) -> None:
    srv = _serve(tmp_path, monkeypatch)
    stop.append(srv)
    r = cli("submit", str(make_pdf(tmp_path)))
    assert r.exit_code == 0, r.stderr
    got = srv.handler.messages[0]
    assert [o for o in got["mail_options"] if o.startswith("SIZE=")] == [f"SIZE={len(got['data'])}"]
    assert "BODY=8BITMIME" in got["mail_options"]  # the German summary is 8-bit UTF-8


def test_a_server_without_8bitmime_gets_7bit(cli: Any, tmp_path: Path, monkeypatch: Any, stop: Any) -> None:
    srv = _serve(tmp_path, monkeypatch, eight_bit=False)
    stop.append(srv)
    r = cli("submit", str(make_pdf(tmp_path)))
    assert r.exit_code == 0, r.stderr
    got = srv.handler.messages[0]
    assert not any(o.upper().startswith("BODY=") for o in got["mail_options"])
    assert got["data"].isascii()
    sent = email.message_from_bytes(got["data"], policy=policy.default)
    stored = email.message_from_bytes((only_entry().path / "message.eml").read_bytes(), policy=policy.default)
    # The same message: the same text, the same attachment bytes, the same Message-ID.
    assert sent["Message-ID"] == stored["Message-ID"]
    assert sent.get_body(("plain",)).get_content() == stored.get_body(("plain",)).get_content()
    assert [p.get_content() for p in sent.iter_attachments()] == [p.get_content() for p in stored.iter_attachments()]


def test_a_message_over_the_servers_size_is_refused_before_upload(
    cli: Any, tmp_path: Path, monkeypatch: Any, stop: Any
) -> None:
    srv = _serve(tmp_path, monkeypatch, size_limit=20_000)
    stop.append(srv)
    r = cli("submit", str(make_pdf(tmp_path)))
    assert r.exit_code == ExitCode.MAIL_REFUSED and "accepts at most 20000" in r.stderr
    assert srv.count() == 0 and only_entry().state == "failed"


def test_flush_and_retry_all_exit_9_naming_an_uncertain_message(
    cli: Any, tmp_path: Path, monkeypatch: Any, stop: Any
) -> None:
    srv = _serve(tmp_path, monkeypatch)
    stop.append(srv)
    srv.mode = "drop-after-dot"
    assert cli("submit", str(make_pdf(tmp_path))).exit_code == ExitCode.UNCERTAIN
    entry = only_entry()
    srv.mode = "ok"
    for argv in (("outbox", "flush"), ("outbox", "retry", "--all")):
        r = cli(*argv)
        assert r.exit_code == ExitCode.UNCERTAIN, (argv, r.stderr)
        assert f"message {entry.id} is uncertain" in r.stderr and f"outbox resolve {entry.id}" in r.stderr
    r = cli("outbox", "flush", "--json")
    assert r.json()["data"]["uncertain"] == [entry.id] and r.json()["ok"] is False
    assert srv.count() == 1  # nothing was sent again
    assert cli("outbox", "resolve", entry.id, "--delivered").exit_code == 0
    assert cli("outbox", "flush").exit_code == 0
