"""What the desk remembers of its mailboxes: one SQLite file, `$XDG_STATE_HOME/supportctl/inbox/inbox.sqlite`.

Per source (`maildir:/…`, `imap:imaps://…`): a few settings (`meta`: the UID watermark and UIDVALIDITY, the
IMAP HIGHESTMODSEQ, the limits and what the items were computed with), one row per message (`messages`,
indexed by source + UID), the desk flags of each message (`marks`), and the triaged work list (`items`,
in due order, each with its `--json` record ready to print). Validated forms (`forms`) are shared by
all sources. A run that finds nothing new reads the settings and streams `items`: its work does not grow
with the mailbox, and neither does its memory. Every run's writes are one transaction (WAL mode), so an
interrupted run leaves the previous state whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from supportctl import paths
from supportctl.desk.sources import uid_of
from supportctl.errors import SupportctlError
from supportctl.i18n import _

SCHEMA = 3  # 3: a work-list item that is its message leaves the facts to the message's row
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (source TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (source, name));
CREATE TABLE IF NOT EXISTS messages (source TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL,
    uidvalidity INTEGER, uid INTEGER, facts TEXT NOT NULL, PRIMARY KEY (source, id));
CREATE INDEX IF NOT EXISTS messages_uid ON messages (source, uidvalidity, uid);
CREATE INDEX IF NOT EXISTS messages_id ON messages (id);
CREATE TABLE IF NOT EXISTS marks (source TEXT NOT NULL, key TEXT NOT NULL, flags TEXT NOT NULL,
    PRIMARY KEY (source, key));
CREATE TABLE IF NOT EXISTS forms (key TEXT PRIMARY KEY, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (source TEXT NOT NULL, id TEXT NOT NULL, message TEXT NOT NULL, sha TEXT,
    due_order REAL NOT NULL, rank INTEGER NOT NULL, received TEXT NOT NULL, key TEXT NOT NULL,
    status TEXT NOT NULL, due REAL, reasons TEXT NOT NULL, item TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (source, id));
CREATE INDEX IF NOT EXISTS items_order ON items (source, due_order, rank, received, key);
CREATE INDEX IF NOT EXISTS items_sha ON items (source, sha);
CREATE INDEX IF NOT EXISTS items_message ON items (source, message);
"""

_ITEM_WITH_FACTS = (
    "i.status, i.due, i.item, m.facts FROM items i LEFT JOIN messages m ON m.source = i.source AND m.id = i.message"
)

# Stored rows of the work list: (id, message id, sha256, due order, status rank, received, key, status,
# due, reasons, item, record); the first seven place it, the rest is what is shown.
ItemRow = tuple[str, str, "str | None", float, int, str, str, str, "float | None", str, str, str]


def path() -> Path:
    return paths.state_subdir("inbox") / "inbox.sqlite"


