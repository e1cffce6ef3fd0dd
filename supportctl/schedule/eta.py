"""`eta`: when will an activation be done? The core behind `supportctl eta` and `inbox` due times."""

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from supportctl.errors import InvalidInputError, SupportctlError, UsageError
from supportctl.i18n import _
from supportctl.schedule import calendar as cal
from supportctl.schedule.timeparse import localize, parse_when, resolve_zone

if TYPE_CHECKING:
    from supportctl.package.manifest import Package

MODES = ("hours", "eod")


class ScheduleOverrides(NamedTuple):
    timezone: str | None = None
    days: str | None = None
    hours: str | None = None
    holidays: str | None = None
    half_days: str | None = None


def effective_schedule(base: cal.Schedule, o: ScheduleOverrides) -> cal.Schedule:
    """The package's schedule with the user's overrides applied (each validated)."""
    s = base
    if o.timezone:
        cal.zone(o.timezone)
        s = s._replace(timezone=o.timezone)
    if o.days:
        s = s._replace(days=cal.parse_days(o.days))
    if o.hours:
        opens, closes = cal.parse_hours(o.hours)
        s = s._replace(opens=opens, closes=closes)
    if o.holidays:
        s = s._replace(holidays=cal.parse_holidays(o.holidays))
    if o.half_days is not None:
        s = s._replace(half_days=cal.parse_half_days(o.half_days) if o.half_days.lower() != "none" else ())
    return s


