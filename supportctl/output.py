"""Rendering: the --json envelope, plain text for pipes, Rich only on a terminal.

Besides the `supportctl.cli` package this is the only module that imports rich, and only inside functions, so
`--json` and plain output never pay for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from typing import IO, Any

from supportctl.i18n import _, current_language

ENVELOPE_VERSION = 1

# ---------------------------------------------------------------- the one sanitiser for untrusted text
#
# Manifest fields, HTTP reason phrases, mail headers, form values and file names come from outside. Before any
# of them reaches a terminal, control characters (C0, DEL, C1: ESC sequences retitle windows and clear
# screens), bidi overrides and isolates (they reorder what the reader sees) and line/paragraph separators are
# shown escaped as `\u` and four hex digits, also a valid JSON escape: the same function is safe on JSON text.

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *map(ord, BIDI_CONTROLS)]
# ASCII text (most of it) goes through str.translate; other text through a regular expression, compiled on first
# use (the two cost ~6 M instructions, 2 % of the start-up of `eta`, which prints ASCII).
_TEXT_ESCAPES = {c: f"\\u{c:04x}" for c in _UNSAFE}
_LINE_ESCAPES = {**_TEXT_ESCAPES, 0x09: "\\u0009", 0x0A: "\\u000a"}
_PATTERNS: dict[bool, re.Pattern[str]] = {}


def _unsafe(multiline: bool) -> re.Pattern[str]:
    if multiline not in _PATTERNS:
        escapes = _TEXT_ESCAPES if multiline else _LINE_ESCAPES
        _PATTERNS[multiline] = re.compile("[" + "".join(map(chr, escapes)) + "]")
    return _PATTERNS[multiline]


def _escaped(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group(0)):04x}"


def sanitize(text: object, *, multiline: bool = False) -> str:
    """`text` safe for a terminal: control and bidi characters shown escaped (`\\u001b`, `\\u202e`).

    One line by default (newlines and tabs escaped too); `multiline` keeps newlines and tabs, for our own
    multi-line output that embeds untrusted values.
    """
    s = str(text)
    if s.isascii():
        if s.isprintable():  # in ASCII the unprintable are exactly the controls: nothing to escape (the usual)
            return s
        return s.translate(_TEXT_ESCAPES if multiline else _LINE_ESCAPES)
    return _unsafe(multiline).sub(_escaped, s)


def strip_unsafe(text: object, *, multiline: bool = False) -> str:
    """`text` with control and bidi characters removed (for values put into mail headers and templates)."""
    s = str(text)
    return _unsafe(multiline).sub("", s)


def has_unsafe(text: str) -> bool:
    """True if `text` holds a control character (newline and tab included) or a bidi control."""
    if text.isascii():
        return not text.isprintable()  # in ASCII: C0 controls (tab, newline) and DEL
    return _unsafe(False).search(text) is not None


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
    # json escapes C0 controls but leaves DEL, C1 and bidi controls raw: escaped here, still valid JSON.
    return sanitize(_ENCODER.encode(body))


def ndjson(record: dict[str, Any]) -> str:
    return sanitize(_ENCODER.encode(record))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# One encoder for every record: `json.dumps` with options builds one per call, and a large list has many.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)


def write_out(text: str, *, styled: bool = False) -> None:
    """Data on stdout. Untrusted parts are shown escaped, unless the text is `styled`: made safe by its maker
    (every value in it escaped already), its own terminal styles (bold) kept."""
    text = text if styled else sanitize(text, multiline=True)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def say(text: str) -> None:
    """A message for the person (stderr), never data. Untrusted parts are shown escaped."""
    sys.stderr.write(sanitize(text, multiline=True) + "\n")


def say_lines(lines: Iterable[str]) -> None:
    """Messages for the person (stderr), one per line: what a core result says (`lines()`, `notes()`)."""
    for line in lines:
        say(line)


def page(text: str) -> None:
    """Text for a person on a terminal, through their pager (as pydoc picks it: MANPAGER, PAGER, else less or
    more). A pager named there that cannot be run is said in one line and the text printed without it: pydoc
    would hand it to the shell, whose "not found" would be all the person sees."""
    import pydoc
    import shlex
    import shutil

    for var in ("MANPAGER", "PAGER"):
        command = os.environ.get(var)
        if not command:
            continue
        try:
            program = shlex.split(command)[0]
        except (ValueError, IndexError):
            program = command
        if shutil.which(program) is None:
            say(
                _("warning: the pager {pager} cannot be run ({variable}); showing the text without it").format(
                    pager=program, variable=var
                )
            )
            write_out(text)
            return
        break
    if not os.environ.get("LESSCHARSET") and not os.environ.get("LESSCHARDEF") and _utf8_out():
        # less takes its character set from the locale, and from a LANG naming a locale that is not installed
        # (de_DE.UTF-8 on a minimal system) it takes ASCII: every umlaut would show as <C3><A4>.
        os.environ["LESSCHARSET"] = "utf-8"
    pydoc.pager(text)


def _utf8_out() -> bool:
    """Whether text handed to a pager is encoded as UTF-8 (pydoc writes it in the preferred encoding)."""
    import locale

    return locale.getpreferredencoding(False).lower().replace("-", "") == "utf8"


def shell_arg(text: str) -> str:
    """A file name inside a command we suggest, quoted so that it can be pasted as it is: `'Formular Müller.pdf'`
    (POSIX shells), `"Formular Müller.pdf"` on Windows (cmd and PowerShell); a plain name stays as it is."""
    import shlex

    if sys.platform == "win32":
        return f'"{text}"' if re.search(r"[\s&|<>^()%!'`$;,@{}]", text) else text
    return shlex.quote(text)


def error_line(message: str, hint: str | None) -> str:
    """One line, whatever the message quotes: a newline in a manifest value cannot forge a second line."""
    message = sanitize(message)
    if hint:
        return _("error: {message} ({hint})").format(message=message, hint=sanitize(hint))
    return _("error: {message}").format(message=message)


# ---------------------------------------------------------------- human formats


def weekday_abbr(index: int) -> str:
    names = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]
    return names[index]


def weekday_name(index: int) -> str:
    names = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
    return names[index]


# Zone abbreviations as German readers know them; anything else (UTC, EST, +03) stays as the zone gives it.
_ZONE_ABBR_DE = {"CET": "MEZ", "CEST": "MESZ", "WET": "WEZ", "WEST": "WESZ", "EET": "OEZ", "EEST": "OESZ"}


def _zone_abbr(dt: datetime) -> str:
    zone = dt.tzname() or ""
    return _ZONE_ABBR_DE.get(zone, zone) if current_language() == "de" else zone


def format_date(d: date) -> str:
    """`Mon 2026-11-30` in English, `Mo., 30.11.2026` in German."""
    day = weekday_abbr(d.weekday())
    if current_language() == "de":
        return f"{day}, {d:%d.%m.%Y}"
    return f"{day} {d.isoformat()}"


def format_datetime(dt: datetime, with_zone: bool = True, long: bool = False) -> str:
    """`Mon 2026-11-30 09:30 CET` in English; German `Mo., 30.11.2026, 09:30 MEZ`.

    `long` is for running text: German `Montag, 30.11.2026, 09:30 Uhr MEZ`; English stays the same.
    """
    zone = _zone_abbr(dt) if with_zone else ""
    if current_language() == "de":
        if long:
            text = f"{weekday_name(dt.weekday())}, {dt:%d.%m.%Y}, {dt:%H:%M} Uhr"
        else:
            text = f"{weekday_abbr(dt.weekday())}, {dt:%d.%m.%Y}, {dt:%H:%M}"
    else:
        text = f"{weekday_abbr(dt.weekday())} {dt:%Y-%m-%d %H:%M}"
    return f"{text} {zone}".rstrip()


_AS_STORED: Any = object()


def format_iso(iso: object, zone: tzinfo | None = _AS_STORED, missing: str = "") -> str:
    """A stored ISO 8601 time in the chosen language's format, in `zone` (None: the local zone; by default as
    stored); `missing` if there is none, the text as stored if it is not a time."""
    if not iso:
        return missing
    try:
        dt = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return format_datetime(dt if zone is _AS_STORED else dt.astimezone(zone))


def format_number(value: float, decimals: int = 0) -> str:
    """`1,234.5` in English, `1.234,5` in German."""
    text = f"{value:,.{decimals}f}"
    if current_language() == "de":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


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


def hours_minutes(seconds: float | None) -> str:
    """`2 h 05 min`, `45 min`, or `-` for none: a time to reply in a report column (rounded to the minute)."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def relative(seconds_until: float) -> str:
    if seconds_until >= 60:
        return _("in {duration}").format(duration=format_duration(seconds_until))
    if seconds_until <= -60:
        return _("overdue by {duration}").format(duration=format_duration(seconds_until))
    return _("due now")


