"""Where supportctl keeps its files: config, state and cache, where each platform's users look for them.

Linux and other Unix systems: the XDG base directories (`~/.config`, `~/.local/state`, `~/.cache`).
macOS: `~/Library/Application Support/supportctl` (config and state) and `~/Library/Caches/supportctl`.
Windows: `%APPDATA%\\supportctl` (config, roams with the profile), `%LOCALAPPDATA%\\supportctl` (state)
and `%LOCALAPPDATA%\\supportctl\\Cache`. On every platform `XDG_CONFIG_HOME`, `XDG_STATE_HOME`,
`XDG_CACHE_HOME` and `SUPPORTCTL_CONFIG` win when set.

macOS and Windows directories come from `platformdirs`, imported only there (and only when no XDG
variable decides), so Linux start-up does not load it. The platform is a parameter for the tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "supportctl"
KINDS = ("config", "state", "cache")
_XDG = {
    "config": ("XDG_CONFIG_HOME", ".config"),
    "state": ("XDG_STATE_HOME", ".local/state"),
    "cache": ("XDG_CACHE_HOME", ".cache"),
}


def _xdg(var: str) -> Path | None:
    value = os.environ.get(var)
    # The XDG spec says relative paths are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return None


def base_dir(kind: str, platform: str | None = None) -> Path:
    """The directory for `kind` (config, state or cache), supportctl's own name included."""
    var, fallback = _XDG[kind]
    explicit = _xdg(var)
    if explicit is not None:
        return explicit / APP
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        from platformdirs.macos import MacOS

        mac = MacOS(APP, appauthor=False)
        return Path(mac.user_cache_dir if kind == "cache" else mac.user_data_dir)
    if platform == "win32":
        from platformdirs.windows import Windows

        win = Windows(APP, appauthor=False, roaming=(kind == "config"))
        return Path({"config": win.user_config_dir, "state": win.user_state_dir, "cache": win.user_cache_dir}[kind])
    return Path.home() / fallback / APP


def config_file(platform: str | None = None) -> Path:
    explicit = os.environ.get("SUPPORTCTL_CONFIG")
    if explicit:
        return Path(explicit)
    return config_dir(platform) / "config.toml"


def config_dir(platform: str | None = None) -> Path:
    """The default config directory (`config_file()` may be elsewhere with SUPPORTCTL_CONFIG)."""
    return base_dir("config", platform)


def state_dir(platform: str | None = None) -> Path:
    return base_dir("state", platform)


def state_subdir(name: str) -> Path:
    """`state_dir() / name`, both checked: not a symbolic link, ours, 0700 (see `fsutil.private_dir`).

    Nothing is created here; writers create what is missing (0700) through `fsutil`.
    """
    from supportctl.fsutil import private_dir

    return private_dir(private_dir(state_dir(), create=False) / name, create=False)


def cache_dir(platform: str | None = None) -> Path:
    return base_dir("cache", platform)