class EtaResult(NamedTuple):
    activation_class: str
    label: dict[str, str]
    sla_seconds: float
    mode: str
    start: datetime
    clock_starts: datetime
    due: datetime
    steps: tuple[cal.Step, ...] | None = None

    def to_dict(self, now: datetime | None = None, user_tz: ZoneInfo | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {
            "class": self.activation_class,
            # 3600, not 3600.0: the same number whichever way the package wrote the class (hours or days)
            "sla_seconds": int(self.sla_seconds) if float(self.sla_seconds).is_integer() else self.sla_seconds,
            "mode": self.mode,
            "start": self.start.isoformat(),
            "clock_starts": self.clock_starts.isoformat(),
            "due": self.due.isoformat(),
        }
        if user_tz is not None:
            d["due_user_tz"] = self.due.astimezone(user_tz).isoformat()
        if now is not None:
            d["seconds_until_due"] = round(self.due.timestamp() - now.timestamp(), 3)
            d["overdue"] = self.due.timestamp() < now.timestamp()
        if self.steps is not None:
            d["explain"] = [step_to_dict(s) for s in self.steps]
        return d


class EtaReport(NamedTuple):
    """What `eta` answers for one start: each class's result, with the schedule, "now" and the user's zone."""

    package: tuple[str, str]  # name, version
    schedule: cal.Schedule
    now: datetime
    user_tz: ZoneInfo
    results: list[EtaResult]

    def to_dict(self) -> dict[str, Any]:
        """The data of `eta --json`."""
        return {
            "package": {"name": self.package[0], "version": self.package[1]},
            "schedule": self.schedule.to_dict(),
            "now": self.now.isoformat(),
            "user_tz": self.user_tz.key,
            "results": [r.to_dict(self.now, self.user_tz) for r in self.results],
        }

    def text(self, color: bool = False) -> str:
        """`eta`'s report for the person: the start, then each class's due time (its label bold with `color`),
        where the clock starts outside business hours, the due time in the user's zone, and `--explain`'s steps.

        With `color` the text is already safe for a terminal (every value in it escaped, only the bold its
        own): write it with `write_out(text, styled=True)`, which would otherwise escape the bold too."""
        from supportctl.i18n import localized
        from supportctl.output import format_datetime, relative, sanitize

        user_tz, schedule_tz = self.user_tz, self.schedule.timezone
        lines = [_("Start: {when}").format(when=format_datetime(self.results[0].start.astimezone(user_tz)))]
        styled: set[int] = set()  # the lines whose values are escaped here, so that their bold stays
        for r in self.results:
            label = localized(r.label, r.activation_class)
            line = _("{label}: active by {due} ({zone}), {relative}").format(
                label=f"\x1b[1m{sanitize(label)}\x1b[0m" if color else label,
                due=format_datetime(r.due, long=True),
                zone=sanitize(schedule_tz),
                relative=relative(r.due.timestamp() - self.now.timestamp()),
            )
            styled.add(len(lines))
            lines.append(line)
            if r.clock_starts.timestamp() != r.start.timestamp():
                when = format_datetime(r.clock_starts)
                lines.append("  " + _("outside business hours: the clock starts {when}").format(when=when))
            if user_tz.key != schedule_tz:
                due = format_datetime(r.due.astimezone(user_tz))
                lines.append("  " + _("in your time zone ({zone}): {due}").format(zone=user_tz.key, due=due))
            if r.steps is not None:
                lines.extend("    " + step_text(s) for s in r.steps)
        if not color:
            return "\n".join(lines)
        return "\n".join(line if i in styled else sanitize(line) for i, line in enumerate(lines))


def report(
    engine: "Engine",
    pkg: "Package",
    start: datetime,
    names: list[str],
    now: datetime,
    user_tz: ZoneInfo,
    explain: bool = False,
) -> EtaReport:
    """`eta`: the due times of `start` for the classes `names` (see `Engine.class_names`)."""
    results = [engine.compute(start, name, explain) for name in names]
    return EtaReport((pkg.name, pkg.version), engine.schedule, now, user_tz, results)


def zones(settings: Any) -> tuple[ZoneInfo, ZoneInfo]:
    """(the zone a start without offset is read in, the user's zone for display) from `input_tz` and `tz`.

    One setting for "my zone": a naive --at is read in input_tz if set, else in tz (display), else local."""
    return resolve_zone(settings.get("input_tz") or settings.get("tz")), resolve_zone(settings.get("tz"))


def start_of(at: str, since_submit: bool, submission: str | None, input_tz: ZoneInfo, now: datetime) -> datetime:
    """`eta`'s start: `at` (`--at`, read in `input_tz`; "now" is `now`), or with `since_submit` when the mail
    server accepted the submission `submission` (None: the newest). Both at once, or a submission without
    `since_submit`, is a wrong command line."""
    if submission is not None and not since_submit:
        raise UsageError(
            _("unexpected argument {arg!r}").format(arg=submission),
            _("to count from a submission use --since-submit {arg}").format(arg=submission),
        )
    if not since_submit:
        return parse_when(at, input_tz, now)
    if at != "now":
        raise UsageError(_("use either --at or --since-submit"))
    from supportctl.mail.status import submitted_at

    return submitted_at(submission)


def step_to_dict(s: cal.Step) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": s.kind, "date": s.day.isoformat()}
    if s.kind == "window":
        assert s.start is not None and s.end is not None
        d.update(start=s.start.isoformat(), end=s.end.isoformat(), used_seconds=s.used_seconds)
    elif s.kind == "skip":
        d["reason"] = s.reason
        if s.name:
            d["holiday"] = {"de": s.name[0], "en": s.name[1]}
    else:
        assert s.offset_before is not None and s.offset_after is not None
        d.update(
            offset_before=utc_offset(s.offset_before.total_seconds()),
            offset_after=utc_offset(s.offset_after.total_seconds()),
        )
    return d


def step_text(s: cal.Step) -> str:
    """One line of `eta --explain`: a business-time window, a skipped day or a clock change, in words."""
    from supportctl.i18n import current_language
    from supportctl.output import format_date, format_duration

    day = format_date(s.day)
    if s.kind == "window":
        return _("{day} {start}-{end}: {used} of business time").format(
            day=day, start=f"{s.start:%H:%M}", end=f"{s.end:%H:%M}", used=format_duration(s.used_seconds)
        )
    if s.kind == "skip" and s.reason == "holiday" and s.name is not None:
        name = s.name[0] if current_language() == "de" else s.name[1]
        return _("{day}: skipped, public holiday ({name})").format(day=day, name=name)
    if s.kind == "skip":
        return _("{day}: skipped, not a business day").format(day=day)
    assert s.offset_before is not None and s.offset_after is not None  # the only other kind: "dst"
    return _("{day}: clocks change from UTC{before} to UTC{after}").format(
        day=day,
        before=utc_offset(s.offset_before.total_seconds()),
        after=utc_offset(s.offset_after.total_seconds()),
    )


def utc_offset(seconds: float) -> str:
    """`+01:00` for 3600 seconds: the offset as ISO 8601 writes it."""
    sign = "+" if seconds >= 0 else "-"
    m = int(abs(seconds)) // 60
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


class Engine:
    """A schedule, its activation classes and a mode, ready to answer many questions quickly."""

    def __init__(self, schedule: cal.Schedule, classes: dict[str, cal.ActivationClass], mode: str = "hours") -> None:
        if mode not in MODES:
            raise InvalidInputError(_("unknown standard mode {mode!r}").format(mode=mode), _("use hours or eod"))
        self.schedule = schedule
        self.classes = classes
        self.mode = mode
        self.calendar = cal.BusinessCalendar(schedule)
        self.tz = cal.zone(schedule.timezone)
        self._sla = {name: c.sla_seconds(schedule) for name, c in classes.items()}

    def class_names(self, which: str) -> list[str]:
        if which == "all":
            return list(self.classes)
        if which not in self.classes:
            raise InvalidInputError(
                _("unknown activation class {name!r}").format(name=which),
                _("use one of: {choices}").format(choices=", ".join([*self.classes, "all"])),
            )
        return [which]

    def due_ts(self, start_ts: float, name: str) -> tuple[float, float]:
        """(clock start, due) as epoch seconds: the hot path of `--batch`."""
        clock, due = self.calendar.add(start_ts, self._sla[name])
        if self.mode == "eod" and self.classes[name].business_days:
            due = self.calendar.closing_at_or_after(due)
        return clock, due

    def compute(self, start: datetime, name: str, explain: bool = False) -> EtaResult:
        ts = start.timestamp()
        clock, due = self.due_ts(ts, name)
        c = self.classes[name]
        return EtaResult(
            activation_class=name,
            label=c.label,
            sla_seconds=self._sla[name],
            mode=self.mode if c.business_days else "hours",
            start=start,
            clock_starts=self.calendar.to_local(clock),
            due=self.calendar.to_local(due),
            steps=tuple(self.calendar.explain(clock, due, ts)) if explain else None,
        )


def engine_for(process: Any, settings: Any) -> Engine:
    """The engine for a package's process with the user's `schedule.*` and `eta.standard_mode` settings.

    `settings` is anything with `.get(key)` (a resolved `config.Config`). Used by `eta` and `inbox`.
    """
    schedule = effective_schedule(
        process.schedule,
        ScheduleOverrides(
            timezone=settings.get("schedule.timezone"),
            days=settings.get("schedule.days"),
            hours=settings.get("schedule.hours"),
            holidays=settings.get("schedule.holidays"),
            half_days=settings.get("schedule.half_days"),
        ),
    )
    return Engine(schedule, process.classes, settings.get("eta.standard_mode"))


# ---------------------------------------------------------------- --batch


class BatchItem(NamedTuple):
    line: int
    at: str
    activation_class: str | None


def parse_batch_line(line_no: int, raw: str, class_names: Iterable[str]) -> BatchItem | None:
    """One input line: a timestamp, `timestamp,class`, or NDJSON `{"at": …, "class": …}`."""
    text = raw.strip()
    if not text or text.startswith("#"):
        return None
    if text[0] == "{":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(_("not valid JSON: {reason}").format(reason=exc.msg)) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("at"), str):
            raise InvalidInputError(_('a JSON line needs "at" as a string'))
        cls = obj.get("class")
        if cls is not None and not isinstance(cls, str):
            raise InvalidInputError(_('"class" must be a string'))
        return BatchItem(line_no, obj["at"], cls)
    if line_no == 1 and text.replace(" ", "").lower() in ("at,class", "timestamp,class", "start,class"):
        return None
    head, sep, tail = text.rpartition(",")
    if sep and (tail.strip() in class_names or tail.strip() == "all"):
        return BatchItem(line_no, head.strip().strip('"'), tail.strip())
    if sep and head.strip() and re.fullmatch(r"[A-Za-z][A-Za-z_-]*", tail.strip()):
        # `time,word`: a class name, misspelt (no time ends in a bare word after a comma); `run_batch` names it.
        return BatchItem(line_no, head.strip().strip('"'), tail.strip())
    return BatchItem(line_no, text, None)