def token(code: str, label: str) -> str:
    """A state or status in a table: the translated word on a terminal, the stable code (as in `--json`) in a
    pipe, so scripts that cut columns work in every language."""
    return label if stdout_is_tty() else code


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]], whole: Sequence[int] = ()) -> None:
    """A Rich table on a terminal; tab-separated lines otherwise.

    Columns in `whole` (e.g. ids a person types back) are never cut or wrapped; the others give way.
    """
    if stdout_is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title, show_header=True, header_style="bold", highlight=False)
        for n, c in enumerate(columns):
            if n in whole:
                width = max([len(c)] + [len(r[n]) for r in rows if n < len(r)])
                t.add_column(c, no_wrap=True, min_width=width)
            else:
                t.add_column(c)
        for row in rows:
            t.add_row(*[_escape(sanitize(cell)) for cell in row])
        # Without colour, no styling at all: Rich's `no_color` keeps bold and italic escapes (NO_COLOR means none).
        color = use_color()
        Console(no_color=not color, color_system="auto" if color else None, highlight=False).print(t)
    else:
        for row in rows:
            write_out("\t".join(sanitize(cell) for cell in row))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@contextlib.contextmanager
def download_progress(description: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress callback `(done, total)`: a Rich bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    # Started at the first data, not before: a password prompt (a server that asks for a login) comes
    # before the body and must not be drawn over.
    color = use_color(sys.stderr)
    progress = Progress(
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True, no_color=not color, color_system="auto" if color else None, highlight=False),
        transient=True,
    )
    task: list[Any] = []

    def update(done: int, total: int | None) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task(description, total=None))
        progress.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            progress.stop()
