"""What the desk is told about its mailbox: `inbox`'s summary, `inbox show`'s record, and `inbox report`.

`inbox report`: how the desk meets its SLA, computed on read from the mailbox (nothing is counted or stored).

Per activation class: registrations received in the period, answered within the SLA, answered late, still
open, overdue now, and the median and 90th percentile of business time to the reply. The received time is
the registration's (as in triage); the reply time is the one recorded with the reply (its copy in the Sent
folder, or this desk member's own record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from supportctl.desk.triage import STATUSES, Item, status_label
from supportctl.errors import ExitCode
from supportctl.i18n import N_, _, word

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from supportctl.desk.sources import Source
    from supportctl.desk.triage import Found, Limits, Record
    from supportctl.package.manifest import Package

# What `inbox --status` lists: "open" is everything not yet answered that is still in time or overdue.
SHOWN: dict[str, set[str] | None] = {
    "all": None,
    "open": {"open", "due-soon", "overdue"},
    "overdue": {"overdue"},
    "invalid": {"invalid"},
}


class Tally:
    """What `inbox` says after its list: the messages and list entries per status, and each skipped one.

    Counted from the list itself, so a Maildir and an IMAP run over the same mailbox say the same: a
    message with two forms is one message and two entries; a rerun that took the list from the cache says
    so by checking no PDF.
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.messages = 0  # counted by the entry that stands for each (memory stays flat in the list's size)
        self.skipped: list[tuple[str, tuple[str, ...]]] = []

    def add(self, status: str, key: str, reasons: tuple[str, ...], first: bool) -> None:
        """One entry of the list; `first`: the one that stands for its message (its first form, or itself)."""
        self.counts[status] = self.counts.get(status, 0) + 1
        self.messages += first
        if status == "skipped":
            self.skipped.append((key, reasons))

    def records(self, records: Iterable[Record], wanted: set[str] | None) -> Iterator[Record]:
        """The records `wanted` lists (None: all), each counted as it goes by (streamed: flat memory)."""
        for rec in records:
            self.add(rec.status, rec.key, rec.reasons, rec.first)
            if wanted is None or rec.status in wanted:
                yield rec

    def items(self, items: Iterable[Item], wanted: set[str] | None) -> list[Item]:
        """The items `wanted` lists (None: all), every one counted."""
        for i in items:
            self.add(i.status, i.facts.key, i.reasons, i.facts.index is None or i.facts.index == 1)
        return [i for i in items if wanted is None or i.status in wanted]

    def verdict(self, fail_on_overdue: bool) -> tuple[ExitCode, str | None]:
        """`inbox`'s exit status and what it says of it: 10 with --fail-on overdue when anything is overdue,
        else 11 when messages were skipped (every other one is listed), else 0."""
        overdue = self.counts.get("overdue", 0)
        if fail_on_overdue and overdue:
            return ExitCode.OVERDUE, _("{n} registration(s) overdue").format(n=overdue)
        return (ExitCode.PARTIAL if self.counts.get("skipped") else ExitCode.OK), None

    def lines(self, source: str, stats: dict[str, int]) -> list[str]:
        """The summary, in the current language: an empty mailbox, the counts, then one line per skip."""
        total = sum(self.counts.values())
        lines = [] if total else [_("{source}: no messages (the mailbox is empty)").format(source=source)]
        counts = ", ".join(f"{self.counts[s]} {status_label(s)}" for s in STATUSES if s in self.counts)
        lines.append(
            _("{messages} message(s), {entries} in the list: {counts}; {checked} PDF(s) checked in this run").format(
                messages=self.messages, entries=total, counts=counts or "-", checked=stats.get("validated", 0)
            )
        )
        lines += [_("skipped {key}: {reason}").format(key=k, reason="; ".join(r)) for k, r in self.skipped]
        return lines


