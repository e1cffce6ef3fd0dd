"""Shared fixtures. Every test runs isolated from the developer's HOME, config, state and locale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    for var in list(os.environ):
        if var.startswith("SUPPORTCTL_") or var.startswith("XDG_") or var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    from supportctl import i18n

    i18n.set_language("en")
    yield home
    i18n.set_language("en")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process (Typer's CliRunner), stdout and stderr kept apart."""
    from typer.testing import CliRunner

    from supportctl.cli import app, hoist_lang

    runner = CliRunner()
    res = runner.invoke(app, hoist_lang(list(args)), input=input, env=env, catch_exceptions=False)
    return Result(res.exit_code, res.stdout, res.stderr)


def run_proc(*args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    """Run `python -m supportctl` as a real process."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    p = subprocess.run(
        [sys.executable, "-m", "supportctl", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def cli() -> Any:
    return run_cli


@pytest.fixture
def proc() -> Any:
    return run_proc


@pytest.fixture
def dovecot() -> Iterator[Any]:
    """A real Dovecot on 127.0.0.1 (IMAPS, its own CA) with an empty Maildir; skipped where it cannot run."""
    from tests import dovecotserver as ds

    try:
        srv = ds.start()
    except ds.Unavailable as exc:
        pytest.skip(str(exc))
    yield srv
    srv.stop()
