"""Public holidays without importing `holidays` on every run.

`import holidays` costs more than the whole `eta` budget, so the common specs (DE and its states) ship as
small per-spec JSON tables generated from the `holidays` library (`python -m supportctl.schedule.holidays`),
and anything else is computed once with the library and cached under `$XDG_CACHE_HOME/supportctl/`.
A test checks the shipped tables against the library.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from supportctl import paths
from supportctl.errors import InvalidInputError
from supportctl.fsutil import atomic_write_text
from supportctl.i18n import _

DATA_DIR = Path(__file__).parent / "holiday_data"
BUNDLED_YEARS = range(2020, 2041)
_STATES = ("BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH")
BUNDLED_SPECS = ("DE", *(f"DE-{s}" for s in _STATES))
TABLE_FORMAT = 1

# spec -> year -> {date: (name_de, name_en)}
Holidays = dict[date, tuple[str, str]]
_memory: dict[tuple[str, int], Holidays] = {}


def split_spec(spec: str) -> tuple[str, str | None]:
    country, _sep, subdiv = spec.partition("-")
    return country.upper(), (subdiv.upper() or None) if subdiv else None


def compute(spec: str, year: int) -> Holidays:
    """Holidays of `spec` in `year`, straight from the `holidays` library (slow import)."""
    import holidays as hol  # deliberately lazy: see module docstring

    country, subdiv = split_spec(spec)
    try:
        names_en = hol.country_holidays(country, subdiv=subdiv, years=year, language="en_US")
    except NotImplementedError:
        raise InvalidInputError(
            _("unknown holiday calendar {spec!r}").format(spec=spec),
            _("use a country code such as DE, a subdivision such as DE-BY, or none"),
        ) from None
    except (KeyError, ValueError) as exc:
        raise InvalidInputError(
            _("unknown holiday calendar {spec!r}: {reason}").format(spec=spec, reason=exc),
            _("use a country code such as DE, a subdivision such as DE-BY, or none"),
        ) from None
    try:
        names_local = hol.country_holidays(country, subdiv=subdiv, years=year, language="de")
    except Exception:  # a country without a German catalogue: use its default names
        names_local = hol.country_holidays(country, subdiv=subdiv, years=year)
    return {d: (str(names_local.get(d, n)), str(n)) for d, n in sorted(names_en.items())}


def _encode(table: dict[int, Holidays]) -> str:
    # One holiday per line keeps the shipped tables reviewable in a diff.
    years = []
    for y, h in sorted(table.items()):
        rows = ",\n".join(
            "  " + json.dumps([d.isoformat(), de, en], ensure_ascii=False) for d, (de, en) in sorted(h.items())
        )
        years.append(f'"{y}": [\n{rows}\n]')
    joined = ",\n".join(years)
    return f'{{"format": {TABLE_FORMAT}, "years": {{\n{joined}\n}}}}\n'


def _decode(text: str) -> dict[int, Holidays]:
    body = json.loads(text)
    if body.get("format") != TABLE_FORMAT:
        raise ValueError("format")
    return {int(y): {date.fromisoformat(d): (de, en) for d, de, en in rows} for y, rows in body["years"].items()}


def _load_file(path: Path) -> dict[int, Holidays] | None:
    try:
        return _decode(path.read_text("utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def holidays_for(spec: str, year: int) -> Holidays:
    """Holidays of `spec` ("DE", "DE-BY") in `year`, from the shipped table, the cache, or the library."""
    spec = spec.upper()
    key = (spec, year)
    if key in _memory:
        return _memory[key]
    if spec in BUNDLED_SPECS and year in BUNDLED_YEARS:
        table = _load_file(DATA_DIR / f"{spec}.json")
        if table is not None:
            for y, h in table.items():
                _memory[(spec, y)] = h
            if key in _memory:
                return _memory[key]
    cache = paths.cache_dir() / "holidays" / f"{spec}-{year}.json"
    cached = _load_file(cache)
    if cached is not None and year in cached:
        _memory[key] = cached[year]
        return cached[year]
    result = compute(spec, year)
    _memory[key] = result
    try:
        atomic_write_text(cache, _encode({year: result}))
    except OSError:
        pass  # a read-only cache only costs speed
    return result
