"""The command line: a thin Typer layer over the core (the only package that imports typer).

`main` runs one command and imports only that command's module. Any other attribute (`app`, …) loads
every command first, so `from supportctl.cli import app` gives the complete application.
"""

from __future__ import annotations

from typing import Any

from supportctl.cli._startup import command_name, hoist_lang, main, only_for

__all__ = ["app", "command_name", "hoist_lang", "main", "only_for"]


def __getattr__(name: str) -> Any:
    from supportctl.cli import _base, _startup

    _startup.load_all()
    return getattr(_base, name)
