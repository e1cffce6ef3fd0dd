"""The desk's shared state, kept where every desk member (and every mail program) already looks: the mailbox.

Over IMAP a registration that was answered carries `\\Answered` and a keyword naming the outcome
(`$SupportctlContract` or `$SupportctlRejected`), and a copy of the reply lies in the Sent folder (the
server's `\\Sent` special-use mailbox, or `inbox.sent_folder`) with the contract number in its
`X-Supportctl-Contract` header. A desk member takes a registration with a claim keyword
(`$SupportctlClaim_<member>`). Before a reply is queued the message is claimed atomically: with CONDSTORE
(RFC 7162) by `STORE … (UNCHANGEDSINCE modseq)`, otherwise by a documented best effort (flags checked right
before and after setting the claim; of two claims set at once the one that sorts first wins).

A shared Maildir gets the standard `R` (replied) info flag by an atomic rename, so the rename race decides
the winner, and the same keywords through Dovecot's `dovecot-keywords` file where it exists.

Triage never writes: only `reply`, `claim` and `release` do, and only flags, keywords and the Sent copy.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from supportctl.desk.headers import lazy_pattern
from supportctl.errors import InvalidInputError, TransferError, UsageError
from supportctl.i18n import _

KW_CONTRACT = "$SupportctlContract"
KW_REJECTED = "$SupportctlRejected"
KW_REPLYING = "$SupportctlReplying"
KW_CLAIM = "$SupportctlClaim_"
HEADER_CONTRACT = "X-Supportctl-Contract"
HEADER_OUTCOME = "X-Supportctl-Outcome"
HEADER_REGISTRATION = "X-Supportctl-Registration"
OUTCOME_KEYWORD = {"contract": KW_CONTRACT, "reject": KW_REJECTED}


def outcome_keyword(outcome: str, index: int | None) -> str:
    """The keyword of a reply to form `index` of a message: the first form's plain, the others' with `_N`."""
    base = OUTCOME_KEYWORD[outcome]
    return base if not index or index == 1 else f"{base}_{index}"


def server_done(flags: frozenset[str], index: int | None) -> str | None:
    """The outcome the mailbox records for form `index` ("contract", "reject", "answered") or None."""
    lower = {f.lower() for f in flags}
    for outcome in ("contract", "reject"):
        if outcome_keyword(outcome, index).lower() in lower:
            return outcome
    ours = [f for f in lower if f.startswith(("$supportctlcontract", "$supportctlrejected"))]
    if "\\answered" in lower and (index or 1) == 1 and not ours:
        return "answered"  # answered from a mail program: the message as a whole
    return None


def member_name(configured: str | None = None) -> str:
    """Who this desk member is, as an IMAP atom: `inbox.member`, else the login name."""
    import getpass

    raw = configured or os.environ.get("SUPPORTCTL_INBOX_MEMBER") or getpass.getuser() or "desk"
    return re.sub(r"[^A-Za-z0-9._-]", "-", raw)[:40] or "desk"


class Mark(NamedTuple):
    """What the mailbox says about one message."""

    answered: bool = False
    outcome: str | None = None  # "contract" | "reject" | None
    claimed_by: tuple[str, ...] = ()
    replying: bool = False

    @staticmethod
    def from_flags(flags: frozenset[str] | set[str] | tuple[str, ...]) -> Mark:
        lower = {f.lower() for f in flags}
        outcome = "contract" if KW_CONTRACT.lower() in lower else "reject" if KW_REJECTED.lower() in lower else None
        claims = tuple(sorted(f[len(KW_CLAIM) :] for f in flags if f.lower().startswith(KW_CLAIM.lower())))
        return Mark("\\answered" in lower, outcome, claims, KW_REPLYING.lower() in lower)


def when(iso: object) -> str:
    """A recorded reply time as people read it: in the local zone and the interface language (`?` if none)."""
    from supportctl.output import format_iso

    return format_iso(iso, None, "?")


def answered_words(mark: dict[str, Any]) -> str:
    """What was sent (`action`: contract or reject, `contract`) and when (`at`), in words: for people, never the
    codes. Both the local record of a reply and the Sent folder's copy are read this way. A reply written to a
    file (`--eml`, outbox None) or still in the outbox was not sent, and is not said to be."""
    at = mark.get("at")
    pending = _not_sent(mark)
    if pending is not None:
        what = (
            _("a rejection")
            if mark.get("action") == "reject"
            else _("contract {contract}").format(contract=mark.get("contract") or "?")
        )
        if pending == "file":
            return _("{what} was written to a file at {at}, not sent by supportctl").format(what=what, at=when(at))
        return _("{what} is in the outbox, not sent yet ({state}), since {at}").format(
            what=what, state=pending, at=when(at)
        )
    if mark.get("action") == "reject":
        return _("a rejection was sent at {at}").format(at=when(at)) if at else _("a rejection was sent")
    if mark.get("action") == "contract":
        contract = mark.get("contract") or "?"
        if at:
            return _("contract {contract} was sent at {at}").format(contract=contract, at=when(at))
        return _("contract {contract} was sent").format(contract=contract)
    return _("it is marked answered on the server")  # answered from a mail program


def _not_sent(mark: dict[str, Any]) -> str | None:
    """ "file" for a reply written with --eml, the outbox state (in words) of one queued and not sent yet, else
    None (sent, or a record that does not say: a Sent folder's copy, a mark set by another member)."""
    if mark.get("action") not in ("contract", "reject") or "outbox" not in mark:
        return None
    if mark["outbox"] is None:
        return "file"
    from supportctl.mail import outbox

    try:
        state = outbox.get(str(mark["outbox"])).state
    except Exception:  # purged, or another member's: nothing known here, as before
        return None
    return None if state in ("sent", "uncertain", "superseded") else outbox.state_label(state)


class AlreadyAnswered(UsageError):
    """Another desk member answered (or is answering) this registration: exit 2, `--again` overrides."""

    code = "duplicate"


@dataclass
class Sent:
    """Replies found in the Sent folder, by the Message-ID they answer."""

    by_reply_to: dict[str, dict[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------- IMAP


_FLAGS_RE = lazy_pattern(rb"FLAGS \(([^)]*)\)")
_MODSEQ_RE = lazy_pattern(rb"MODSEQ \((\d{1,20})\)")
_UID_RE = lazy_pattern(rb"UID ([1-9]\d{0,9})(?!\d)")
_LIST_RE = lazy_pattern(rb'\(([^)]*)\) (?:"[^"]*"|NIL) (.+)$')


def quote_folder(folder: str) -> str:
    from supportctl.desk.sources import quote_folder as quoted

    return quoted(folder)


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapDesk:
    """A read-write session on the desk's folder, for `reply`, `claim` and `release` (never for triage)."""

    def __init__(self, conn: Any, folder: str, sent_folder: str | None = None) -> None:
        self.conn = conn
        self.folder = folder
        self._sent_folder = sent_folder
        caps = {c.upper() for c in getattr(conn, "capabilities", ())}
        self.condstore = "CONDSTORE" in caps
        if self.condstore and conn.state == "AUTH":
            try:  # before SELECT, so that the folder is opened with MODSEQs (RFC 7162 3.1)
                conn.enable("CONDSTORE")
            except Exception:
                self.condstore = False
        self._check(conn.select(quote_folder(folder)), _("cannot open the IMAP folder {folder}").format(folder=folder))

    @staticmethod
    def _check(result: tuple[str, Any], what: str) -> Any:
        typ, data = result
        if typ != "OK":
            raise TransferError(f"{what}: {data!r}"[:300])
        return data

    # ------------------------------------------------------------ reading

    def uid_of(self, message_id: str, hint: int | None = None) -> int:
        """The UID of the message with this Message-ID. Several may carry it (a hostile mail may copy a
        registration's): then the one triage read it from (`hint`, from its key), else none is guessed."""
        # An id with 8-bit bytes (RFC 6532 mail) was read with those bytes replaced, and imaplib sends only
        # ASCII: the id's ASCII pieces are searched for (HEADER matches substrings), and must name one message.
        pieces = [p for p in re.split(r"[^\x21-\x7e]+", message_id) if p] if not message_id.isascii() else []
        criteria = [x for p in pieces for x in ("HEADER", "Message-ID", _q(p))]
        found = self.conn.uid("SEARCH", None, *(criteria or ["HEADER", "Message-ID", _q(message_id)]))
        data = self._check(found, _("the IMAP search failed"))
        import imaplib

        from supportctl.desk.sources import uid_set

        try:
            uids = sorted(uid_set(data))
        except imaplib.IMAP4.error as exc:
            raise TransferError(_("the IMAP search failed") + f": {exc}") from None
        if hint is not None and hint in uids:
            return hint
        if len(uids) > 1:
            raise InvalidInputError(
                _("the message {id} cannot be told apart from others in the IMAP folder {folder}").format(
                    id=message_id, folder=self.folder
                )
            )
        if not uids:
            raise InvalidInputError(
                _("the message {id} is not in the IMAP folder {folder} any more").format(
                    id=message_id, folder=self.folder
                )
            )
        return uids[0]

    def flags(self, uid: int) -> tuple[frozenset[str], int | None]:
        items = "(FLAGS MODSEQ)" if self.condstore else "(FLAGS)"
        data = self._check(self.conn.uid("FETCH", str(uid), items), _("the IMAP server refused to send flags"))
        for item in data:
            raw = item[0] if isinstance(item, tuple) else item
            if not isinstance(raw, bytes):
                continue
            m = _FLAGS_RE.search(raw)
            if m:
                flags = frozenset(x.decode("utf-8", "replace") for x in m.group(1).split())
                mod = _MODSEQ_RE.search(raw)
                return flags, int(mod.group(1)) if mod else None
        return frozenset(), None

    # ------------------------------------------------------------ writing

    def _store(self, uid: int, op: str, flags: list[str], unchanged_since: int | None = None) -> bool:
        """STORE; False when UNCHANGEDSINCE failed (somebody changed the message first)."""
        cmd = f"({' '.join(flags)})"
        if unchanged_since is not None:
            typ, data = self.conn.uid("STORE", str(uid), f"(UNCHANGEDSINCE {unchanged_since}) {op}.SILENT", cmd)
        else:
            typ, data = self.conn.uid("STORE", str(uid), f"{op}.SILENT", cmd)
        if typ != "OK":
            raise TransferError(_("the IMAP server refused to store flags: {reason}").format(reason=data))
        # A failed conditional store answers OK [MODIFIED uid-set]: the message changed since `modseq`.
        text = b" ".join(x if isinstance(x, bytes) else b"" for x in (self.conn.untagged_responses.get("OK") or []))
        modified = self.conn.untagged_responses.pop("MODIFIED", None)
        return not (modified or b"MODIFIED" in text)

    def claim_for_reply(
        self,
        message_id: str,
        member: str,
        again: bool,
        hint: int | None = None,
        index: int | None = None,
        registration: str | None = None,
    ) -> int:
        """Take the message for a reply to its form `index`, atomically where the server allows it. Returns its UID.

        Raises `AlreadyAnswered` (exit 2) when that form was answered, or another member is replying to the
        message. A mail's other forms are registrations of their own: their answers do not count. `registration`
        (the form's id) finds the reply's copy in the Sent folder for the refusal.
        """
        uid = self.uid_of(message_id, hint)
        for _attempt in range(3):
            flags, modseq = self.flags(uid)
            mark, done = Mark.from_flags(flags), server_done(flags, index) is not None
            if not again and (done or mark.replying):
                raise self.refusal(message_id, mark, index, done, registration)
            mine = f"{KW_CLAIM}{member}"
            if self.condstore and modseq is not None:
                if self._store(uid, "+FLAGS", [KW_REPLYING, mine], unchanged_since=modseq):
                    return uid
                continue  # somebody changed it between our FETCH and STORE: look again
            # Best effort without CONDSTORE: set our claim, then look whether someone else's came too. Claims that
            # were there before (`inbox claim`, a reply to another form of the mail) are no race.
            self._store(uid, "+FLAGS", [KW_REPLYING, mine])
            after, _m = self.flags(uid)
            others = [c for c in Mark.from_flags(after).claimed_by if c != member and c not in mark.claimed_by]
            if not again and others and min([*others, member]) != member:
                self._store(uid, "-FLAGS", [mine])
                raise self.refusal(message_id, Mark.from_flags(after), index, False, registration)
            return uid
        flags = self.flags(uid)[0]
        raise self.refusal(
            message_id, Mark.from_flags(flags), index, server_done(flags, index) is not None, registration
        )

    def refusal(
        self,
        message_id: str,
        mark: Mark,
        index: int | None = None,
        done: bool | None = None,
        registration: str | None = None,
    ) -> AlreadyAnswered:
        """Why form `index` of the message cannot be answered now: the reply sent to it (`done`), or who is
        replying to the message right now."""
        if done is None:
            done = mark.answered or mark.outcome is not None
        import imaplib

        try:
            replies = self.sent_replies().by_reply_to
        except (OSError, imaplib.IMAP4.error, TransferError):  # the Sent folder only adds detail to the refusal
            replies = {}
        sent = replies.get(f"registration:{registration}") if registration else None
        if sent is None and (index or 1) == 1:  # a copy without the header: it answers the message's first form
            sent = replies.get(message_id)
        if done and sent and sent.get("contract"):
            what = answered_words({"action": "contract", "contract": sent["contract"], "at": sent.get("at")})
        elif done and sent and sent.get("outcome") == "reject":
            what = answered_words({"action": "reject", "at": sent.get("at")})
        elif done:
            what = answered_words({})
        else:
            who = ", ".join(mark.claimed_by) or _("another desk member")
            what = _("{who} is replying to it right now").format(who=who)
        return AlreadyAnswered(
            _("message {id} was answered already: {what}").format(id=registration or message_id, what=what),
            _("add --again to reply to it once more"),
        )

    def mark_replied(self, uid: int, member: str, outcome: str, reply: bytes, index: int | None = None) -> None:
        """After the reply is safely in the outbox: \\Answered + outcome keyword, claim cleared, copy in Sent."""
        self._store(uid, "+FLAGS", ["\\Answered", outcome_keyword(outcome, index)])
        self._store(uid, "-FLAGS", [KW_REPLYING])
        self.append_sent(reply)

    def release(self, message_id: str, member: str, hint: int | None = None) -> bool:
        uid = self.uid_of(message_id, hint)
        flags, _m = self.flags(uid)
        mine = f"{KW_CLAIM}{member}"
        had = mine.lower() in {f.lower() for f in flags}
        self._store(uid, "-FLAGS", [mine, KW_REPLYING])
        return had

    def claim(self, message_id: str, member: str, hint: int | None = None) -> Mark:
        uid = self.uid_of(message_id, hint)
        self._store(uid, "+FLAGS", [f"{KW_CLAIM}{member}"])
        return Mark.from_flags(self.flags(uid)[0])

    # ------------------------------------------------------------ the Sent folder

    def sent_folder(self) -> str:
        return self._sent_folder or self.sent_folder_of(self.conn)

    @staticmethod
    def sent_folder_of(conn: Any) -> str:
        """The server's `\\Sent` special-use mailbox (RFC 6154), else "Sent"."""
        typ, data = conn.list()
        if typ == "OK":
            for line in data or []:
                if not isinstance(line, bytes):
                    continue
                m = _LIST_RE.search(line)
                if m and b"\\sent" in m.group(1).lower():
                    name = m.group(2).strip()
                    return name[1:-1].decode() if name.startswith(b'"') else name.decode()
        return "Sent"

    def append_sent(self, reply: bytes) -> None:
        import imaplib
        import time

        folder = self.sent_folder()
        typ, _data = self.conn.append(quote_folder(folder), "(\\Seen)", imaplib.Time2Internaldate(time.time()), reply)
        if typ != "OK":
            self.conn.create(quote_folder(folder))
            self._check(
                self.conn.append(quote_folder(folder), "(\\Seen)", imaplib.Time2Internaldate(time.time()), reply),
                _("the copy of the reply could not be saved in {folder}").format(folder=folder),
            )

    def sent_replies(self) -> Sent:
        return read_sent(self.conn, self.sent_folder(), reselect=self.folder)


def read_sent(conn: Any, folder: str, reselect: str | None = None) -> Sent:
    """Every supportctl reply in the Sent folder: in-reply-to -> {contract, outcome, at} (read-only)."""
    from email.parser import BytesHeaderParser
    from email.utils import parsedate_to_datetime

    sent = Sent()
    typ, _d = conn.select(quote_folder(folder), readonly=True)
    try:
        if typ != "OK":
            return sent
        typ, data = conn.uid("SEARCH", None, "HEADER", HEADER_OUTCOME, '""')
        uids = (data[0] or b"").split() if typ == "OK" and data else []
        for i in range(0, len(uids), 250):
            batch = b",".join(uids[i : i + 250]).decode()
            fields = (
                f"BODY.PEEK[HEADER.FIELDS (In-Reply-To Date {HEADER_CONTRACT} {HEADER_OUTCOME} {HEADER_REGISTRATION})]"
            )
            typ, resp = conn.uid("FETCH", batch, f"({fields})")
            for item in resp if typ == "OK" else []:
                if not isinstance(item, tuple):
                    continue
                h = BytesHeaderParser().parsebytes(item[1])
                irt = str(h.get("In-Reply-To") or "").strip()
                if not irt:
                    continue
                try:
                    at = parsedate_to_datetime(str(h.get("Date"))).isoformat()
                except (TypeError, ValueError):
                    at = None
                record = {
                    "contract": str(h.get(HEADER_CONTRACT) or "").strip() or None,
                    "outcome": str(h.get(HEADER_OUTCOME) or "").strip() or None,
                    "at": at,
                }
                sent.by_reply_to.setdefault(irt, record)
                reg = str(h.get(HEADER_REGISTRATION) or "").strip()
                if reg:
                    sent.by_reply_to["registration:" + reg] = record
    finally:
        if reselect:
            conn.select(quote_folder(reselect))
    return sent


# ---------------------------------------------------------------- Maildir


def maildir_flags(name: str) -> str:
    """The info flags of a Maildir file name (`…:2,RS` -> "RS")."""
    return name.split(":2,", 1)[1] if ":2," in name else ""


def keywords_of(root: Path, name: str) -> frozenset[str]:
    """Dovecot's keywords of a Maildir file: its lowercase info letters mapped through `dovecot-keywords`."""
    table = _keyword_table(root)
    return frozenset(table[c] for c in maildir_flags(name) if c in table)


def _keyword_table(root: Path) -> dict[str, str]:
    try:
        lines = (root / "dovecot-keywords").read_text("utf-8").splitlines()
    except OSError:
        return {}
    table = {}
    for line in lines:
        num, _sp, kw = line.partition(" ")
        if num.isdigit() and kw and int(num) < 26:
            table[chr(ord("a") + int(num))] = kw
    return table


def _letter_for(root: Path, keyword: str) -> str | None:
    """The info letter of `keyword`, added to `dovecot-keywords` when the file exists and has room."""
    path = root / "dovecot-keywords"
    if not path.exists():
        return None
    table = _keyword_table(root)
    for letter, kw in table.items():
        if kw == keyword:
            return letter
    free = next((n for n in range(26) if chr(ord("a") + n) not in table), None)
    if free is None:
        return None
    from supportctl.fsutil import atomic_write_text

    text = path.read_text("utf-8")
    atomic_write_text(path, text + ("" if text.endswith("\n") or not text else "\n") + f"{free} {keyword}\n")
    return chr(ord("a") + free)


def _current_name(root: Path, key: str) -> str | None:
    """Where a Maildir message is now: the key as triaged, or the same base name in cur/ with other flags."""
    sub, _s, name = key.partition("/")
    if (root / sub / name).exists():
        return key
    base = name.partition(":2,")[0]
    try:
        for entry in os.scandir(root / "cur"):
            if entry.name == base or entry.name.startswith(base + ":2,"):
                return f"cur/{entry.name}"
    except FileNotFoundError:
        pass
    return None


def maildir_mark_replied(root: Path, key: str, outcome: str, again: bool, index: int | None = None) -> str | None:
    """Set `R` (and the outcome keyword of form `index`) on a Maildir message by one rename; the first rename wins.

    `key` is `new/NAME` or `cur/NAME` as triaged (a mail program may have moved it to cur/ since). Returns
    the new key, or None when nothing on the mailbox can record it: a later form of a message in a Maildir
    without keywords, where `R` alone would say its first form was answered. Raises `AlreadyAnswered` when the
    form was answered already (unless `again`), or when another process renamed it first.
    """
    current = _current_name(root, key)
    if current is None:
        raise InvalidInputError(
            _("message {key} is not in the mailbox any more").format(key=key),
            _("run `supportctl inbox` again to see its state"),
        )
    sub, _s, name = current.partition("/")
    base, _sep, _info = name.partition(":2,")
    flags = set(maildir_flags(name))
    marks = keywords_of(root, name) | ({"\\Answered"} if "R" in flags else set())
    if not again and server_done(marks, index) is not None:
        raise AlreadyAnswered(
            _("message {key} was answered already (it carries the replied flag)").format(key=key),
            _("add --again to reply to it once more"),
        )
    letter = _letter_for(root, outcome_keyword(outcome, index))
    if letter is None and (index or 1) > 1:
        return None
    flags.add("R")
    if letter:
        flags.add(letter)
    new_name = f"{base}:2,{''.join(sorted(flags, key=lambda c: (c.islower(), c)))}"
    try:
        os.rename(root / sub / name, root / "cur" / new_name)
    except FileNotFoundError:
        raise AlreadyAnswered(
            _("message {key} was just taken by another desk member").format(key=key),
            _("run `supportctl inbox` again to see its state"),
        ) from None
    return f"cur/{new_name}"


def maildir_claim(root: Path, key: str, member: str, claim: bool) -> Mark:
    """Add (or remove) this member's claim keyword on a Maildir message (needs Dovecot's `dovecot-keywords`)."""
    current = _current_name(root, key)
    if current is None:
        raise InvalidInputError(_("message {key} is not in the mailbox any more").format(key=key))
    letter = _letter_for(root, f"{KW_CLAIM}{member}")
    if letter is None:
        raise UsageError(
            _("this Maildir keeps no keywords (no dovecot-keywords file, or all 26 in use): claims need IMAP"),
            _(
                "read the mailbox over IMAP (`supportctl inbox imaps://USER@HOST/FOLDER`) and claim from there, or"
                " keep the Maildir with Dovecot, which writes its dovecot-keywords file"
            ),
        )
    sub, _s, name = current.partition("/")
    base = name.partition(":2,")[0]
    flags = set(maildir_flags(name))
    flags = flags | {letter} if claim else flags - {letter}
    new_name = f"{base}:2,{''.join(sorted(flags, key=lambda c: (c.islower(), c)))}"
    os.rename(root / sub / name, root / "cur" / new_name)
    found = keywords_of(root, new_name) | ({"\\Answered"} if "R" in flags else set())
    return Mark.from_flags(frozenset(found))


# ---------------------------------------------------------------- the reply's view of the shared state


class DeskState:
    """What `inbox reply` does on the shared mailbox: claim before queueing, record after, give back on failure.

    The base class is the read-only case (mbox, .eml files, stdin): nothing on the mailbox to change.
    """

    shared = False

    def records_reply(self, facts: Any) -> bool:
        """Whether a reply to this registration is recorded where the other desk members see it."""
        return self.shared

    def reply_note(self, facts: Any, source: str) -> str | None:
        """Why a reply to this registration (read from `source`) is recorded for this desk member only; None when
        the other members see it."""
        if self.records_reply(facts):
            return None
        if self.shared:  # a later form of a mail, in a Maildir without keywords: `R` would mark the first
            note = _(
                "{source} can mark only a mail's first form as answered (it has no dovecot-keywords): the reply to "
                "{id} is recorded for you only, not for other desk members"
            )
        else:
            note = _("{source} is read-only: the reply is recorded for you only, not for other desk members")
        return note.format(source=source, id=facts.id)

    def claim(self, facts: Any, outcome: str, again: bool) -> Any:
        return None

    def take(self, facts: Any, member: str, claim: bool) -> Mark:
        """`inbox claim` (`claim`) or `inbox release`: the registration's marks afterwards."""
        raise UsageError(
            _("claims live on a shared mailbox (IMAP or Maildir); {id} was read from elsewhere").format(id=facts.id)
        )

    def replied(self, token: Any, outcome: str, reply: bytes, facts: Any) -> None:
        return None

    def release(self, token: Any) -> None:
        return None

    def close(self) -> None:
        return None


class ImapDeskState(DeskState):
    """The flags of a message in an IMAP folder. What goes wrong on the way is a `TransferError` naming the
    server (`sources.talking`); marking a reply that is queued already is tried once more on a new session."""

    shared = True

    def __init__(
        self, desk: ImapDesk, member: str, host: str = "", timeout: float = 30.0, login: Callable[[], Any] | None = None
    ) -> None:
        self.desk, self.member, self.host, self.timeout, self._login = desk, member, host, timeout, login

    def _talking(self) -> contextlib.AbstractContextManager[None]:
        from supportctl.desk.sources import talking

        return talking(self.host, self.timeout)

    def take(self, facts: Any, member: str, claim: bool) -> Mark:
        if not facts.message_id:
            return super().take(facts, member, claim)
        from supportctl.desk.sources import uid_of

        hint = uid_of(facts.key)
        with self._talking():
            if claim:
                return self.desk.claim(facts.message_id, member, hint)
            self.desk.release(facts.message_id, member, hint)
            return Mark.from_flags(self.desk.flags(self.desk.uid_of(facts.message_id, hint))[0])

    def claim(self, facts: Any, outcome: str, again: bool) -> Any:
        if not facts.message_id:
            return None  # without a Message-ID the server cannot find it: the local record is all we have
        from supportctl.desk.sources import uid_of

        with self._talking():
            return self.desk.claim_for_reply(
                facts.message_id, self.member, again, uid_of(facts.key), facts.index, facts.id
            )

    def replied(self, token: Any, outcome: str, reply: bytes, facts: Any) -> None:
        if token is None:
            return
        try:
            with self._talking():
                self.desk.mark_replied(token, self.member, outcome, reply, facts.index)
            return
        except TransferError:
            if self._login is None:
                raise
        # The session broke (a server restart, a dropped connection): the flags are set again on a new one.
        self.close()
        with self._talking():
            self.desk = ImapDesk(self._login(), self.desk.folder, self.desk._sent_folder)
            self.desk.mark_replied(token, self.member, outcome, reply, facts.index)

    def release(self, token: Any) -> None:
        if token is not None:
            with self._talking():
                self.desk._store(token, "-FLAGS", [KW_REPLYING, f"{KW_CLAIM}{self.member}"])

    def close(self) -> None:
        try:
            self.desk.conn.logout()
        except Exception:
            pass


class MaildirDeskState(DeskState):
    """A shared Maildir: the `R` flag is set by renaming the file, before the reply is queued."""

    shared = True

    def __init__(self, root: Path) -> None:
        self.root = root

    def records_reply(self, facts: Any) -> bool:
        # Without keywords only `R` exists, which says the mail's first form was answered (`maildir_mark_replied`).
        return (facts.index or 1) == 1 or (self.root / "dovecot-keywords").exists()

    def take(self, facts: Any, member: str, claim: bool) -> Mark:
        if not facts.message_id:
            return super().take(facts, member, claim)
        return maildir_claim(self.root, facts.key, member, claim)

    def claim(self, facts: Any, outcome: str, again: bool) -> Any:
        new_key = maildir_mark_replied(self.root, facts.key, outcome, again, facts.index)
        return None if new_key is None else (facts.key, new_key)

    def release(self, token: Any) -> None:
        if token is not None:
            old, new = token
            sub, _s, name = old.partition("/")
            try:
                os.rename(self.root / new, self.root / sub / name)
            except OSError:
                pass


def state_for(source: str, cfg: Any, prompt: Callable[[str], str] | None = None) -> DeskState:
    """Where a registration read from `source` keeps the shared state: IMAP flags, a Maildir's flags, or
    nowhere (the base `DeskState`: a read-only source, recorded for this desk member only)."""
    if source.startswith("imap:"):
        from supportctl.desk import sources
        from supportctl.mail import credentials

        target = sources.parse_imap_url(source[len("imap:") :])
        command = cfg.get("imap.password_command")
        password = credentials.imap_password(target.user, target.host, command, prompt=prompt).value
        ca_bundle, timeout = cfg.get("imap.ca_bundle"), float(cfg.get("imap.timeout") or 30)

        def login() -> Any:
            return sources.imap_login(target, password, ca_bundle, timeout)

        conn = login()
        with sources.talking(target.host, timeout):
            desk = ImapDesk(conn, target.folder, cfg.get("inbox.sent_folder"))
        return ImapDeskState(desk, member_name(cfg.get("inbox.member")), target.host, timeout, login)
    if source.startswith("maildir:"):
        return MaildirDeskState(Path(source[len("maildir:") :]))
    return DeskState()


def state_of(found: Any, cfg: Any, prompt: Callable[[str], str] | None, say: Callable[[str], None] | None) -> DeskState:
    """The shared state of the mailbox `found` was read from; with `say` (replying), told when the reply is
    recorded for this desk member only."""
    source = found.source or ""
    state = state_for(source, cfg, prompt)
    if say is not None and source and (note := state.reply_note(found.facts, source.split(":", 1)[-1])):
        say(note)
    return state


@dataclass(frozen=True)
class Taken:
    """What `inbox claim` or `inbox release` did to a registration, and who claims it now."""

    id: str
    member: str
    claim: bool
    claimed_by: tuple[str, ...]

    @property
    def command(self) -> str:
        return "inbox claim" if self.claim else "inbox release"

    def lines(self) -> list[str]:
        if not self.claim:
            return [_("{id} released").format(id=self.id)]
        lines = [_("{id} is claimed by {member}").format(id=self.id, member=self.member)]
        others = [m for m in self.claimed_by if m != self.member]
        if others:
            lines.append(_("note: also claimed by {others}").format(others=", ".join(others)))
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "claimed_by": list(self.claimed_by)}


def take(message: str, pkg: Any, cfg: Any, claim: bool, prompt: Callable[[str], str] | None = None) -> Taken:
    """`inbox claim` (`claim`) or `inbox release` of the registration `message` names (an id, a prefix, a file)."""
    from supportctl.desk import triage

    found = triage.find(message, pkg, triage.Limits.from_config(cfg))
    state = state_of(found, cfg, prompt, None)
    member = member_name(cfg.get("inbox.member"))
    try:
        mark = state.take(found.facts, member, claim)
    finally:
        state.close()
    return Taken(found.facts.id, member, claim, tuple(mark.claimed_by))