class Store:
    """One source's view of the store (`source` is the key every row carries)."""

    TIMEOUT = 30.0  # seconds to wait for another run that is writing

    def __init__(self, source: str, file: Path | None) -> None:
        self.source = source
        self.file = file
        self.recovered: Path | None = None  # where a damaged store was moved before starting afresh
        self.unsaved: str | None = None  # why the state file could not be used (this run keeps it in memory)
        if file is None:  # a run that must not remember anything (`persist=False`): the same code, in memory
            self.db = sqlite3.connect(":memory:", isolation_level=None)
            self._schema()
            return
        from supportctl.fsutil import private_dir

        private_dir(file.parent)
        try:
            self._connect(file)
        except sqlite3.OperationalError as exc:  # locked by another run, read-only, no space
            raise _state_error(file, exc) from None
        except sqlite3.DatabaseError:  # not a database, or a damaged one: it is a cache, start afresh
            self.db.close()
            self.recovered = move_aside(file)
            try:
                self._connect(file)
            except sqlite3.DatabaseError as exc:
                raise _state_error(file, exc) from None

    def _connect(self, file: Path) -> None:
        self.db = sqlite3.connect(file, timeout=self.TIMEOUT, isolation_level=None)
        # Private before the WAL and shm files are made (they take its mode). Not by opening and closing the
        # file ourselves: closing any descriptor of it drops every POSIX lock this process holds on it, those of
        # a connection still open too (`inbox --watch`), and SQLite's locking fails (sqlite.org/howtocorrupt.html).
        with contextlib.suppress(OSError):
            os.chmod(file, 0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._schema()

    def _schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA:
            self.db.executescript(
                "DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS messages; DROP TABLE IF EXISTS marks;"
                " DROP TABLE IF EXISTS forms; DROP TABLE IF EXISTS items;"
            )
            self.db.executescript(_TABLES + f"PRAGMA user_version={SCHEMA};")

    @classmethod
    def open(cls, source: str, persist: bool = True) -> Store:
        return cls(source, path() if persist else None)

    @classmethod
    def existing(cls) -> Store | None:
        """The store for reading, if any run made one (a lookup never creates it)."""
        file = path()
        if file.is_file():
            return cls("", file)
        if os.path.lexists(file):  # a directory or a dangling link where it belongs: said, not "no message"
            raise _state_error(file, OSError(_("it is not a file")))
        return None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _state_error(self.file, exc) from None
        return self

    @contextlib.contextmanager
    def roomy(self, rows: int) -> Iterator[None]:
        """Room in SQLite's page cache for a write of many rows (a first look at a large folder): its default
        2 MB spills such a transaction into the WAL before the commit (5,000 messages and their work list took
        0.12 s to insert, 0.07 s with 16 MB). Given back after, so a later look keeps its small footprint."""
        if rows < 1000:
            yield
            return
        (before,) = self.db.execute("PRAGMA cache_size").fetchone()
        self.db.execute("PRAGMA cache_size=-16000")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA cache_size={int(before)}")

    def __exit__(self, kind: object, value: object, _tb: object) -> None:
        try:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        except sqlite3.Error as exc:
            if damaged(exc):
                raise  # the run moves the file aside and starts afresh (triage)
            raise _state_error(self.file, exc) from None
        if isinstance(value, sqlite3.Error) and not damaged(value):  # a write failed (no space left, …): one
            raise _state_error(self.file, value) from None  # line, the old state kept

    def _where(self, select: str, column: str, values: Iterable[str], own: bool = True) -> Iterator[tuple[Any, ...]]:
        """`select` restricted to rows whose `column` is one of `values` (and of this source when `own`): a few
        queries of up to 500 values each, not one per value."""
        chunk = list(dict.fromkeys(values))
        mine = "source = ? AND " if own else ""
        for at in range(0, len(chunk), 500):
            part = chunk[at : at + 500]
            q = f"{select} WHERE {mine}{column} IN ({','.join('?' * len(part))})"
            yield from self.db.execute(q, ([self.source] if own else []) + part)

    # ---------------------------------------------------------------- settings

    def meta(self) -> dict[str, Any]:
        rows = self.db.execute("SELECT name, value FROM meta WHERE source = ?", (self.source,))
        return {name: json.loads(value) for name, value in rows}

    def set_meta(self, **values: Any) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta (source, name, value) VALUES (?, ?, ?)",
            [(self.source, k, json.dumps(v)) for k, v in values.items()],
        )

    # ---------------------------------------------------------------- messages

    def message_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM messages WHERE source = ?", (self.source,)).fetchone()[0])

    def messages(self) -> Iterator[dict[str, Any]]:
        for (facts,) in self.db.execute("SELECT facts FROM messages WHERE source = ?", (self.source,)):
            yield json.loads(facts)

    def put_messages(self, records: Iterable[tuple[Any, str]], uidvalidity: int | None) -> None:
        """(facts, their JSON) per message."""
        self.db.executemany(
            "INSERT OR REPLACE INTO messages (source, id, key, uidvalidity, uid, facts) VALUES (?, ?, ?, ?, ?, ?)",
            [(self.source, f.id, f.key, uidvalidity, uid_of(f.key), text) for f, text in records],
        )

    def drop_messages(self, ids: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM messages WHERE source = ? AND id = ?", [(self.source, i) for i in ids])

    def matching(self, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(source, facts) of every message, of any source, whose id starts with `prefix` (hex digits).

        A message triaged from several sources (the desk's IMAP folder and a saved copy) comes from the shared
        ones first: a reply or claim must be recorded where the other desk members see it.
        """
        rows = self.db.execute(
            "SELECT source, facts FROM messages WHERE id >= ? AND id < ?"
            " ORDER BY source NOT LIKE 'imap:%', source NOT LIKE 'maildir:%', source, id",
            (prefix, prefix + "\U0010ffff"),
        )
        for source, facts in rows:
            yield source, json.loads(facts)

    def ids(self, unless: tuple[str, ...] = ()) -> list[str]:
        """Every listed registration's id, of every source, but those whose status is in `unless`."""
        marks = ",".join("?" * len(unless))
        return [
            i for (i,) in self.db.execute(f"SELECT id FROM items WHERE status NOT IN ({marks}) ORDER BY id", unless)
        ]

    # ---------------------------------------------------------------- desk flags per message key

    def marks(self, keys: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
        if keys is None:
            rows = self.db.execute("SELECT key, flags FROM marks WHERE source = ?", (self.source,))
            return {key: frozenset(json.loads(flags)) for key, flags in rows}
        return {k: frozenset(json.loads(f)) for k, f in self._where("SELECT key, flags FROM marks", "key", keys)}

    def update_marks(self, changed: dict[str, frozenset[str]], complete: bool) -> set[str]:
        """Store the flags the mailbox reported (all of them when `complete`); the keys whose flags moved."""
        stored = self.marks()
        if complete:
            gone = [k for k in stored if k not in changed]
            self.db.executemany("DELETE FROM marks WHERE source = ? AND key = ?", [(self.source, k) for k in gone])
        else:
            gone = []
        new = {k: v for k, v in changed.items() if stored.get(k, frozenset()) != v}
        self.db.executemany(
            "INSERT OR REPLACE INTO marks (source, key, flags) VALUES (?, ?, ?)",
            [(self.source, k, json.dumps(sorted(v))) for k, v in new.items()],
        )
        return set(new) | set(gone)

    # ---------------------------------------------------------------- validated forms (all sources)

    def forms(self, keys: Iterable[str] | None = None) -> dict[str, Any]:
        if keys is None:
            rows = self.db.execute("SELECT key, report FROM forms")
            return {k: json.loads(r) for k, r in rows}
        return {k: json.loads(r) for k, r in self._where("SELECT key, report FROM forms", "key", keys, own=False)}

    def form_keys(self) -> set[str]:
        """The keys of every form judged before (for lookups that are mostly misses: a first look)."""
        return {k for (k,) in self.db.execute("SELECT key FROM forms")}

    def put_forms(self, forms: dict[str, Any]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO forms (key, report) VALUES (?, ?)",
            [(k, json.dumps(v, ensure_ascii=False)) for k, v in forms.items()],
        )

    # ---------------------------------------------------------------- the work list

    def put_items(self, rows: Iterable[ItemRow]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO items (source, id, message, sha, due_order, rank, received, key, status, due,"
            " reasons, item, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(self.source, *row) for row in rows],
        )

    def drop_items_of(self, messages: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM items WHERE source = ? AND message = ?", [(self.source, m) for m in messages])

    def messages_with(self, column: str, values: Iterable[str]) -> set[str]:
        """Ids of the messages whose work-list rows have `column` (sha, id) in `values`."""
        assert column in ("sha", "id", "status")
        return {m for (m,) in self._where("SELECT message FROM items", column, values)}

    def shas_of(self, messages: Iterable[str]) -> set[str]:
        return {s for (s,) in self._where("SELECT sha FROM items", "message", messages) if s is not None}

    def messages_by_key(self, keys: Iterable[str]) -> set[str]:
        return {i for (i,) in self._where("SELECT id FROM messages", "key", keys)}

    def facts_of(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = list(ids)
        found = dict(self._where("SELECT id, facts FROM messages", "id", wanted))
        return [json.loads(found[i]) for i in wanted if i in found]  # in the order asked

    def message_ids(self) -> list[tuple[str, int | None]]:
        return list(self.db.execute("SELECT id, uid FROM messages WHERE source = ?", (self.source,)))

    def item(self, source: str, reg_id: str) -> tuple[str, float | None, str, str | None] | None:
        """(status, due, stored item, its message's facts) of one registration of `source`'s work list."""
        row = self.db.execute(f"SELECT {_ITEM_WITH_FACTS} WHERE i.source = ? AND i.id = ?", (source, reg_id)).fetchone()
        return (str(row[0]), row[1], str(row[2]), row[3]) if row else None

    def original_of(self, source: str, sha: str) -> str | None:
        """The registration that duplicates of the form `sha` copy: the first of them to arrive that is none."""
        row = self.db.execute(
            "SELECT id FROM items WHERE source = ? AND sha = ? AND status != 'duplicate' ORDER BY received, key"
            " LIMIT 1",
            (source, sha),
        ).fetchone()
        return str(row[0]) if row else None

    def has_items(self) -> bool:
        row = self.db.execute("SELECT 1 FROM items WHERE source = ? LIMIT 1", (self.source,)).fetchone()
        return row is not None

    def item_rows(self, columns: str) -> Iterator[tuple[Any, ...]]:
        """The work list in due order, streamed (`columns` is one of the fixed selections of triage.py)."""
        assert columns in ("status, due, key, reasons, record, id = message", "status, due, item")
        if columns == "status, due, item":  # with the message's facts: an item that is its message holds none
            select, order = f"SELECT {_ITEM_WITH_FACTS} WHERE i.source = ?", "i.due_order, i.rank, i.received, i.key"
        else:
            select, order = f"SELECT {columns} FROM items WHERE source = ?", "due_order, rank, received, key"
        yield from self.db.execute(f"{select} ORDER BY {order}", (self.source,))


def damaged(exc: BaseException) -> bool:
    """Whether SQLite found the file damaged or not a database (locked, read-only or full are other errors)."""
    return type(exc) is sqlite3.DatabaseError


def state_error(file: Path | None, exc: BaseException) -> SupportctlError:
    """What a run says when the store failed under it: one line, never SQLite's traceback."""
    if damaged(exc):
        return SupportctlError(
            _("the desk's state {path} is damaged").format(path=file),
            _("run `supportctl inbox SOURCE` again: it moves the damaged file aside and reads the mailbox afresh"),
        )
    return _state_error(file, exc)


def move_aside(file: Path) -> Path:
    """A damaged store moved beside itself (with its WAL), so nothing is deleted; the run starts afresh."""
    import time

    aside = file.with_name(f"{file.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(file, aside)
        for extra in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(file.with_name(file.name + extra), aside.with_name(aside.name + extra))
    except OSError as exc:
        raise _state_error(file, exc) from None
    return aside


class StateError(SupportctlError):
    """The store cannot be written (read-only, full), though not damaged: a run can list without it."""


def _state_error(file: Path | None, exc: BaseException) -> SupportctlError:
    reason = str(exc) or type(exc).__name__
    if "locked" in reason or "busy" in reason:  # another run writes: waited for, then said (not gone around)
        return SupportctlError(
            _("the desk's state {path} is in use by another supportctl run").format(path=file),
            _("try again when it has finished"),
        )
    return StateError(
        _("the desk's state {path} cannot be used: {reason}").format(path=file, reason=reason),
        _("it is a cache: remove it and run again, or free space or permissions on that directory"),
    )
