"""Find the registration desk's reply to a submission in the applicant's mailbox (for `status`).

A reply belongs to a submission when its `In-Reply-To` or `References` names the submission's `Message-ID`;
failing that, when it comes from one of the package's addresses (or their domain) and its subject names the
membership ID (a desk answering by hand from another mail program). The contract number is found with the package's
`process.contract_pattern`, else with a pattern derived from the desk's own reply templates (German and
English); a reply whose subject is the desk's reject subject is a rejection, its reasons the listed findings.

Mail is only read: the sources of `inbox` (supportctl/desk/sources.py) never write to a mailbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from typing import Any

from supportctl.desk.sources import Envelope, Source, TooLarge
from supportctl.desk.triage import clean
from supportctl.package.manifest import Process

# The desk's own check on contract numbers (`inbox reply --contract`): what a number can look like.
NUMBER = r"[A-Za-z0-9][A-Za-z0-9./_-]{0,63}"
# Labels of the built-in reply template, in case a package's templates put the number somewhere odd.
# German is written "Vertragsnummer", "Vertrags-Nummer", "Vertragsnr." and "Vertrags-Nr." alike.
_DEFAULT_LABELS = (r"Vertrags-?(?:nummer|nr\.?)", r"Contract\s+number", r"Contract\s+no\.?")
# Between such a label and the number only what people write there ("Ihre Vertragsnummer lautet: X", "Your
# contract number is X"), and the number has a digit: "… lautet V-1" must not give "lautet", nor "Contract not
# yet assigned" "t". A sentence that says more ("… für Ihren Support lautet X") is left to the templates' rules.
_FILLER = r"(?:[\s:=–-]|\b(?:is|ist|lautet|lauten|will\s+be|wird|the|die|your|ihre|our|unsere|new|neue)\b)*?"
_WITH_DIGIT = rf"(?<![A-Za-z0-9./_-])(?=[A-Za-z0-9./_-]*\d){NUMBER}"
# Words saying that the label which follows names a number no longer in force.
_FORMER = re.compile(
    r"(?:\b(?:old|previous|former|prior)|\b(?:alt|bisherig|fr\u00fcher|vorherig|ehemalig)(?:e|en|er|es)?)\s+\Z",
    re.IGNORECASE,
)


def _former(text: str, at: int) -> bool:
    """Whether the words just before `at` call what follows old (a number no longer in force)."""
    return _FORMER.search(text, max(0, at - 40), at) is not None


_MSGID_RE = re.compile(r"<[^<>\s]+>")
MAX_BODY_CHARS = 200_000
MAX_REASONS = 50


@dataclass(frozen=True)
class Wanted:
    """A submission a reply may answer."""

    id: str
    message_id: str
    membership_id: str | None
    submitted_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What the desk's reply says about one submission."""

    submission: str  # the outbox id
    kind: str  # "contract" | "rejected" | "bounced" (returned undelivered: `reasons` are its failed recipients)
    contract: str | None
    reasons: tuple[str, ...]
    received_at: str  # ISO 8601 with offset
    reply_message_id: str
    subject: str


def _template_regex(template: str, placeholder: str, capture: str) -> str | None:
    """A regex for the line of `template` holding `{placeholder}`: the text before it, then `capture`."""
    for line in template.splitlines():
        if "{" + placeholder + "}" not in line:
            continue
        before = line.split("{" + placeholder + "}", 1)[0]
        before = re.sub(r"\{[a-z_]+\}", "\0", before).strip()
        if not before.replace("\0", "").strip():
            return None
        parts = [r"\s+".join(re.escape(w) for w in chunk.split()) for chunk in before.split("\0")]
        return ".*?".join(parts) + r"\s*" + capture
    return None


def _alternatives(patterns: list[str | None]) -> re.Pattern[str] | None:
    unique = list(dict.fromkeys(p for p in patterns if p))
    if not unique:
        return None
    # A group name may appear once per pattern: number the alternatives' groups apart.
    numbered = [p.replace("(?P<contract>", f"(?P<c{i}>") for i, p in enumerate(unique)]
    return re.compile("|".join(numbered), re.IGNORECASE)