def assessed(found: Found, pkg: Package, engine: Any, when: datetime) -> Item:
    """A registration found again, with its status as of `when` as `inbox` lists it: a duplicate only among
    the others, and who claimed it (both known from the last `inbox` run's list)."""
    from supportctl.desk import triage

    f = found.facts
    forms = {triage.form_key(pkg, f.sha256): found.form.to_dict()} if found.form and f.sha256 else {}
    item = triage.assess([f], pkg, engine, when, forms, triage.load_done())[0]
    stored = triage.stored_item(found, engine, when)
    if stored is not None and stored.status == "duplicate" and item.status != "done":
        item = stored  # a duplicate only among the others: as the list shows it
    if stored is not None and stored.claimed_by and not item.claimed_by:
        item = item._replace(claimed_by=stored.claimed_by)  # claims are read from the mailbox by `inbox`
    return item


def detail(
    message: str, pkg: Package, engine: Any, when: datetime, limits: Limits
) -> tuple[Found, Item, dict[str, Any]]:
    """`inbox show`: one registration found and assessed as of `when`, and its `--json` record."""
    from supportctl.desk import triage

    found = triage.find(message, pkg, limits)
    item = assessed(found, pkg, engine, when)
    values = found.form.values if found.form else {}
    data = {**item.to_dict(when), "message_id": found.facts.message_id, "values": values}
    return found, item, data


# Where a registration's received time comes from (`Facts.received_from`), in words.
RECEIVED_FROM_WORDS = {
    "received": N_("mail server"),
    "date": N_("sender's clock"),
    "arrival": N_("file time"),
    "unknown": N_("unknown"),
}


def received_from_word(code: str) -> str:
    return word(RECEIVED_FROM_WORDS, code)


def class_word(pkg: Package, code: str | None) -> str:
    """An activation class in the current language (the package's label, as `eta` shows it); "" for none."""
    from supportctl.i18n import localized

    if not code:
        return ""
    spec = pkg.process.classes.get(code)
    return code if spec is None else localized(spec.label, code)


# What an attachment is to the registration (`Facts.attachments`' roles), in words: `i18n.word(ROLE_WORDS, role)`.
ROLE_WORDS = {
    "this-form": N_("this registration's form"),
    "form": N_("another form"),
    "pdf": N_("another PDF, not a form"),
    "other": N_("not a form"),
}


def inbox_table(
    items: list[Item], now: datetime, zone: tzinfo | None, pkg: Package, tty: bool
) -> tuple[list[str], list[list[str]]]:
    """`inbox`'s columns and rows. In a pipe the status column is the bare token and who claimed a registration
    is a last column of its own; on a terminal both join the status, with the contract number."""
    from supportctl import output as out

    rows = []
    for i in items:
        f = i.facts
        due = ""
        if i.due is not None:
            due = f"{out.format_datetime(i.due.astimezone(zone))} ({out.relative(i.due.timestamp() - now.timestamp())})"
        received = ""
        if f.received:
            came = out.token(f.received_from, received_from_word(f.received_from))
            received = f"{out.format_iso(f.received, zone)} [{came}]"
        what = "; ".join(i.reasons) if i.reasons else f.subject
        status = out.token(i.status, status_label(i.status))
        cls = out.token(i.activation_class or "", class_word(pkg, i.activation_class))
        claimed = ", ".join(i.claimed_by)  # who took it (inbox claim)
        if tty:  # in a pipe the column stays the bare status token, and the claims are a column of their own
            if i.done and i.done.get("contract"):
                status += f" {i.done['contract']}"
            if claimed:
                status += f" [{claimed}]"
            rows.append([f.id, status, due, cls, received, f.sender, what])
        else:
            rows.append([f.id, status, due, cls, received, f.sender, what, claimed])
    columns = [_("Id"), _("Status"), _("Due"), _("Class"), _("Received"), _("From"), _("Subject or reasons")]
    return (columns if tty else [*columns, _("Claimed by")]), rows


