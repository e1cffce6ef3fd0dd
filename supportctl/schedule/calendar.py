"""Business-hours arithmetic. Pure: no I/O beyond the holiday table, no printing.

Business time is real elapsed time inside the schedule's windows, in the schedule's own time zone.
Windows are precomputed per year range as parallel arrays of epoch seconds with a running total of
business seconds, so a due time is two binary searches whatever the SLA's length.
"""

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportctl.errors import InvalidInputError
from supportctl.i18n import _

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_YEAR, MAX_YEAR = 1971, 2199


class Schedule(NamedTuple):
    timezone: str
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    holidays: str | None  # "DE", "DE-BY"; None = no holidays
    half_days: tuple[tuple[str, time, time], ...] = ()  # ("12-24", opens, closes)

    @property
    def day_seconds(self) -> int:
        """Length of a regular business day: what "one business day" means in hours mode."""
        return _seconds(self.closes) - _seconds(self.opens)

    def to_dict(self) -> dict[str, object]:
        return {
            "timezone": self.timezone,
            "days": format_days(self.days),
            "hours": f"{self.opens:%H:%M}-{self.closes:%H:%M}",
            "holidays": self.holidays or "none",
            "half_days": {md: f"{o:%H:%M}-{c:%H:%M}" for md, o, c in self.half_days},
        }


class ActivationClass(NamedTuple):
    name: str
    label: dict[str, str]
    business_hours: float = 0.0
    business_days: float = 0.0

    def sla_seconds(self, schedule: Schedule) -> float:
        return self.business_hours * 3600 + self.business_days * schedule.day_seconds


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


# ---------------------------------------------------------------- parsing of schedule values


def zone(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            _("unknown time zone {name!r}").format(name=name),
            _("use an IANA name such as Europe/Berlin or UTC"),
        ) from None


def parse_days(value: str | list[str]) -> frozenset[int]:
    items = value if isinstance(value, list) else re.split(r"[,\s]+", value.strip())
    days: set[int] = set()
    for item in items:
        item = item.strip().lower()
        if not item:
            continue
        lo, sep, hi = item.partition("-")
        try:
            a = DAY_NAMES.index(lo[:3])
            b = DAY_NAMES.index(hi[:3]) if sep else a
        except ValueError:
            raise InvalidInputError(
                _("invalid business days {value!r}").format(value=value),
                _("write days like mon-fri or mon,tue,thu"),
            ) from None
        while True:
            days.add(a)
            if a == b:
                break
            a = (a + 1) % 7
    if not days:
        raise InvalidInputError(_("no business days given"), _("write days like mon-fri or mon,tue,thu"))
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"{DAY_NAMES[ordered[0]]}-{DAY_NAMES[ordered[-1]]}"
    return ",".join(DAY_NAMES[d] for d in ordered)


_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(value: str) -> tuple[time, time]:
    m = _HOURS_RE.match(value)
    if m:
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) < (h2, m2):
            return time(h1, m1), time(h2, m2)
    raise InvalidInputError(
        _("invalid business hours {value!r}").format(value=value),
        _("write hours like 09:00-18:00 (opening before closing, same day)"),
    )


def parse_half_days(value: str | dict[str, str]) -> tuple[tuple[str, time, time], ...]:
    items = (
        value.items()
        if isinstance(value, dict)
        else (tuple(p.split("=", 1)) if "=" in p else (p, "") for p in (x.strip() for x in value.split(",")) if p)
    )
    out = []
    for md, hours in items:
        md = md.strip()
        if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", md):
            raise InvalidInputError(
                _("invalid half day {value!r}").format(value=md),
                _("write half days like 12-24=09:00-13:00"),
            )
        opens, closes = parse_hours(hours or "09:00-13:00")
        out.append((md, opens, closes))
    return tuple(sorted(out))


def parse_holidays(value: str) -> str | None:
    v = value.strip()
    if v.lower() in ("none", "no", "off", ""):
        return None
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,10})?", v):
        raise InvalidInputError(
            _("invalid holiday calendar {value!r}").format(value=value),
            _("use a country code such as DE, a subdivision such as DE-BY, or none"),
        )
    return v.upper()


# ---------------------------------------------------------------- the engine

# "THH:MM:SS" by second of the day, filled as `iso_at` meets them (at most 86 400 short strings).
_HMS: dict[int, str] = {}

HolidayLookup = Callable[[str, int], dict[date, tuple[str, str]]]


def _default_lookup(spec: str, year: int) -> dict[date, tuple[str, str]]:
    from supportctl.schedule.holidays import holidays_for

    return holidays_for(spec, year)


