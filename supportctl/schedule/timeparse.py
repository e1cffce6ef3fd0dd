"""Reading the times people type: ISO 8601, RFC 2822 (e-mail `Date:`), `now`, and common forms.

A naive time is read in the input zone; a wall time that does not exist there or exists twice (DST)
is an error naming both candidates, never a silent guess.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from supportctl.errors import InvalidInputError
from supportctl.i18n import _
from supportctl.schedule.calendar import zone

# Compiled when ISO 8601 does not fit (re caches them), not on every start.
_RFC2822 = r"^\s*([A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s"
_DOTTED = r"^\s*\d{1,2}\.\d{1,2}\.\d{2,4}"


def local_zone_name() -> str:
    """The IANA name of the local zone: $TZ, else /etc/localtime, else /etc/timezone, else UTC."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and not tz.startswith("/"):
        try:
            ZoneInfo(tz)
            return tz
        except Exception:
            pass
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "/zoneinfo/"
        if marker in target:
            name = target.split(marker, 1)[1]
            ZoneInfo(name)
            return name
    except Exception:
        pass
    try:
        name = Path("/etc/timezone").read_text().strip()
        ZoneInfo(name)
        return name
    except Exception:
        return "UTC"


def localize(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach `tz` to a naive wall time, refusing times that DST makes missing or ambiguous."""
    a = naive.replace(tzinfo=tz, fold=0)
    b = naive.replace(tzinfo=tz, fold=1)
    if a.utcoffset() == b.utcoffset():
        return a
    back_a = a.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) == naive
    back_b = b.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) == naive
    # Normalise through UTC: astimezone() to the same zone would return the wall time unchanged.
    cands = (a.astimezone(timezone.utc).astimezone(tz), b.astimezone(timezone.utc).astimezone(tz))
    first, second = sorted(cands, key=lambda d: d.timestamp())
    if back_a and back_b:
        raise InvalidInputError(
            _("{time} happens twice in {zone} (clocks go back): it is either {first} or {second}").format(
                time=f"{naive:%Y-%m-%d %H:%M}", zone=tz.key, first=first.isoformat(), second=second.isoformat()
            ),
            _("give the time with its UTC offset"),
        )
    raise InvalidInputError(
        _("{time} does not exist in {zone} (clocks go forward): did you mean {first} or {second}?").format(
            time=f"{naive:%Y-%m-%d %H:%M}", zone=tz.key, first=first.isoformat(), second=second.isoformat()
        ),
        _("give the time with its UTC offset"),
    )


def parse_when(text: str, input_tz: ZoneInfo, now: datetime | None = None) -> datetime:
    """An aware datetime for `text`; naive input is read in `input_tz`."""
    raw = text.strip()
    if raw.lower() == "now" or raw == "":
        return now or datetime.now(timezone.utc)
    parsed: datetime | None = None
    iso = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        parsed = None
    if parsed is None and re.match(_RFC2822, raw):
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            parsed = None
    if parsed is None:
        from dateutil import parser as du

        try:
            parsed = du.parse(raw, dayfirst=bool(re.match(_DOTTED, raw)))
        except (ValueError, OverflowError, du.ParserError):
            raise InvalidInputError(
                _("cannot read the time {value!r}").format(value=text),
                _("use ISO 8601 (2026-11-27T17:30+01:00), an e-mail Date: header, or now"),
            ) from None
    if parsed.tzinfo is None:
        return localize(parsed, input_tz)
    return parsed


def resolve_zone(name: str | None) -> ZoneInfo:
    """A zone by name, or the local zone when `name` is None or "local"."""
    if not name or name == "local":
        return zone(local_zone_name())
    return zone(name)