def show_text(found: Found, item: Item, data: dict[str, Any], pkg: Package, zone: tzinfo | None) -> str:
    """`inbox show` as text: the message, its files, findings, claims and history, then the form's values."""
    from supportctl import output as out

    f = found.facts
    came = received_from_word(f.received_from)
    lines = [
        (_("Id"), f.id),
        (_("Status"), status_label(item.status)),
        (_("From"), f.sender),
        (_("Subject"), f.subject),
        (_("Message-ID"), f.message_id or "-"),
        (_("Received"), out.format_iso(f.received, zone, "-") + (f" [{came}]" if f.received else "")),
        (_("Class"), class_word(pkg, item.activation_class) or "-"),
        (_("Due"), out.format_iso(data["due"], zone, "-")),
    ]
    for a in f.attachments:
        lines.append((_("File"), f"{a['name'] or '?'} ({a['type']}, {word(ROLE_WORDS, a['role'])})"))
    for r in item.reasons:
        lines.append((_("Finding"), r))
    if item.claimed_by:
        lines.append((_("Claimed by"), ", ".join(item.claimed_by)))
    if item.done:
        from supportctl.desk.shared import answered_words

        lines.append((_("History"), answered_words(item.done)))
    width = max(len(k) for k, _v in lines)
    text = "\n".join(f"{k + ':':<{width + 1}} {out.sanitize(v)}" for k, v in lines)
    values = value_lines(pkg, data["values"])
    if values:  # what the form says, as the desk needs it for the contract: labels in the run's language
        width = max(len(k) for k, _v in values)
        heading = _("Form")
        text += f"\n{heading}:\n" + "\n".join(f"  {k + ':':<{width + 1}} {out.sanitize(v)}" for k, v in values)
    return text


def value_lines(pkg: Package, values: dict[str, Any]) -> list[tuple[str, str]]:
    """A form's values by the package's fields, in their order, with their labels; anything else after."""
    from supportctl.form.filling import shown
    from supportctl.i18n import current_language, localized

    lang = current_language()
    lines = [
        (localized(f.label, f.name), shown(f, values[f.name], lang) or "-") for f in pkg.fields if f.name in values
    ]
    known = {f.name for f in pkg.fields}
    return lines + [(name, str(v) if v not in (None, "") else "-") for name, v in values.items() if name not in known]


