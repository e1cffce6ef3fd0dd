"""Where supportctl keeps its files (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    # The XDG spec says relative paths are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_file() -> Path:
    explicit = os.environ.get("SUPPORTCTL_CONFIG")
    if explicit:
        return Path(explicit)
    return _xdg("XDG_CONFIG_HOME", ".config") / "supportctl" / "config.toml"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "supportctl"


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "supportctl"