class Step(NamedTuple):
    """One line of an `--explain` trace."""

    kind: str  # "window" | "skip" | "dst"
    day: date
    start: datetime | None = None
    end: datetime | None = None
    used_seconds: float = 0.0
    reason: str = ""  # "weekend" | "holiday" | "not-a-business-day"
    name: tuple[str, str] | None = None  # holiday name (de, en)
    offset_before: timedelta | None = None
    offset_after: timedelta | None = None


class BusinessCalendar:
    """Business windows of one schedule as parallel arrays: start, end, running total at the end."""

    def __init__(self, schedule: Schedule, lookup: HolidayLookup = _default_lookup) -> None:
        self.schedule = schedule
        self.lookup = lookup
        self._tz = zone(schedule.timezone)
        self._first_year, self._last_year = 0, -1
        self._start: list[float] = []
        self._end: list[float] = []
        self._cum_end: list[float] = []
        # Per window, filled on first use: (local date, UTC offset text, local second of day at opening).
        self._fmt: list[tuple[str, str, int] | None] = []

    # -- windows

    def _windows_for_year(self, year: int) -> list[tuple[float, float]]:
        s = self.schedule
        half = {(int(md[:2]), int(md[3:])): (o, c) for md, o, c in s.half_days}
        hol = self.lookup(s.holidays, year) if s.holidays else {}
        days, tz, regular = s.days, self._tz, (s.opens, s.closes)
        combine = datetime.combine
        out = []
        first = date(year, 1, 1).toordinal()
        weekday = date(year, 1, 1).weekday()
        for ordinal in range(first, date(year + 1, 1, 1).toordinal()):
            if (weekday + ordinal - first) % 7 in days:
                d = date.fromordinal(ordinal)
                if d not in hol:
                    opens, closes = half.get((d.month, d.day), regular) if half else regular
                    a = combine(d, opens, tz).timestamp()
                    b = combine(d, closes, tz).timestamp()
                    if b > a:
                        out.append((a, b))
        return out

    def _ensure(self, first: int, last: int) -> None:
        first, last = max(first, MIN_YEAR), min(last, MAX_YEAR)
        if self._first_year <= first and last <= self._last_year:
            return
        if self._last_year >= self._first_year:
            first, last = min(first, self._first_year), max(last, self._last_year)
        starts: list[float] = []
        ends: list[float] = []
        cum: list[float] = []
        total = 0.0
        for y in range(first, last + 1):
            for a, b in self._windows_for_year(y):
                starts.append(a)
                ends.append(b)
                total += b - a
                cum.append(total)
        if not starts:
            raise InvalidInputError(
                _("the schedule has no business hours at all"),
                _("check the business days, hours and holidays"),
            )
        self._start, self._end, self._cum_end = starts, ends, cum
        self._fmt = [None] * len(starts)
        self._first_year, self._last_year = first, last

    def _year_of(self, ts: float) -> int:
        return datetime.fromtimestamp(ts, self._tz).year

    def _check_range(self, ts: float) -> int:
        year = self._year_of(ts)
        if not MIN_YEAR <= year <= MAX_YEAR - 2:
            raise InvalidInputError(
                _("{year} is outside the supported years {first}-{last}").format(
                    year=year, first=MIN_YEAR, last=MAX_YEAR - 2
                )
            )
        return year

    # -- queries

    def clock_start(self, ts: float) -> float:
        """The first business instant at or after `ts` (a start at closing time waits for the next opening)."""
        year = self._check_range(ts)
        self._ensure(year, year)
        while True:
            i = bisect_right(self._end, ts)
            if i < len(self._end):
                return max(ts, self._start[i])
            self._ensure(self._first_year, self._last_year + 1)
            if self._last_year >= MAX_YEAR:
                raise InvalidInputError(_("no business hours found after the start time"))

    def add(self, ts: float, seconds: float) -> tuple[float, float]:
        """(clock start, due) for `seconds` of business time counted from `ts`."""
        start, _i, due, _j = self.add_indexed(ts, seconds)
        return start, due

    def add_indexed(self, ts: float, seconds: float) -> tuple[float, int, float, int]:
        """Like `add`, with the indexes of the windows holding clock start and due (for `iso_at`)."""
        ends = self._end
        i = bisect_right(ends, ts) if ends and self._start[0] <= ts else -1
        if 0 <= i < len(ends):  # fast path: the windows around `ts` are known already
            start = ts if ts > self._start[i] else self._start[i]
        else:
            start = self.clock_start(ts)
            i = bisect_right(self._end, start)
            if i == len(self._end):  # start is exactly the last closing time we know
                i -= 1
        consumed = self._cum_end[i] - (self._end[i] - start)
        target = consumed + seconds
        while True:
            j = bisect_left(self._cum_end, target)
            if j < len(self._cum_end):
                return start, i, self._end[j] - (self._cum_end[j] - target), j
            if self._last_year >= MAX_YEAR:
                raise InvalidInputError(_("the due time lies beyond the supported years"))
            self._ensure(self._first_year, self._last_year + 1)

    def iso_at(self, ts: float, window: int) -> str:
        """ISO 8601 local time of `ts`, which lies in `window`: string arithmetic instead of a zone lookup.

        This is the hot path of `eta --batch`. Falls back to zoneinfo for fractions of a second and for
        windows with a UTC offset change inside them.
        """
        fmt = self._fmt[window]
        if fmt is None:
            a = datetime.fromtimestamp(self._start[window], self._tz)
            b = datetime.fromtimestamp(self._end[window], self._tz)
            if a.utcoffset() != b.utcoffset() or a.second or a.microsecond:
                return datetime.fromtimestamp(ts, self._tz).isoformat()
            fmt = (a.date().isoformat(), a.isoformat()[19:], a.hour * 3600 + a.minute * 60)
            self._fmt[window] = fmt
        whole = int(ts)
        if whole != ts:
            return datetime.fromtimestamp(ts, self._tz).isoformat()
        sod = whole - int(self._start[window]) + fmt[2]
        hms = _HMS.get(sod)
        if hms is None:
            hms = _HMS[sod] = f"T{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}"
        return fmt[0] + hms + fmt[1]

    def closing_at_or_after(self, ts: float) -> float:
        """The closing time of the window that contains `ts` (or ends at it), else of the next window."""
        self._ensure(self._year_of(ts), self._year_of(ts))
        i = bisect_left(self._end, ts)
        while i == len(self._end) and self._last_year < MAX_YEAR:
            self._ensure(self._first_year, self._last_year + 1)
            i = bisect_left(self._end, ts)
        return self._end[i]

    def business_seconds_between(self, a: float, b: float) -> float:
        """Business time elapsed from `a` to `b` (negative when b < a)."""
        if b < a:
            return -self.business_seconds_between(b, a)
        # Cover both years first: the running totals shift when the range grows backwards.
        self._ensure(self._check_range(a), self._check_range(b) + 1)
        return self._cumulative(b) - self._cumulative(a)

    def _cumulative(self, ts: float) -> float:
        year = self._check_range(ts)
        self._ensure(year, year + 1)
        i = bisect_right(self._end, ts)
        if i == len(self._end):
            return self._cum_end[-1]
        before = self._cum_end[i] - (self._end[i] - self._start[i])
        return before + max(0.0, ts - self._start[i])

    # -- the trace

    def explain(self, start: float, due: float, requested: float | None = None) -> list[Step]:
        """Windows used, days skipped (with holiday names) and DST changes crossed, in order.

        `start` is the clock start; `requested` the time asked about (the trace begins on its day).
        """
        s = self.schedule
        half = {(int(md[:2]), int(md[3:])): (o, c) for md, o, c in s.half_days}
        steps: list[Step] = []
        first = start if requested is None else min(requested, start)
        d = datetime.fromtimestamp(first, self._tz).date()
        last = datetime.fromtimestamp(due, self._tz).date()
        prev_offset = datetime.fromtimestamp(first, self._tz).utcoffset()
        one = timedelta(days=1)
        while d <= last:
            hol = self.lookup(s.holidays, d.year) if s.holidays else {}
            midnight_next = datetime.combine(d + one, time(0), self._tz)
            offset_end = midnight_next.utcoffset()
            if d in hol:
                steps.append(Step("skip", d, reason="holiday", name=hol[d]))
            elif d.weekday() not in s.days:
                steps.append(Step("skip", d, reason="weekend"))
            else:
                opens, closes = half.get((d.month, d.day), (s.opens, s.closes))
                a = max(datetime.combine(d, opens, self._tz).timestamp(), start)
                b = min(datetime.combine(d, closes, self._tz).timestamp(), due)
                if b > a or (b == a and a == due):
                    steps.append(
                        Step(
                            "window",
                            d,
                            start=datetime.fromtimestamp(a, self._tz),
                            end=datetime.fromtimestamp(b, self._tz),
                            used_seconds=b - a,
                        )
                    )
            if offset_end != prev_offset:
                steps.append(Step("dst", d, offset_before=prev_offset, offset_after=offset_end))
                prev_offset = offset_end
            d += one
        return steps

    def to_local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self._tz)


def utc_from_ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)
