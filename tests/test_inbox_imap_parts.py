"""IMAP triage fetches only the parts that can hold a form, and still gives the Maildir's answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from supportctl.desk import imapparts
from tests import dovecotserver as ds
from tests import realmail as rm
from tests.test_inbox_realmail import NOW

pytestmark = pytest.mark.slow


@pytest.fixture
def dovecot() -> Iterator[ds.Dovecot]:
    try:
        srv = ds.start()
    except ds.Unavailable as exc:
        pytest.skip(str(exc))
    yield srv
    srv.stop()


def test_bodystructure_sections_follow_rfc3501() -> None:
    # The RFC's own example shape: a multipart with a nested message/rfc822 that is itself multipart.
    raw = (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "PDF" ("NAME" "a.pdf") NIL NIL "BASE64" 400 NIL ("ATTACHMENT" ("FILENAME" "a.pdf")) NIL NIL)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 900 ("date" "subj" NIL NIL NIL NIL NIL NIL NIL "<m@x>")'
        b' (("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" ("NAME" {5}\r\nb.pdf) NIL NIL "BASE64" 300 NIL NIL NIL NIL) "MIXED")'
        b" 20 NIL NIL NIL NIL)"
        b' "MIXED" ("BOUNDARY" "zz") NIL NIL NIL)'
    )
    parts = imapparts.leaves(imapparts.parse_sexp(raw)[0])
    assert [(p.section, p.type) for p in parts] == [
        ("1", "text/plain"),
        ("2", "application/pdf"),
        ("3.1", "text/plain"),
        ("3.2", "application/octet-stream"),
    ]
    assert parts[1].disposition == "attachment" and dict(parts[3].params)["name"] == "b.pdf"
    assert [p.section for p in parts if imapparts.may_hold_form(p, uuencode=False)] == ["2", "3.2"]
    with pytest.raises(imapparts.Unparsable):
        imapparts.parse_sexp(b"(" * 100)


def test_imap_and_maildir_give_the_same_records_fetching_only_candidate_parts(
    dovecot: ds.Dovecot, cli: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    for n, data in enumerate(rm.corpus().values()):
        dovecot.deliver(f"1764061200.M{n}P1.desk", data)
    monkeypatch.setenv("SUPPORTCTL_IMAP_PASSWORD", ds.PASSWORD)
    local = cli("inbox", str(dovecot.maildir), "--now", NOW, "--json")
    remote = cli("inbox", dovecot.url, "--ca-bundle", dovecot.ca, "--now", NOW, "--json")
    assert local.exit_code == remote.exit_code == 0, remote.stderr

    def essence(out: str) -> list[tuple[Any, ...]]:
        recs = [json.loads(x) for x in out.splitlines()]
        return sorted(
            (r["id"], r["status"], r["class"], r["attachment"], r["sha256"], tuple(r["reasons"])) for r in recs
        )

    assert essence(remote.stdout) == essence(local.stdout)
    # A rerun with nothing new answers the same from the state and does not rewrite it.
    from supportctl.desk import sources, triage

    state = triage.state_path("imap:" + sources.parse_imap_url(dovecot.url).url)
    before = state.stat().st_mtime_ns
    again = cli("inbox", dovecot.url, "--ca-bundle", dovecot.ca, "--now", NOW, "--json")
    assert essence(again.stdout) == essence(remote.stdout) and state.stat().st_mtime_ns == before