@dataclass
class ClassFigures:
    received: int = 0
    answered_in_time: int = 0
    answered_late: int = 0
    answered_unknown_time: int = 0
    open: int = 0
    overdue_now: int = 0
    rejected: int = 0
    invalid: int = 0  # received with findings (or no form), not answered yet
    reply_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "answered_in_time": self.answered_in_time,
            "answered_late": self.answered_late,
            "answered_unknown_time": self.answered_unknown_time,
            "rejected": self.rejected,
            "invalid": self.invalid,
            "open": self.open,
            "overdue_now": self.overdue_now,
            "median_business_seconds_to_reply": percentile(self.reply_seconds, 50),
            "p90_business_seconds_to_reply": percentile(self.reply_seconds, 90),
        }


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile by linear interpolation between closest ranks (as numpy's default)."""
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return round(v[lo] + (v[hi] - v[lo]) * (k - lo), 3)


# The figures of registrations without an activation class (no form, or a form whose class cannot be read):
# `report()`'s key for them, never a class's name.
UNCLASSIFIED = ""


def report(
    items: list[Item], engine: Any, now: datetime, since: datetime | None = None, until: datetime | None = None
) -> dict[str, ClassFigures]:
    """SLA figures per activation class for registrations received in [since, until).

    Registrations without a class (invalid or rejected ones) are under `UNCLASSIFIED`.
    """
    figures: dict[str, ClassFigures] = {}
    for item in items:
        f = item.facts
        if item.status in ("skipped", "not-a-registration", "duplicate") or f.received is None:
            continue
        received = datetime.fromisoformat(f.received)
        if (since and received < since) or (until and received >= until):
            continue
        cls = item.activation_class or _class_of(item) or UNCLASSIFIED
        fig = figures.setdefault(cls, ClassFigures())
        fig.received += 1
        if item.status == "done" and item.done is not None:
            if item.done.get("action") == "reject":
                fig.rejected += 1
                continue
            at = item.done.get("at")
            if not at or cls not in engine.classes:
                fig.answered_unknown_time += 1
                continue
            answered = datetime.fromisoformat(str(at))
            due = engine.compute(received, cls)
            fig.reply_seconds.append(
                engine.calendar.business_seconds_between(due.clock_starts.timestamp(), answered.timestamp())
            )
            if answered <= due.due:
                fig.answered_in_time += 1
            else:
                fig.answered_late += 1
        elif item.status == "overdue":
            fig.overdue_now += 1
        elif item.status in ("open", "due-soon"):
            fig.open += 1
        elif item.status == "invalid":
            fig.invalid += 1
    return figures


def sla(
    src: Source,
    pkg: Package,
    engine: Any,
    limits: Limits,
    now: datetime,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, ClassFigures]:
    """`inbox report`: the mailbox triaged as of `now` (`src` is closed then), and `report` over its work list."""
    from supportctl.desk.triage import triage

    try:
        result = triage(src, pkg, engine, now, limits=limits)
    finally:
        src.close()
    try:
        return report(list(result.items), engine, now, since, until)
    finally:
        result.close()


def _class_of(item: Item) -> str | None:
    """A done item's class: the form's, as validated when it was triaged."""
    return item.form.activation_class if item.form is not None else None


def sla_data(
    source: str, start: datetime | None, end: datetime | None, figures: dict[str, ClassFigures]
) -> dict[str, Any]:
    """`inbox report --json`'s data."""
    unclassified = figures.get(UNCLASSIFIED)
    return {
        "source": source,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None,
        "classes": {cls: fig.to_dict() for cls, fig in sorted(figures.items()) if cls != UNCLASSIFIED},
        # Registrations without an activation class (no form, or its class unreadable): invalid or rejected.
        "unclassified": unclassified.to_dict() if unclassified is not None else None,
    }


def sla_table(figures: dict[str, ClassFigures], pkg: Package, tty: bool) -> tuple[list[str], list[list[str]]]:
    """`inbox report`'s columns and rows: a row per activation class, then one for registrations without one."""
    from supportctl import output as out

    unclassified = figures.get(UNCLASSIFIED)
    # On a terminal "Invalid" stands beside "Rejected"; in a pipe it is the last column (columns there are only
    # ever added at the end, so scripts that cut them keep working).
    counts = ["received", "answered_in_time", "answered_late", "rejected", "open", "overdue_now"]
    times = ["median_business_seconds_to_reply", "p90_business_seconds_to_reply"]
    columns = [N_("Class"), N_("Received"), N_("In time"), N_("Late"), N_("Rejected"), N_("Open"), N_("Overdue now")]
    columns += [N_("Median"), N_("90th pct.")]
    fields = [*counts, *times, "invalid"]
    columns.append(N_("Invalid"))
    if tty:
        fields.insert(4, fields.pop())
        columns.insert(5, columns.pop())
    named = [(out.token(cls, class_word(pkg, cls)), fig) for cls, fig in sorted(figures.items()) if cls != UNCLASSIFIED]
    if unclassified is not None:
        named.append((out.token("-", _("(no class)")), unclassified))
    rows = []
    for name, fig in named:
        d = fig.to_dict()
        rows.append([name, *(out.hours_minutes(d[k]) if k in times else str(d[k]) for k in fields)])
    return [_(c) for c in columns], rows


def as_of(when: str | None, cfg: Any, now: datetime | None = None) -> datetime:
    """`--now`, `--since`, `--until`: WHEN read in the configured input zone (`now` for "now", default: now)."""
    from datetime import timezone

    from supportctl.schedule.timeparse import parse_when, resolve_zone

    return parse_when(when or "now", resolve_zone(cfg.get("input_tz")), now or datetime.now(timezone.utc))
