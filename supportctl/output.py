"""Rendering: the --json envelope, plain text for pipes, Rich only on a terminal.

Besides `cli.py` this is the only module that imports rich, and only inside functions, so
`--json` and plain output never pay for it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

from supportctl.i18n import _, current_language

ENVELOPE_VERSION = 1


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def use_color(stream: IO[str] | None = None) -> bool:
    """Colour only on a terminal, never with NO_COLOR, never with TERM=dumb."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return stream.isatty()


def envelope(command: str, data: Any, errors: Sequence[dict[str, Any]] = (), ok: bool = True) -> str:
    body = {"version": ENVELOPE_VERSION, "command": command, "ok": ok, "data": data, "errors": list(errors)}
    return json.dumps(body, ensure_ascii=False, default=_json_default)


def ndjson(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def say(text: str) -> None:
    """A message for the person (stderr), never data."""
    sys.stderr.write(text + "\n")


def error_line(message: str, hint: str | None) -> str:
    if hint:
        return _("error: {message} ({hint})").format(message=message, hint=hint)
    return _("error: {message}").format(message=message)


# ---------------------------------------------------------------- human formats


def weekday_abbr(index: int) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    return names[index]


def format_datetime(dt: datetime, with_zone: bool = True) -> str:
    """`Mon 2026-11-30 09:30 CET` in English, `Mo., 30.11.2026, 09:30` in German."""
    day = weekday_abbr(dt.weekday())
    zone = dt.tzname() or ""
    if current_language() == "de":
        text = f"{day}, {dt:%d.%m.%Y}, {dt:%H:%M}"
    else:
        text = f"{day} {dt:%Y-%m-%d %H:%M}"
    return f"{text} {zone}".rstrip() if with_zone else text


def format_duration(seconds: float) -> str:
    """`3 h 10 min`, `2 d 4 h`, `45 s`: two units at most, rounded down."""
    s = int(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("{d} d {h} h").format(d=days, h=hours) if hours else _("{d} d").format(d=days)
    if hours:
        return _("{h} h {m} min").format(h=hours, m=minutes) if minutes else _("{h} h").format(h=hours)
    if minutes:
        return _("{m} min").format(m=minutes)
    return _("{s} s").format(s=secs)


def relative(seconds_until: float) -> str:
    if seconds_until >= 60:
        return _("in {duration}").format(duration=format_duration(seconds_until))
    if seconds_until <= -60:
        return _("overdue by {duration}").format(duration=format_duration(seconds_until))
    return _("due now")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Rich table on a terminal; tab-separated lines otherwise."""
    if stdout_is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_header=True, header_style="bold", highlight=False)
        for c in columns:
            t.add_column(c)
        for row in rows:
            t.add_row(*[_escape(cell) for cell in row])
        Console(no_color=not use_color(), highlight=False).print(t)
    else:
        for row in rows:
            write_out("\t".join(row))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