class Matcher:
    """The package's rules for recognising the desk's replies."""

    def __init__(self, process: Process) -> None:
        self.addresses = {process.registration_address.lower(), process.request_address.lower()}
        # A desk member may write from their own address at the desk's domain.
        self.domains = {a.rsplit("@", 1)[-1] for a in self.addresses}
        self.body: re.Pattern[str] | None = None
        self.subject: re.Pattern[str] | None = None
        if process.contract_pattern:
            self.custom: re.Pattern[str] | None = re.compile(process.contract_pattern)
        else:
            self.custom = None
            t = process.reply
            body = [_template_regex(text, "contract", f"(?P<contract>{NUMBER})") for text in t.contract_body.values()]
            by_hand = [rf"(?:{label})(?![A-Za-z]){_FILLER}(?P<contract>{_WITH_DIGIT})" for label in _DEFAULT_LABELS]
            body += by_hand
            subject = [_template_regex(x, "contract", f"(?P<contract>{NUMBER})") for x in t.contract_subject.values()]
            subject += by_hand  # "AW: Registrierung ABC-123 - Vertragsnummer V-2026-0042", typed into the subject
            self.body = _alternatives(body)
            self.subject = _alternatives(subject)
        reject = []
        for text in process.reply.reject_subject.values():
            pieces = [re.escape(p.strip()) for p in re.split(r"\{[a-z_]+\}", text) if p.strip()]
            if pieces:
                reject.append(".*?".join(r"\s+".join(p.split("\\ ")) for p in pieces))
        self.reject = re.compile("|".join(reject), re.IGNORECASE) if reject else None

    def contract_in(self, body: str, subject: str) -> str | None:
        """The contract number in a reply: the package's pattern in body or subject, else the templates'."""
        tries = (
            [(self.custom, body), (self.custom, subject)]
            if self.custom
            else [(self.body, body), (self.subject, subject)]
        )
        for pattern, text in tries:
            if pattern is None:
                continue
            matches = pattern.finditer(text)
            # An old number cited ("Ihre bisherige Vertragsnummer X wird ersetzt: …") is not the one given.
            m = next((m for m in matches if self.custom or not _former(text, m.start())), None)
            if m is None:
                continue
            groups = {k: v for k, v in m.groupdict().items() if v}
            if "contract" in groups:
                value = groups["contract"]
            elif groups:
                value = next(iter(groups.values()))
            elif m.groups():
                value = next((g for g in m.groups() if g), m.group(0))
            else:
                value = m.group(0)
            value = clean(value).rstrip(".,;:")
            if value:
                return value[:64]
        return None

    def is_reject(self, subject: str) -> bool:
        return bool(self.reject and self.reject.search(subject))


def reasons_in(body: str) -> tuple[str, ...]:
    """The findings a reject mail lists (`  - …` lines), from its first language section."""
    first = re.split(r"(?m)^-{10,}\s*$", body, maxsplit=1)[0]
    found = [clean(m.group(1)) for m in re.finditer(r"(?m)^\s+[-*•]\s+(.+)$", first)]
    return tuple(dict.fromkeys(f for f in found if f))[:MAX_REASONS]


def _header(msg: Message, name: str) -> str:
    from supportctl.desk.triage import decoded_header  # the desk's one header decoder (RFC 2047, made safe)

    return decoded_header(msg.get(name))


def received_time(msg: Message, arrival: float | None) -> datetime:
    """When the reply arrived: the newest `Received:` stamp, else `Date:`, else the file's or IMAP's time."""
    from email.utils import parsedate_to_datetime

    candidates = [str(r).rsplit(";", 1)[1] for r in (msg.get_all("Received") or []) if ";" in str(r)][:1]
    candidates.append(str(msg.get("Date") or ""))
    for text in candidates:
        try:
            dt = parsedate_to_datetime(text.strip())
        except (TypeError, ValueError, IndexError):
            continue
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    if arrival is not None:
        return datetime.fromtimestamp(arrival, timezone.utc)
    return datetime.now(timezone.utc)


# Where a reply's own text ends and the mail it answers begins, when that is not marked with ">": Outlook's
# "-----Original Message-----" line or its header block ("Von: …" then "Gesendet: …", in the HTML too).
_ORIGINAL_RE = re.compile(
    r"(?im)^[ \t]*(?:-{3,}[ \t]*(?:original(?:[ \t]+message|nachricht)|urspr\u00fcngliche[ \t]+nachricht)[ \t]*-{3,}"
    r"|\*?(?:from|von|de|da):\*?[ \t].*\n(?:[ \t]*\*?(?:to|an|cc):\*?[ \t].*\n)?"
    r"[ \t]*\*?(?:sent|gesendet|envoy\u00e9|inviato):\*?[ \t])"
)
_REPLY_RE = re.compile(r"^\s*(?:re|aw|antw|sv|vs)\s*:", re.IGNORECASE)
_FORWARD_RE = re.compile(r"^\s*(?:fwd?|wg|wtr|tr|doorst|i)\s*:", re.IGNORECASE)


def own_text(text: str, subject: str = "") -> str:
    """What a reply says itself: without the lines it quotes ("> …", as Thunderbird, Apple Mail, Gmail and
    mutt quote) and, unless it is a forward, without the original Outlook puts below its own text."""
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    if not _FORWARD_RE.match(subject):
        m = _ORIGINAL_RE.search(text)
        if m is not None:
            text = text[: m.start()]
    return text


