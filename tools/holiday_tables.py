"""Regenerate the holiday tables shipped in `supportctl/schedule/holiday_data/` from the `holidays` library.

Maintenance only (never in the wheel): `python -m tools.holiday_tables`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from supportctl.fsutil import atomic_write_text
from supportctl.schedule.holidays import BUNDLED_SPECS, BUNDLED_YEARS, DATA_DIR, _encode, compute


def generate(out_dir: Path = DATA_DIR) -> list[Path]:
    written = []
    for spec in BUNDLED_SPECS:
        table = {y: compute(spec, y) for y in BUNDLED_YEARS}
        path = out_dir / f"{spec}.json"
        atomic_write_text(path, _encode(table))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in generate():
        sys.stdout.write(f"{p}\n")
