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
    return config_dir() / "config.toml"


def config_dir() -> Path:
    """The default config directory (`config_file()` may be elsewhere with SUPPORTCTL_CONFIG)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "supportctl"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "supportctl"


def state_subdir(name: str) -> Path:
    """`state_dir() / name`, both checked: not a symbolic link, ours, 0700 (see `fsutil.private_dir`).

    Nothing is created here; writers create what is missing (0700) through `fsutil`.
    """
    from supportctl.fsutil import private_dir

    return private_dir(private_dir(state_dir(), create=False) / name, create=False)


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "supportctl"