def _body_text(data: bytes) -> str:
    """The reply's text: its text/plain parts, else (a ticket system or a web mailer sending HTML only) the
    text of its HTML parts, the quoted ones (`<blockquote>`) left out."""
    from email import message_from_bytes, policy

    msg: Any = message_from_bytes(data, policy=policy.default)
    texts: dict[str, list[str]] = {"text/plain": [], "text/html": []}
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in texts and not part.is_attachment():
            text = _part_text(part)
            if text is not None:
                texts[kind].append(text)
    if texts["text/plain"]:
        return "\n".join(texts["text/plain"])[:MAX_BODY_CHARS]
    return "\n".join(_html_text(h[:MAX_BODY_CHARS]) for h in texts["text/html"])[:MAX_BODY_CHARS]


_ASCII = {"us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us"}


def _part_text(part: Any) -> str | None:
    """A text part's text in the charset it names; when that is unknown (`unknown-8bit`), missing while the
    bytes are 8-bit, or wrong for them (Windows-1252 labelled UTF-8), UTF-8 and then Windows-1252, the
    charsets such text is written in: umlauts stay umlauts, never "?"s or a lost text."""
    try:
        raw = part.get_payload(decode=True)
    except (LookupError, ValueError, AssertionError):
        return None
    if not isinstance(raw, bytes):
        return None
    named = str(part.get_content_charset() or "").lower()
    for charset in ([named] if named and named not in _ASCII else []) + ["utf-8", "cp1252"]:
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("cp1252", "replace")


def _html_text(html: str) -> str:
    """What a mail program shows of an HTML body: its text, a line per block, no markup, scripts or styles."""
    from html.parser import HTMLParser

    lines: list[str] = []

    class Text(HTMLParser):
        skip = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in ("script", "style", "head", "title", "blockquote"):
                self.skip += 1
            elif tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3", "table"):
                lines.append("\n")
            elif tag in ("td", "th"):  # cells of a row: apart, as a mail program shows them
                lines.append(" ")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style", "head", "title", "blockquote"):
                self.skip = max(0, self.skip - 1)
            elif tag in ("p", "div", "tr", "li", "h1", "h2", "h3", "table"):
                lines.append("\n")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                lines.append(data)

    parser = Text(convert_charrefs=True)
    parser.feed(html)
    parser.close()
    return "\n".join(" ".join(line.split()) for line in "".join(lines).splitlines() if line.strip())


def _which(msg: Message, wanted: list[Wanted], matcher: Matcher, received: datetime) -> Wanted | None:
    named = set(_MSGID_RE.findall(" ".join(str(msg.get(h) or "") for h in ("In-Reply-To", "References"))))
    for w in wanted:
        if w.message_id and w.message_id in named:
            return w
    from email.utils import getaddresses

    try:
        sender = getaddresses([str(msg.get("From") or "")])[0][1].lower()
    except Exception:
        return None
    if sender not in matcher.addresses and sender.rsplit("@", 1)[-1] not in matcher.domains:
        return None
    subject = _header(msg, "Subject")
    fits = [
        w
        for w in wanted
        if w.membership_id
        and w.membership_id in subject
        and (w.submitted_at is None or w.submitted_at.timestamp() <= received.timestamp())
    ]
    # Several submissions of one membership: the newest one sent before the reply is the one answered.
    return max(fits, key=lambda w: w.submitted_at.timestamp() if w.submitted_at else 0.0, default=None)


def later(first: str, second: str) -> bool:
    """Whether ISO time `second` is not before `first`: as times, not as texts (offsets differ: a desk
    server's +01:00, a desk member's webmail in UTC)."""
    try:
        return datetime.fromisoformat(first) <= datetime.fromisoformat(second)
    except ValueError:
        return first <= second


def scan(source: Source, wanted: Iterable[Wanted], matcher: Matcher) -> list[Outcome]:
    """The desk's replies to `wanted` in `source`: at most one outcome per submission (the latest reply)."""
    from email.parser import BytesHeaderParser

    pending = list(wanted)
    found: dict[str, Outcome] = {}
    if not pending:
        return []
    parser = BytesHeaderParser()
    for env in source.messages():
        msg = parser.parsebytes(env.head)
        received = received_time(msg, env.arrival)
        if _is_report(msg):  # a mail system returning the submission undelivered
            outcome = _bounce(source, env, msg, pending, received)
        else:
            w = _which(msg, pending, matcher, received)
            outcome = _outcome(source, env, msg, w, matcher, received) if w is not None else None
        if outcome is None:
            continue
        earlier = found.get(outcome.submission)
        if earlier is None or later(earlier.received_at, outcome.received_at):
            found[outcome.submission] = outcome
    return list(found.values())


