"""`supportctl eta`: the issue's table, DST, holidays, modes, batch, and the CLI contract."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from supportctl.errors import ExitCode
from supportctl.package import manifest as package
from supportctl.schedule.eta import Engine, ScheduleOverrides, effective_schedule
from supportctl.schedule.timeparse import parse_when

BERLIN = ZoneInfo("Europe/Berlin")


def engine(mode: str = "hours", **overrides: str) -> Engine:
    pkg = package.load(package.bundled_root())
    schedule = effective_schedule(pkg.process.schedule, ScheduleOverrides(**overrides))
    return Engine(schedule, pkg.process.classes, mode)


def due(at: str, cls: str, mode: str = "hours", tz: ZoneInfo = BERLIN, **overrides: str) -> datetime:
    return engine(mode, **overrides).compute(parse_when(at, tz), cls).due


# The table from the issue, verbatim: (start, class, due in Berlin).
TABLE = [
    ("2026-11-27 17:30", "critical", "2026-11-30T09:30:00+01:00"),
    ("2026-11-28 12:00", "critical", "2026-11-30T10:00:00+01:00"),
    ("2026-11-30 08:00", "critical", "2026-11-30T10:00:00+01:00"),
    ("2026-11-30 18:00", "critical", "2026-12-01T10:00:00+01:00"),
    ("2026-11-30 17:00", "critical", "2026-11-30T18:00:00+01:00"),
    ("2026-11-27T16:30Z", "critical", "2026-11-30T09:30:00+01:00"),
    ("2026-12-01 14:00", "standard", "2026-12-02T14:00:00+01:00"),
    ("2026-11-28 12:00", "standard", "2026-11-30T18:00:00+01:00"),
    ("2026-12-24 17:30", "critical", "2026-12-28T09:30:00+01:00"),
    ("2027-03-27 12:00", "critical", "2027-03-30T10:00:00+02:00"),
]


@pytest.mark.parametrize(("start", "cls", "expected"), TABLE)
def test_issue_table(start: str, cls: str, expected: str) -> None:
    assert due(start, cls).isoformat() == expected


@pytest.mark.parametrize(("start", "cls", "expected"), TABLE)
def test_issue_table_through_the_cli(cli, start: str, cls: str, expected: str) -> None:
    r = cli("eta", "--at", start, "--class", cls, "--input-tz", "Europe/Berlin", "--json")
    assert r.exit_code == 0, r.stderr
    (result,) = r.json()["data"]["results"]
    assert result["due"] == expected
    assert result["class"] == cls


def test_eod_mode() -> None:
    assert due("2026-12-01 14:00", "standard", "eod").isoformat() == "2026-12-02T18:00:00+01:00"
    assert due("2026-11-28 12:00", "standard", "eod").isoformat() == "2026-11-30T18:00:00+01:00"
    # eod never changes the critical class
    assert due("2026-12-01 14:00", "critical", "eod").isoformat() == "2026-12-01T15:00:00+01:00"


def test_clock_start_reported() -> None:
    r = engine().compute(parse_when("2026-11-28 12:00", BERLIN), "critical")
    assert r.clock_starts.isoformat() == "2026-11-30T09:00:00+01:00"
    inside = engine().compute(parse_when("2026-11-30 11:15", BERLIN), "critical")
    assert inside.clock_starts == inside.start


def test_overrides_hours_days_and_holidays() -> None:
    assert due("2026-11-27 16:30", "critical", hours="08:00-17:00").isoformat() == "2026-11-30T08:30:00+01:00"
    assert due("2026-11-28 12:00", "critical", days="mon-sat").isoformat() == "2026-11-28T13:00:00+01:00"
    # 2026-01-06 (Epiphany) is a holiday in Bavaria, not nationally.
    assert due("2026-01-05 17:30", "critical").isoformat() == "2026-01-06T09:30:00+01:00"
    assert due("2026-01-05 17:30", "critical", holidays="DE-BY").isoformat() == "2026-01-07T09:30:00+01:00"
    # Christmas with no holidays at all
    assert due("2026-12-24 17:30", "critical", holidays="none").isoformat() == "2026-12-25T09:30:00+01:00"


def test_half_days_for_christmas_eve_are_configurable() -> None:
    # By default 24 December is a normal day; as a half day (09:00-13:00) the clock stops at 13:00.
    assert due("2026-12-24 12:30", "critical").isoformat() == "2026-12-24T13:30:00+01:00"
    half = "12-24=09:00-13:00,12-31=09:00-13:00"
    assert due("2026-12-24 12:30", "critical", half_days=half).isoformat() == "2026-12-28T09:30:00+01:00"
    assert due("2026-12-31 14:00", "critical", half_days=half).isoformat() == "2027-01-04T10:00:00+01:00"


def test_long_sla_and_far_years() -> None:
    e = engine()
    e.classes = dict(e.classes)
    from supportctl.schedule.calendar import ActivationClass

    e.classes["month"] = ActivationClass("month", {"en": "month"}, business_days=30)
    e._sla["month"] = 30 * 9 * 3600
    r = e.compute(parse_when("2026-12-01 09:00", BERLIN), "month")
    # 22 business days left in December (25/26 are holidays), 1 January is a holiday, then 8 more.
    assert r.due.isoformat() == "2027-01-13T18:00:00+01:00"
    assert due("2039-06-01 10:00", "critical").isoformat() == "2039-06-01T11:00:00+02:00"
    assert due("2060-06-01 10:00", "critical").isoformat() == "2060-06-01T11:00:00+02:00"


def test_explain_lists_windows_skips_and_dst(cli) -> None:
    r = cli("eta", "--at", "2027-03-27T12:00+01:00", "--class", "critical", "--explain", "--json")
    steps = r.json()["data"]["results"][0]["explain"]
    kinds = [(s["kind"], s["date"]) for s in steps]
    assert ("skip", "2027-03-27") in kinds
    assert ("dst", "2027-03-28") in kinds
    holiday = next(s for s in steps if s["date"] == "2027-03-29")
    assert holiday["reason"] == "holiday" and holiday["holiday"]["en"] == "Easter Monday"
    window = steps[-1]
    assert window["kind"] == "window" and window["used_seconds"] == 3600
    text = cli("eta", "--at", "2027-03-27T12:00+01:00", "--class", "critical", "--explain").stdout
    assert "Easter Monday" in text and "UTC+01:00 to UTC+02:00" in text


def test_human_output_shows_both_zones_and_relative(cli) -> None:
    r = cli("eta", "--at", "2026-11-27T17:30+01:00", "--class", "critical", "--tz", "America/New_York")
    assert r.exit_code == 0
    assert "Mon 2026-11-30 09:30 CET" in r.stdout
    assert "America/New_York" in r.stdout and "Mon 2026-11-30 03:30 EST" in r.stdout
    assert "\x1b[" not in r.stdout
    assert "bundled package" in r.stderr and "bundled" not in r.stdout


def test_relative_time_says_overdue(cli) -> None:
    r = cli("eta", "--at", "2020-01-06T10:00+01:00", "--class", "critical")
    assert "overdue by" in r.stdout
    data = cli("eta", "--at", "2020-01-06T10:00+01:00", "--class", "critical", "--json").json()["data"]
    assert data["results"][0]["overdue"] is True and data["results"][0]["seconds_until_due"] < 0


def test_all_classes_by_default(cli) -> None:
    r = cli("eta", "--at", "2026-12-01T14:00+01:00", "--json")
    classes = [x["class"] for x in r.json()["data"]["results"]]
    assert classes == ["critical", "standard"]
    # Whole seconds are an integer in JSON (3600, not 3600.0), whichever unit the package gave the class in.
    assert [x["sla_seconds"] for x in r.json()["data"]["results"]] == [3600, 32400]
    assert '"sla_seconds": 3600,' in r.stdout and '"sla_seconds": 32400,' in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--at", "yesterday-ish nonsense"], 3, "cannot read the time"),
        (["--class", "gold"], 2, "unknown activation class 'gold'"),
        (["--tz", "Mars/Olympus"], 3, "unknown time zone"),
        (["--hours", "18:00-09:00"], 3, "invalid business hours"),
        (["--days", "funday"], 3, "invalid business days"),
        (["--holidays", "XX"], 3, "unknown holiday calendar"),
        (["--at", "2027-03-28 02:30", "--input-tz", "Europe/Berlin"], 3, "does not exist"),
        (["--at", "2027-10-31 02:30", "--input-tz", "Europe/Berlin"], 3, "happens twice"),
        (["--standard-mode", "weekly"], 2, ""),
    ],
)
def test_errors_are_one_line_with_exit_code(cli, args: list[str], code: int, fragment: str) -> None:
    r = cli("eta", *args)
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
    if code != 2:
        errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1


def test_error_with_json_prints_envelope(cli) -> None:
    r = cli("eta", "--at", "nonsense!", "--json")
    assert r.exit_code == 3
    body = r.json()
    assert body["ok"] is False and body["data"] is None
    assert body["errors"][0]["code"] == "invalid-input" and body["errors"][0]["exit_code"] == 3


def test_dst_candidates_are_named(cli) -> None:
    r = cli("eta", "--at", "2027-03-28 02:30", "--input-tz", "Europe/Berlin")
    assert "2027-03-28T01:30:00+01:00" in r.stderr and "2027-03-28T03:30:00+02:00" in r.stderr


# ---------------------------------------------------------------- batch


def test_batch_ndjson_mixed_inputs_and_errors(cli) -> None:
    lines = "\n".join(
        [
            "2026-11-27T17:30+01:00",
            "2026-12-01T14:00+01:00,standard",
            '{"at": "2026-11-28T12:00+01:00", "class": "critical"}',
            "not a time",
            "",
            "Fri, 27 Nov 2026 17:30:00 +0100,critical",
        ]
    )
    r = cli("eta", "--batch", "--class", "critical", input=lines + "\n")
    assert r.exit_code == 3
    recs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(x["line"], x.get("due")) for x in recs] == [
        (1, "2026-11-30T09:30:00+01:00"),
        (2, "2026-12-02T14:00:00+01:00"),
        (3, "2026-11-30T10:00:00+01:00"),
        (4, None),
        (6, "2026-11-30T09:30:00+01:00"),
    ]
    assert recs[3]["error"]["code"] == "invalid-input" and recs[3]["input"] == "not a time"


def test_batch_all_classes_and_csv(cli) -> None:
    r = cli("eta", "--batch", "--format", "csv", input="at,class\n2026-12-01T14:00+01:00\n")
    assert r.exit_code == 0, r.stderr
    rows = r.stdout.splitlines()
    assert rows[0] == "line,class,start,clock_starts,due,error"
    assert rows[1].startswith("2,critical,") and rows[1].endswith("2026-12-01T15:00:00+01:00,")
    assert rows[2].startswith("2,standard,") and "2026-12-02T14:00:00+01:00" in rows[2]


def test_batch_naive_times_use_input_tz(cli) -> None:
    r = cli("eta", "--batch", "-c", "critical", "--input-tz", "Europe/Berlin", input="2026-11-30 17:00\n")
    assert json.loads(r.stdout)["due"] == "2026-11-30T18:00:00+01:00"


# ---------------------------------------------------------------- issue 16, item 12


def test_batch_names_a_misspelt_class_not_an_unreadable_time(cli) -> None:
    r = cli("eta", "--batch", input="2026-11-30T10:00+01:00,critcal\n2026-11-30T10:00+01:00,critical\n")
    assert r.exit_code == 3
    bad, good = (json.loads(line) for line in r.stdout.splitlines())
    assert bad["line"] == 1 and bad["error"]["message"] == "unknown activation class 'critcal'"
    assert bad["error"]["hint"] == "use one of: critical, standard, all"
    assert good["class"] == "critical" and good["due"] == "2026-11-30T11:00:00+01:00"
    # An e-mail date with commas is still a time.
    r = cli("eta", "--batch", "-c", "critical", input="Mon, 30 Nov 2026 10:00:00 +0100\n")
    assert r.exit_code == 0 and json.loads(r.stdout)["due"] == "2026-11-30T11:00:00+01:00"


def test_config_tz_also_reads_a_naive_at(cli, isolated) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('tz = "America/New_York"\n')
    r = cli("eta", "--at", "2026-11-30 04:00", "-c", "critical", "--json")  # 04:00 New York = 10:00 Berlin
    assert r.json()["data"]["results"][0]["start"] == "2026-11-30T04:00:00-05:00"
    assert r.json()["data"]["results"][0]["due"] == "2026-11-30T11:00:00+01:00"
    r = cli("eta", "--at", "2026-11-30 10:00", "-c", "critical", "--input-tz", "Europe/Berlin", "--json")
    assert r.json()["data"]["results"][0]["due"] == "2026-11-30T11:00:00+01:00"  # input_tz still wins


def test_batch_on_a_terminal_says_it_reads_stdin() -> None:
    import os
    import sys

    import pexpect

    from tests.conftest import ROOT

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = pexpect.spawn(sys.executable, ["-m", "supportctl", "eta", "--batch", "-c", "critical"], env=env,
                          encoding="utf-8", timeout=20)  # fmt: skip
    child.expect_exact("Reading start times from standard input, one per line; Ctrl-D ends.")
    child.sendline("2026-11-30T10:00:00+01:00")
    child.expect_exact('"due": "2026-11-30T11:00:00+01:00"')
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize("extra", [["--at", "2026-11-27 17:30"], ["--since-submit"]])
def test_batch_refuses_a_start_it_would_ignore(cli, extra: list[str]) -> None:
    """Audit: `eta --batch --at X` read its starts from stdin and silently dropped X (and --since-submit)."""
    r = cli("eta", "--batch", *extra, input="2026-11-27T17:30+01:00\n")
    assert r.exit_code == ExitCode.USAGE and r.stdout == ""
    assert r.stderr.strip().splitlines()[-1] == (
        "error: --batch reads every start from standard input (leave out --at and --since-submit)"
    )


@pytest.mark.slow
def test_class_labels_are_bold_on_a_terminal() -> None:
    """On a terminal each class's label is bold: the terminal gets the SGR, not `\\u001b[1m` spelt out."""
    import os
    import sys

    import pexpect

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(PYTHONPATH=str(ROOT), TERM="xterm", SUPPORTCTL_LANG="en")
    args = ["-m", "supportctl", "eta", "--at", "2026-11-27T17:30+01:00", "-c", "critical", "--tz", "Europe/Berlin"]
    child = pexpect.spawn(sys.executable, args, env=env, encoding="utf-8", timeout=20)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "\x1b[1mBusiness-critical phone support\x1b[0m: active by " in child.before
    assert "\\u001b" not in child.before


def test_a_bold_label_keeps_every_value_escaped() -> None:
    """The styled text escapes what the package says (a label that would retitle the terminal) itself."""
    from supportctl.schedule.eta import report

    pkg = package.load(package.bundled_root())
    start = parse_when("2026-11-27T17:30", BERLIN)
    rep = report(engine(), pkg, start, ["critical"], start, ZoneInfo("America/New_York"), explain=True)
    hostile = {"en": "Evil\x1b]0;owned\x07", "de": "Böse\x1b]0;owned\x07"}
    rep.results[0] = rep.results[0]._replace(label=hostile)
    text = rep.text(color=True)
    assert text.splitlines()[1].startswith("\x1b[1mEvil\\u001b]0;owned\\u0007\x1b[0m: active by ")
    assert [c for c in text if c < " " and c != "\n"] == ["\x1b", "\x1b"]  # the bold's on and off, nothing else
    assert "\x1b" not in rep.text(color=False).replace("\x1b]0;owned\x07", "")
