"""The foundation: config resolution, the JSON contract, exit codes, start-up imports, holiday tables."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from supportctl import config
from supportctl.errors import ExitCode
from supportctl.schedule import holidays as holiday_table
from supportctl.schedule.timeparse import parse_when
from tests.conftest import ROOT

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


# ---------------------------------------------------------------- time parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T17:30:00+01:00", "2026-11-27T17:30:00+01:00"),
        ("2026-11-27T16:30Z", "2026-11-27T16:30:00+00:00"),
        ("2026-11-27 17:30", "2026-11-27T17:30:00+01:00"),
        ("Fri, 27 Nov 2026 17:30:00 +0100", "2026-11-27T17:30:00+01:00"),
        ("27 Nov 2026 16:30:00 GMT", "2026-11-27T16:30:00+00:00"),
        ("27.11.2026 17:30", "2026-11-27T17:30:00+01:00"),
        ("November 27, 2026 5:30 PM", "2026-11-27T17:30:00+01:00"),
    ],
)
def test_parse_when_forms(text: str, expected: str) -> None:
    assert parse_when(text, BERLIN).isoformat() == expected


def test_now_is_now() -> None:
    before = datetime.now(UTC)
    assert parse_when("now", BERLIN) >= before


# ---------------------------------------------------------------- config


def write_config(home: Path, text: str) -> Path:
    p = home / ".config" / "supportctl" / "config.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_precedence_flag_env_file_default(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(isolated, '[schedule]\nhours = "07:00-15:00"\ndays = "mon-sat"\n')
    cfg = config.load({"schedule.hours": None})
    assert cfg.get("schedule.hours") == "07:00-15:00" and cfg.source("schedule.hours").source == "file"
    assert cfg.source("schedule.hours").origin == str(path)
    monkeypatch.setenv("SUPPORTCTL_SCHEDULE_HOURS", "08:00-16:00")
    cfg = config.load({})
    assert cfg.get("schedule.hours") == "08:00-16:00" and cfg.source("schedule.hours").source == "env"
    cfg = config.load({"schedule.hours": "10:00-12:00"})
    assert cfg.get("schedule.hours") == "10:00-12:00" and cfg.source("schedule.hours").source == "flag"
    assert cfg.get("eta.standard_mode") == "hours" and cfg.source("eta.standard_mode").source == "default"
    assert cfg.get("schedule.days") == "mon-sat"


def test_config_changes_eta(isolated: Path, cli) -> None:
    write_config(isolated, '[schedule]\ndays = "mon-sat"\n')
    r = cli("eta", "--at", "2026-11-28T12:00+01:00", "-c", "critical", "--json")
    assert r.json()["data"]["results"][0]["due"] == "2026-11-28T13:00:00+01:00"
    assert r.json()["data"]["schedule"]["days"] == "mon-sat"


def test_supportctl_config_env_var_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli) -> None:
    p = tmp_path / "elsewhere.toml"
    p.write_text('[eta]\nstandard_mode = "eod"\n')
    monkeypatch.setenv("SUPPORTCTL_CONFIG", str(p))
    assert cli("config", "path").stdout.strip() == str(p)
    data = cli("config", "show", "--json").json()["data"]
    assert data["settings"]["eta.standard_mode"] == {"value": "eod", "source": "file", "origin": str(p)}


def test_malformed_config_is_one_line_naming_file_and_line(isolated: Path, cli) -> None:
    path = write_config(isolated, '[schedule]\nhours = "09:00-18:00"\ndays = mon-fri\n')
    r = cli("eta")
    assert r.exit_code == ExitCode.CONFIG == 8
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert str(path) in line and "line 3" in line


def test_bad_value_in_config(isolated: Path, cli) -> None:
    write_config(isolated, '[eta]\nstandard_mode = "weekly"\n')
    r = cli("config", "show")
    assert r.exit_code == 8 and "eta.standard_mode must be one of hours, eod" in r.stderr


def test_unknown_key_warns_with_suggestion(isolated: Path, cli) -> None:
    write_config(isolated, '[schedule]\nhour = "09:00-18:00"\n')
    r = cli("config", "show")
    assert r.exit_code == 0
    assert "unknown setting 'schedule.hour'" in r.stderr and "schedule.hours" in r.stderr


def test_config_show_plain_lists_sources(monkeypatch: pytest.MonkeyPatch, cli) -> None:
    monkeypatch.setenv("SUPPORTCTL_TZ", "Europe/Vienna")
    r = cli("config", "show")
    line = next(x for x in r.stdout.splitlines() if x.startswith("tz\t"))
    assert line.split("\t") == ["tz", "Europe/Vienna", "env (SUPPORTCTL_TZ)"]  # in a pipe: the code of --json


# ---------------------------------------------------------------- contract


def test_json_envelope_schema(cli) -> None:
    body = cli("eta", "--at", "2026-11-30T10:00+01:00", "--json").json()
    assert set(body) == {"version", "command", "ok", "data", "errors"}
    assert body["version"] == 1 and body["command"] == "eta" and body["ok"] is True and body["errors"] == []
    for r in body["data"]["results"]:
        assert r["class"] in ("critical", "standard")
        for key in ("start", "clock_starts", "due"):
            assert datetime.fromisoformat(r[key]).tzinfo is not None


def test_version(cli) -> None:
    from supportctl import __version__

    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"supportctl {__version__}"


def test_usage_error_is_exit_2(cli) -> None:
    assert cli("eta", "--no-such-flag").exit_code == ExitCode.USAGE
    assert cli("no-such-command").exit_code == ExitCode.USAGE


def test_lang_flag_anywhere(cli) -> None:
    assert cli("eta", "--lang", "de", "--at", "2026-11-30T10:00+01:00", "--json").exit_code == 0
    r = cli("eta", "--lang", "fr")
    assert r.exit_code == 2


def test_lang_flag_without_its_value_says_so(cli) -> None:
    """Audit: a --lang without its value, last on the line, was "No such option '--lang'" from the subcommand."""
    r = cli("eta", "--lang")
    assert r.exit_code == ExitCode.USAGE
    assert r.stderr.splitlines()[0] == "error: Invalid value for --lang: use de or en"


def test_readme_documents_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| `(\w+)` \|", readme, re.M))
    assert {int(k): v for k, v in table.items()} == {int(c): c.name for c in ExitCode}


def test_readme_first_lines_give_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = "\n".join(readme.splitlines()[:25])
    assert "supportctl eta" in head
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = re.search(r"```sh\n(.*pytest.*)\n```", readme)
    assert test_cmd, "README must show the test command in a sh block"
    assert test_cmd.group(1).split("&&")[-1].strip() in ci


# ---------------------------------------------------------------- start-up


HEAVY = ["pypdf", "holidays", "smtplib", "email_validator", "phonenumbers", "rich", "dateutil"]


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], set()),
        (["eta", "--at", "2026-11-30T10:00+01:00", "--json"], set()),
        (["eta", "--at", "2026-11-30T10:00+01:00"], set()),
    ],
)
def test_startup_does_not_import_heavy_modules(args: list[str], allowed: set[str]) -> None:
    code = (
        "import sys, json\n"
        f"sys.argv = ['supportctl', *{args!r}]\n"
        "from supportctl.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "sys.stderr.write('LOADED=' + json.dumps(loaded))\n"
    )
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"}
    )
    loaded = set(json.loads(p.stderr.rsplit("LOADED=", 1)[1]))
    assert loaded - allowed == set(), p.stderr


def test_python_dash_m_and_console_script_agree(proc) -> None:
    r = proc("eta", "--at", "2026-11-27T17:30+01:00", "-c", "critical", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["data"]["results"][0]["due"] == "2026-11-30T09:30:00+01:00"


def test_no_color_in_a_pipe_and_with_no_color(proc) -> None:
    r = proc("eta", "--at", "2026-11-27T17:30+01:00", env={"NO_COLOR": ""})
    assert "\x1b[" not in r.stdout and "\x1b[" not in r.stderr


# ---------------------------------------------------------------- holidays


def test_shipped_holiday_tables_match_the_library() -> None:
    pytest.importorskip("holidays")
    for spec in ("DE", "DE-BY", "DE-SN"):
        for year in (2020, 2026, 2027, 2040):
            shipped = json.loads((holiday_table.DATA_DIR / f"{spec}.json").read_text())["years"][str(year)]
            computed = holiday_table.compute(spec, year)
            assert [(d, de, en) for d, de, en in shipped] == [
                (d.isoformat(), de, en) for d, (de, en) in sorted(computed.items())
            ]


def test_years_outside_the_table_are_computed_and_cached(isolated: Path) -> None:
    holiday_table._memory.clear()
    h = holiday_table.holidays_for("DE", 2050)
    assert any(n[1] == "Christmas Day" for n in h.values())
    assert (isolated / ".cache" / "supportctl" / "holidays" / "DE-2050.json").exists()
    holiday_table._memory.clear()
    assert holiday_table.holidays_for("DE", 2050) == h


def test_manifest_cache_follows_edits(tmp_path: Path) -> None:
    import shutil

    from supportctl.package import manifest as package

    root = tmp_path / "pkg"
    shutil.copytree(package.bundled_root(), root)
    first = package.load(root)
    assert package.load(root) == first  # second load comes from the JSON cache
    text = (root / "package.toml").read_text().replace('version = "2026.11"', 'version = "2099.1"')
    (root / "package.toml").write_text(text)
    assert package.load(root).version == "2099.1"
    (root / "package.toml").write_text(text.replace("[process.schedule]", "[process.schedule"))
    with pytest.raises(Exception, match="invalid package manifest"):
        package.load(root)


def test_every_command_is_documented_in_the_readme() -> None:
    from supportctl.cli import app, command_name

    readme = (ROOT / "README.md").read_text()
    names = [command_name(c) for c in app.registered_commands] + [str(g.name) for g in app.registered_groups]
    missing = [n for n in names if f"supportctl {n}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_typer_app_uses_plain_help() -> None:
    """Rich help panels import rich on every --help (see HELP_MARKUP in supportctl/cli/_base.py)."""
    from supportctl import cli

    apps = [cli.app, *(g.typer_instance for g in cli.app.registered_groups)]
    assert all(a.rich_markup_mode is None for a in apps)


def test_each_command_is_loaded_by_its_own_module() -> None:
    """`main` imports only the module of the command being run: the mapping must name the right one."""
    from supportctl.cli import _startup, app, command_name

    def allowed(name: str) -> set[str]:
        return {"supportctl.cli._base"} | {f"supportctl.cli.{_startup.VERB_MODULES[name]}"}

    for c in app.registered_commands:
        name = command_name(c)
        assert c.callback.__module__ in allowed(name), name
    for g in app.registered_groups:
        name = str(g.name)
        sub = g.typer_instance
        callbacks = [c.callback for c in sub.registered_commands]
        if sub.registered_callback is not None:
            callbacks.append(sub.registered_callback.callback)
        assert {cb.__module__ for cb in callbacks if cb is not None} <= allowed(name), name


@pytest.mark.parametrize("argv", [["eta", "--help"], ["outbox", "--help"], ["config", "smtp", "--help"]])
def test_a_single_command_runs_with_only_its_module(argv: list[str], proc) -> None:
    r = proc(*argv)
    assert r.exit_code == 0, r.stderr