def _outcome(
    source: Source, env: Envelope, msg: Message, w: Wanted, matcher: Matcher, received: datetime
) -> Outcome | None:
    subject = _header(msg, "Subject")
    try:
        body = own_text(_body_text(source.whole(env)), subject)
    except TooLarge:
        return None
    common = {
        "submission": w.id,
        "received_at": received.isoformat(),
        "reply_message_id": clean(str(msg.get("Message-ID") or "")),
        "subject": subject,
    }
    number = matcher.contract_in(body, subject)
    # The reject subject answered ("AW: AW: Ihre Registrierung konnte nicht …") is the thread of a rejection,
    # where the desk may yet give the number; without one it changes nothing (the rejection stands).
    if matcher.is_reject(subject) and not _REPLY_RE.match(subject):
        return Outcome(kind="rejected", contract=None, reasons=reasons_in(body), **common)
    if number is None:
        return None  # a reply without a number (a question, an out-of-office): not an outcome
    return Outcome(kind="contract", contract=number, reasons=(), **common)


# ---------------------------------------------------------------- bounces (RFC 3464 delivery status notifications)

_RETURNED = ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers")
_STATUS = ("message/delivery-status", "message/global-delivery-status")


def _is_report(msg: Message) -> bool:
    """A delivery status notification, as Postfix, Exim, Exchange and Gmail send one (`multipart/report`)."""
    kind = msg.get_param("report-type")
    return msg.get_content_type() == "multipart/report" and str(kind or "").strip().lower() == "delivery-status"


def _bounce(source: Source, env: Envelope, msg: Message, wanted: list[Wanted], received: datetime) -> Outcome | None:
    """The submission a mail system returned undelivered: the report names its Message-ID (in the returned
    message or its headers) and a recipient whose delivery failed. A delay warning (`Action: delayed`) is none."""
    try:
        returned_id, failed = returned(source.whole(env))
    except TooLarge:
        return None
    w = next((w for w in wanted if w.message_id and w.message_id == returned_id), None)
    if w is None or not failed:
        return None
    return Outcome(
        submission=w.id,
        kind="bounced",
        contract=None,
        reasons=failed,
        received_at=received.isoformat(),
        reply_message_id=clean(str(msg.get("Message-ID") or "")),
        subject=_header(msg, "Subject"),
    )


def returned(data: bytes) -> tuple[str | None, tuple[str, ...]]:
    """(Message-ID of the message a report returns, its failed recipients each with the server's words)."""
    from email import message_from_bytes
    from email.parser import HeaderParser

    report: Any = message_from_bytes(data)
    message_id: str | None = None
    failed: list[str] = []
    children = report.get_payload() if report.is_multipart() else []
    for part in children if isinstance(children, list) else []:
        ctype = part.get_content_type()
        if ctype in _STATUS:
            failed += _failed_recipients(part)
        elif ctype in _RETURNED and message_id is None:
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                head = inner[0]
            else:
                raw = part.get_payload(decode=True) or b""
                head = HeaderParser().parsestr(raw.decode("utf-8", "replace"))
            found = _MSGID_RE.search(str(head.get("Message-ID") or ""))
            message_id = found.group(0) if found else None
    return message_id, tuple(dict.fromkeys(failed))[:MAX_REASONS]


def _failed_recipients(part: Any) -> list[str]:
    """`recipient: diagnostic` of each per-recipient block whose Action is failed."""
    out = []
    for block in _status_blocks(part):
        if str(block.get("Action") or "").strip().lower() != "failed":
            continue
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "").split(";", 1)[-1]
        words = str(block.get("Diagnostic-Code") or "").split(";", 1)[-1] or str(block.get("Status") or "")
        line = " ".join(f"{recipient.strip()}: {' '.join(words.split())}".split())
        line = clean(line.strip(": "))[:300]
        if line:
            out.append(line)
    return out


def _status_blocks(part: Any) -> list[Any]:
    """The header blocks of a delivery-status part. The email package splits them only when the part is
    not encoded; a base64 or quoted-printable one (Exchange may send one) is decoded and split here."""
    import binascii
    from email.parser import HeaderParser

    blocks = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    if isinstance(blocks, list) and encoding not in ("base64", "quoted-printable"):
        return blocks
    try:
        raw = "".join(b.as_string() for b in blocks) if isinstance(blocks, list) else str(blocks or "")
        data = raw.encode("ascii", "replace")
        if encoding == "base64":
            data = binascii.a2b_base64(data)
        elif encoding == "quoted-printable":
            data = binascii.a2b_qp(data)
    except (binascii.Error, ValueError, LookupError):
        return []
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return [HeaderParser().parsestr(b.strip("\n")) for b in re.split(r"\n(?:[ \t]*\n)+", text) if b.strip()]