class BatchResult(NamedTuple):
    line: int
    activation_class: str
    start: str
    clock_starts: str
    due: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "class": self.activation_class,
            "start": self.start,
            "clock_starts": self.clock_starts,
            "due": self.due,
        }


class BatchError(NamedTuple):
    line: int
    error: SupportctlError
    input: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "error": self.error.to_dict(), "input": self.input}


def run_batch(
    engine: Engine, lines: Iterable[str], default_class: str, input_tz: ZoneInfo
) -> Iterator[BatchResult | BatchError]:
    """Stream one result per (line, class); a bad line yields a `BatchError` and the run goes on."""
    names = list(engine.classes)
    default_names = engine.class_names(default_class)
    cal_ = engine.calendar
    sla = engine._sla
    eod = {name for name, c in engine.classes.items() if engine.mode == "eod" and c.business_days}
    fromiso = datetime.fromisoformat
    new = tuple.__new__
    for n, raw in enumerate(lines, 1):
        try:
            text = raw.strip()
            # Fast path: a bare ISO 8601 timestamp, the common case for large batches.
            start: datetime | None = None
            which = default_names
            if text[:1].isdigit() and "," not in text:
                try:
                    start = fromiso(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
                except ValueError:
                    start = None
                if start is not None and start.tzinfo is None:
                    start = localize(start, input_tz)
            if start is None:
                item = parse_batch_line(n, raw, names)
                if item is None:
                    continue
                if item.activation_class:
                    which = engine.class_names(item.activation_class)
                start = _fast_when(item.at, input_tz)
            # "YYYY-MM-DDTHH:MM:SS+HH:MM" is already what isoformat() would print.
            canonical = len(text) == 25 and text[10] == "T" and text[19] in "+-"
            start_iso = text if canonical else start.isoformat()
            ts = start.timestamp()
            for name in which:
                clock, i, due, j = cal_.add_indexed(ts, sla[name])
                if name in eod:
                    due_iso = cal_.to_local(cal_.closing_at_or_after(due)).isoformat()
                else:
                    due_iso = cal_.iso_at(due, j)
                # tuple.__new__ skips the NamedTuple's Python-level __new__ on this hot path.
                yield new(BatchResult, (n, name, start_iso, cal_.iso_at(clock, i), due_iso))
        except SupportctlError as exc:
            yield BatchError(n, exc, raw.rstrip("\r\n"))


def check_batch(at: str, since_submit: bool, submission: str | None) -> None:
    """`--batch` reads every start from its input: a start given as well (`--at`, `--since-submit`, an ID) would be
    ignored, so it is refused."""
    if at != "now" or since_submit or submission is not None:
        raise UsageError(_("--batch reads every start from standard input"), _("leave out --at and --since-submit"))


def write_batch(
    engine: Engine, lines: Iterable[str], default_class: str, input_tz: ZoneInfo, stream: IO[str], fmt: str
) -> int:
    """`--batch` as a stream: one NDJSON object (`fmt` "ndjson") or CSV row per result and per unreadable line,
    written as they come, so a large batch is never held in memory. Returns the number of unreadable lines."""
    import itertools

    failed = 0
    rest = iter(lines)
    first = next(rest, "").removeprefix("\ufeff")  # a file saved by Notepad or PowerShell 5 starts with a BOM
    records = run_batch(engine, itertools.chain((first,), rest), default_class, input_tz)
    if fmt == "csv":
        import csv

        w = csv.writer(stream, lineterminator="\n")
        w.writerow(["line", "class", "start", "clock_starts", "due", "error"])
        for rec in records:
            if isinstance(rec, BatchError):
                failed += 1
                w.writerow([rec.line, "", "", "", "", rec.error.message])
            else:
                w.writerow([*rec, ""])
        return failed
    from supportctl.output import ndjson

    write = stream.write
    # NDJSON by hand: the values are ISO strings and class names, quoted once per class.
    quoted = {name: json.dumps(name) for name in engine.classes}
    for rec in records:
        if isinstance(rec, BatchError):
            failed += 1
            write(ndjson(rec.to_dict()) + "\n")
        else:
            write(
                f'{{"line": {rec.line}, "class": {quoted[rec.activation_class]}, "start": "{rec.start}", '
                f'"clock_starts": "{rec.clock_starts}", "due": "{rec.due}"}}\n'
            )
    return failed


def _fast_when(text: str, input_tz: ZoneInfo) -> datetime:
    """ISO 8601 without the general parser's overhead; everything else through `parse_when`."""
    t = text.strip()
    if t[-1:] in ("Z", "z"):
        t = t[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        if text.strip().lower() == "now":
            return datetime.now(timezone.utc)
        return parse_when(text, input_tz)
    return dt if dt.tzinfo is not None else localize(dt, input_tz)
