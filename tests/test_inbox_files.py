"""Reading mail files: the head first, the whole file when asked, never past the limit, never a special file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supportctl.desk import sources
from tests import realmail as rm


def _one(root: Path, limit: int) -> sources.Envelope:
    (envelope,) = list(sources.MaildirSource(root, limit).messages())
    return envelope


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    for sub in ("new", "cur", "tmp"):
        (tmp_path / sub).mkdir()
    return tmp_path


def test_a_large_mail_is_read_whole_by_its_size(maildir: Path) -> None:
    data = rm.thunderbird([("f.pdf", rm.form())], "<big@example.org>")
    assert len(data) > sources.HEAD_CHUNK  # read twice: the head, then the whole file
    (maildir / "new" / "1.M1P1.test").write_bytes(data)
    env = _one(maildir, len(data))  # exactly at the limit
    assert (env.size, env.head, env.read()) == (len(data), sources.split_head(data), data)


def test_a_mail_that_grows_after_its_head_was_read_is_read_up_to_the_limit(maildir: Path) -> None:
    """A file appended to between the head and the body (a delivery still writing): read as it is then."""
    data = rm.thunderbird([("f.pdf", rm.form())], "<grows@example.org>")
    path = maildir / "new" / "1.M1P1.test"
    path.write_bytes(data)
    env = _one(maildir, len(data) + 10)
    with open(path, "ab") as fh:
        fh.write(b"0123456789")
    assert env.read() == data + b"0123456789"  # the size said len(data); the rest is read too
    with open(path, "ab") as fh:
        fh.write(b"!")
    with pytest.raises(sources.TooLarge):
        env.read()
    os.truncate(path, 100)  # shorter than the head that was read: what is there
    assert env.read() == data[:100]


def test_a_mail_moved_by_a_mail_client_after_its_head_was_read_is_read_where_it_went(maildir: Path) -> None:
    """A client (or Dovecot for one) moves a message from new/ to cur/ when it is seen and renames it with every
    flag it sets, keeping the unique part of its name: the body is read from there. The workers read bodies a
    little after the head, so this is no longer a window of microseconds."""
    data = rm.thunderbird([("f.pdf", rm.form())], "<moved@example.org>")
    (maildir / "new" / "1764061200.M1P1.host").write_bytes(data)
    env = _one(maildir, len(data))
    os.rename(maildir / "new" / "1764061200.M1P1.host", maildir / "cur" / "1764061200.M1P1.host:2,S")
    assert env.read() == data
    os.rename(maildir / "cur" / "1764061200.M1P1.host:2,S", maildir / "cur" / "1764061200.M1P1.host:2,RS")
    assert env.read() == data
    (maildir / "cur" / "1764061200.M1P1.host:2,RS").unlink()  # deleted: said as before
    (maildir / "cur" / "1764061200.M1P1.hostX:2,S").write_bytes(b"another message")  # not the same name
    with pytest.raises(FileNotFoundError):
        env.read()


def test_a_special_file_or_a_link_is_listed_never_opened(maildir: Path) -> None:
    os.mkfifo(maildir / "new" / "1.fifo")
    env = _one(maildir, 1000)
    assert (env.size, env.head, env.error) == (0, b"", "not a regular file (a pipe, device or socket); not read")
    os.unlink(maildir / "new" / "1.fifo")
    (maildir / "target").write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    os.symlink(maildir / "target", maildir / "new" / "2.link")
    assert _one(maildir, 1000).error == "a symbolic link; not followed"
