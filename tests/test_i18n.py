"""The German user interface: catalogue completeness, help and errors in both languages, dates, --json neutrality."""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from supportctl import i18n, output
from supportctl.errors import ExitCode
from tests.conftest import ROOT
from tools import catalog as i18n_catalog

DE = {"LANG": "de_DE.UTF-8"}
BERLIN = ZoneInfo("Europe/Berlin")
# Click's and Typer's English framework words, which must not survive into German output.
FRAMEWORK_WORDS = (
    "Usage",
    "Options",
    "Commands:",
    "Arguments:",
    "Show this message",
    "[default:",
    "[required]",
    "Try '",
)


def command_paths() -> list[list[str]]:
    """Every command and group of the Typer app, discovered, so commands added later are covered too."""
    import typer

    from supportctl.cli import app

    found: list[list[str]] = [[]]

    def walk(cmd: Any, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            found.append([*path, name])
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = command_paths()


# ---------------------------------------------------------------- the catalogue


def test_catalogue_is_complete_fresh_and_compiled() -> None:
    """No _() string without a German translation, nothing fuzzy or stale, and the .mo is the compiled .po."""
    assert i18n_catalog.problems() == []


def test_catalogue_roundtrip_compiles_what_gettext_reads(tmp_path: Path) -> None:
    import gettext

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(i18n_catalog.po_path("de"), "rb") as fh:
        catalog = read_po(fh)
    mo = tmp_path / "de" / "LC_MESSAGES" / "supportctl.mo"
    mo.parent.mkdir(parents=True)
    with open(mo, "wb") as fh:
        write_mo(fh, catalog)
    t = gettext.translation("supportctl", tmp_path, languages=["de"])
    assert t.gettext("due now") == "jetzt fällig"
    assert t.gettext("Usage:") == "Aufruf:"  # Click's own msgid


def test_check_reports_untranslated_fuzzy_missing_and_stale(tmp_path: Path) -> None:
    from babel.messages.pofile import read_po, write_po

    with open(i18n_catalog.po_path("de"), "rb") as fh:
        catalog = read_po(fh)
    catalog["due now"].string = ""
    catalog["Usage:"].flags.add("fuzzy")
    catalog.delete("Missing command.")
    catalog.add("a string nobody uses any more", "x")
    po = i18n_catalog.po_path("de", tmp_path)
    po.parent.mkdir(parents=True)
    with open(po, "wb") as fh:
        write_po(fh, catalog)
    found = i18n_catalog.problems(tmp_path)
    assert found == [
        "de: missing (run update): 'Missing command.'",
        "de: stale (no longer in the code): 'a string nobody uses any more'",
        "de: fuzzy: 'Usage:'",
        "de: untranslated: 'due now'",
        "de: supportctl.mo is not the compiled supportctl.po (run compile)",
    ]


def test_extraction_finds_command_docstrings_and_literal_option_help(tmp_path: Path) -> None:
    from babel.messages.extract import extract_from_file

    src = tmp_path / "mod.py"
    src.write_text(
        "@app.command()\n"
        "def show(x: Annotated[str, typer.Option(help='Literal help.', metavar='WHAT')],\n"
        "         doc: Annotated[str, typer.Argument()]) -> None:\n"
        '    """Show a document."""\n'
        "N_('Marked only.')\n"
    )
    found = {message for _line, message, _comments, _context in extract_from_file(i18n_catalog.extract_cli, src)}
    assert found == {"Show a document.", "Literal help.", "WHAT", "DOC", "Marked only."}


# ---------------------------------------------------------------- language choice


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        ({"LANG": "de_DE.UTF-8"}, [], "de"),
        ({"LC_ALL": "de_AT.UTF-8", "LANG": "en_US.UTF-8"}, [], "de"),
        ({"LANG": "fr_FR.UTF-8"}, [], None),
        ({"LANG": "C.UTF-8", "SUPPORTCTL_LANG": "de"}, [], "de"),
        ({"SUPPORTCTL_LANG": "de"}, ["--lang", "en"], "en"),
        ({"LANG": "de_DE.UTF-8"}, ["eta", "--lang=en"], "en"),
        ({"LANG": "en_US.UTF-8"}, ["eta", "--", "--lang", "de"], "en"),
        ({"LANG": "de_DE.UTF-8"}, ["--lang", "fr"], "de"),
    ],
)
def test_language_precedence(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str], expected: Any
) -> None:
    from supportctl.__main__ import _language

    monkeypatch.delenv("LANG", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert _language(argv) == expected


def test_config_lang_is_used_and_env_wins_over_it(proc, isolated: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('lang = "de"\n')
    r = proc("eta", "--at", "2026-11-27T17:30+01:00", "--class", "critical")
    assert r.exit_code == 0 and "wird bis Montag, 30.11.2026, 09:30 Uhr MEZ aktiviert" in r.stdout
    r = proc("eta", "--at", "2026-11-27T17:30+01:00", "--class", "critical", env={"SUPPORTCTL_LANG": "en"})
    assert r.exit_code == 0 and "active by Mon 2026-11-30 09:30 CET" in r.stdout


def test_english_loads_no_catalogue() -> None:
    i18n.set_language("en")
    assert isinstance(i18n._translation, i18n._English)
    i18n.set_language("de")
    assert i18n._("due now") == "jetzt fällig"


# ---------------------------------------------------------------- help, both languages


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "supportctl")
def test_help_in_german_and_english(proc, path: list[str]) -> None:
    de = proc(*path, "--help", env=DE)
    assert de.exit_code == 0, de.stderr
    assert de.stdout.startswith("Aufruf: supportctl"), de.stdout
    assert "Zeigt diese Hilfe an und beendet das Programm." in " ".join(de.stdout.split())
    for word in FRAMEWORK_WORDS:
        assert word not in de.stdout, f"{word!r} in German help of {path}:\n{de.stdout}"
    en = proc("--lang", "en", *path, "--help", env=DE)
    assert en.exit_code == 0, en.stderr
    assert en.stdout.startswith("Usage: supportctl") and "Show this message and exit." in " ".join(en.stdout.split())
    assert "Aufruf" not in en.stdout


def test_completion_options_are_translated_and_still_work(proc, isolated: Path) -> None:
    de = proc("--help", env=DE)
    assert "Installiert die Befehlsergänzung für die aktuelle Shell." in " ".join(de.stdout.split())
    r = proc("--show-completion", env={**DE, "SHELL": "/bin/bash"})
    assert r.exit_code == 0 and "_SUPPORTCTL_COMPLETE" in r.stdout
    r = proc("--install-completion", env={**DE, "SHELL": "/bin/bash"})
    assert r.exit_code == 0, r.stderr
    assert "Befehlsergänzung für bash in " in r.stdout and "Terminal neu starten" in r.stdout
    assert "_SUPPORTCTL_COMPLETE" in (isolated / ".bash_completions" / "supportctl.sh").read_text()


# ---------------------------------------------------------------- errors in German


@pytest.mark.parametrize(
    ("args", "code", "german"),
    [
        (
            ["eta", "--at", "gestern irgendwann"],
            ExitCode.INVALID_INPUT,
            "die Zeitangabe 'gestern irgendwann' ist nicht lesbar",
        ),
        (["eta", "--class", "gold"], ExitCode.USAGE, "unbekannte Aktivierungsklasse 'gold' (verwenden Sie"),
        (["eta", "--tz", "Mars/Olympus"], ExitCode.INVALID_INPUT, "unbekannte Zeitzone 'Mars/Olympus'"),
        (["eta", "--hours", "18:00-09:00"], ExitCode.INVALID_INPUT, "ungültige Geschäftszeiten '18:00-09:00'"),
        (["eta", "--format", "xml"], ExitCode.USAGE, "Ungültiger Wert für '--format': 'xml' ist keiner der Werte"),
        (["eta", "--frobnicate"], ExitCode.USAGE, "Unbekannte Option: --frobnicate"),
        (["eta", "--at"], ExitCode.USAGE, "Die Option '--at' braucht einen Wert."),
        (["config", "path", "surplus"], ExitCode.USAGE, "Unerwartete zusätzliche Argumente (surplus)."),
        (["etta"], ExitCode.USAGE, "Unbekannter Befehl 'etta'. Meinten Sie 'eta'?"),
        # A group's subcommands not named on the line are not built (start-up); "did you mean" still knows them.
        (["outbox", "lst"], ExitCode.USAGE, "Unbekannter Befehl 'lst'. Meinten Sie 'list'?"),
        (["config", "shw", "--json"], ExitCode.USAGE, "Unbekannter Befehl 'shw'. Meinten Sie 'show'?"),
        (["inbox", "shw", "3a6789"], ExitCode.USAGE, "Unbekannter Befehl 'shw'. Meinten Sie 'show'?"),
        (["--lang", "fr", "eta"], ExitCode.USAGE, "Ungültiger Wert für --lang: verwenden Sie de oder en"),
    ],
)
def test_errors_in_german(proc, args: list[str], code: int, german: str) -> None:
    r = proc(*args, env=DE)
    assert r.exit_code == code, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("Fehler: ")]
    assert len(errors) == 1 and german in errors[0], r.stderr
    assert "error" not in r.stderr.lower() and "Traceback" not in r.stderr
    for word in FRAMEWORK_WORDS:
        assert word not in r.stderr
    if code == ExitCode.USAGE and args != ["eta", "--at"]:
        assert "Hilfe erhalten Sie mit 'supportctl" in r.stderr
    en = proc("--lang", "en", *args, env=DE)
    assert en.exit_code == code and en.stderr.count("error: ") == 1, en.stderr


def test_malformed_config_in_german(proc, isolated: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[schedule\nhours = 9\n")
    r = proc("eta", env=DE)
    assert r.exit_code == ExitCode.CONFIG
    assert re.search(
        r"^Fehler: Konfigurationsdatei .*config\.toml, Zeile 1: .*\(korrigieren Sie die Zeile", r.stderr, re.M
    )
    r = proc("eta", "--lang", "en", env=DE)
    assert r.exit_code == ExitCode.CONFIG and "error: config file" in r.stderr


def test_usage_error_with_json_prints_envelope(cli) -> None:
    r = cli("eta", "--json", "--bogus")
    assert r.exit_code == ExitCode.USAGE
    assert r.json()["errors"][0]["code"] == "usage"


# ---------------------------------------------------------------- output follows the language


NOW_DEPENDENT = re.compile(rb'"(now|seconds_until_due|overdue)": [^,}]+')


BOTH_DUE = ["2026-12-24T09:30:00+01:00", "2026-12-24T17:30:00+01:00"]


@pytest.mark.parametrize(
    ("extra", "due"),
    [([], BOTH_DUE), (["--explain"], BOTH_DUE), (["--class", "critical", "--tz", "America/New_York"], BOTH_DUE[:1])],
)
def test_json_is_language_neutral(proc, extra: list[str], due: list[str]) -> None:
    args = ["eta", "--at", "2026-12-23T17:30+01:00", "--json", *extra]
    de, en = proc("--lang", "de", *args), proc("--lang", "en", *args, env=DE)
    assert de.exit_code == en.exit_code == 0
    assert NOW_DEPENDENT.sub(b"", de.stdout.encode()) == NOW_DEPENDENT.sub(b"", en.stdout.encode())
    data = json.loads(de.stdout)["data"]  # ISO 8601 in the schedule's zone, English keys
    assert list(data) == ["package", "schedule", "now", "user_tz", "results"]
    assert [r["due"] for r in data["results"]] == due


@pytest.mark.parametrize(
    "args", [c for c in (["config", "show"], ["config", "path"], ["outbox", "list"]) if c in COMMANDS], ids=" ".join
)
def test_other_json_is_language_neutral(proc, args: list[str]) -> None:
    de, en = proc("--lang", "de", *args, "--json"), proc("--lang", "en", *args, "--json", env=DE)
    assert de.exit_code == en.exit_code == 0, de.stderr
    assert de.stdout == en.stdout


def test_german_eta_sentence_and_explain(cli) -> None:
    r = cli("eta", "--lang", "de", "--at", "2026-11-27T17:30+01:00", "--class", "critical", "--explain")
    assert r.exit_code == 0, r.stderr
    assert "Start: Fr., 27.11.2026, 16:30 UTC" in r.stdout  # in the user's zone (UTC in the tests)
    assert ": wird bis Montag, 30.11.2026, 09:30 Uhr MEZ aktiviert (Europe/Berlin), " in r.stdout
    assert "    Fr., 27.11.2026 17:30–18:00: 30 Min. Geschäftszeit" in r.stdout
    assert "    Sa., 28.11.2026: übersprungen, kein Werktag" in r.stdout
    assert re.search(r"^  in Ihrer Zeitzone \((Etc/)?UTC\): Mo\., 30\.11\.2026, 08:30 UTC$", r.stdout, re.M)
    assert "Verwende das mitgelieferte Paket" in r.stderr


def test_german_explain_names_holidays_and_clock_changes(cli) -> None:
    r = cli("eta", "--lang", "de", "--at", "2027-03-26T17:00+01:00", "--class", "standard", "--explain")
    assert "So., 28.03.2027: Zeitumstellung von UTC+01:00 auf UTC+02:00" in r.stdout, r.stdout
    r = cli("eta", "--lang", "de", "--at", "2026-12-24T12:00+01:00", "--class", "standard", "--explain")
    assert "Fr., 25.12.2026: übersprungen, gesetzlicher Feiertag (Erster Weihnachtstag)" in r.stdout, r.stdout


def test_dates_durations_and_numbers_follow_the_language() -> None:
    dt = datetime(2026, 11, 30, 9, 30, tzinfo=BERLIN)
    i18n.set_language("de")
    assert output.format_datetime(dt) == "Mo., 30.11.2026, 09:30 MEZ"
    assert output.format_datetime(dt, with_zone=False) == "Mo., 30.11.2026, 09:30"
    assert output.format_datetime(dt.replace(month=7, day=6), long=True) == "Montag, 06.07.2026, 09:30 Uhr MESZ"
    assert output.format_date(date(2026, 11, 29)) == "So., 29.11.2026"
    assert output.relative(3 * 3600 + 10 * 60 + 59) == "in 3 Std. 10 Min."
    assert output.relative(-25 * 60) == "seit 25 Min. überfällig"
    assert output.relative(2 * 86400 + 4 * 3600) == "in 2 Tg. 4 Std."
    assert output.relative(10) == "jetzt fällig"
    assert output.format_number(1234567.5, 1) == "1.234.567,5"
    i18n.set_language("en")
    assert output.format_datetime(dt) == "Mon 2026-11-30 09:30 CET"
    assert output.relative(-25 * 60) == "overdue by 25 min"
    assert output.format_number(1234567.5, 1) == "1,234,567.5"


# ---------------------------------------------------------------- interactive fill

GERMAN_ANSWERS = [
    ("Programm", "2"),
    ("Mitglieds- bzw. Abonnement-ID", "ABC-123"),
    ("Firma", "Dvořák & Groß GmbH"),
    ("Vorname", "Łukasz"),
    ("Nachname", "Müller"),
    ("E-Mail-Adresse", "lukasz@example.com"),
    ("Land (ISO-Code)", "de"),  # before the phone: its region hint (issue 16)
    ("Telefon", "030 1234567"),
    ("Straße und Hausnummer", "Hauptstraße 5"),
    ("Postleitzahl", "10115"),
    ("Ort", "Berlin"),
    ("Gewünschter Support", "1"),
    ("Bevorzugte Sprache", "de"),
    ("Datum", "25.11.2026"),
]
ENGLISH_ON_SCREEN = re.compile(
    r"\b(Usage|Options|required|Review|Enter|answer|suggestion|Using|Filled|draft|not|the|is|of|and)\b"
)


@pytest.mark.slow
@pytest.mark.skipif(["fill"] not in COMMANDS, reason="`fill` has not landed on this branch yet")
def test_interactive_fill_in_german(isolated: Path) -> None:
    """The whole interactive fill under LANG=de: German labels, prompts, re-asking, review and the result line."""
    pexpect = pytest.importorskip("pexpect")
    form_pdf = ROOT / "forms" / "default" / "registration-form.pdf"
    if not form_pdf.exists():
        pytest.skip("the default form PDF is not built")
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT), LANG="de_DE.UTF-8", TERM="dumb", NO_COLOR="1")
    child = pexpect.spawn(
        sys.executable, ["-m", "supportctl", "fill"], env=env, encoding="utf-8", timeout=30, dimensions=(50, 200)
    )
    transcript: list[str] = []

    def answer(label: str, text: str) -> None:
        child.expect(rf"\n{re.escape(label)}( \(\S+\))?( \[[^\]\n]*\])?: ")
        transcript.append(child.before + child.after)
        child.sendline(text)

    child.expect_exact("Verwende das mitgelieferte Paket")
    child.expect_exact("[1/15] Programm")
    for label, text in GERMAN_ANSWERS[:2]:
        answer(label, text)
    answer("Firma", "")
    child.expect_exact("„Firma“ ist ein Pflichtfeld")  # the label, not the field's name (issue 16)
    for label, text in GERMAN_ANSWERS[2:]:
        answer(label, text)
    child.expect_exact("supportctl show terms")
    answer("Ich habe die Vertragsbedingungen gelesen", "x?")
    child.expect_exact("antworten Sie mit j oder n")
    answer("Ich habe die Vertragsbedingungen gelesen", "j")
    child.expect_exact("Übersicht:")
    child.expect_exact("oder Eingabetaste, um das Formular zu schreiben: ")
    transcript.append(child.before)
    child.sendline("")
    child.expect(pexpect.EOF)
    transcript.append(child.before)
    child.close()
    assert child.exitstatus == 0, "".join(transcript)
    screen = "".join(transcript)
    assert "Ausgefülltes Formular in registration-form-filled.pdf geschrieben" in screen
    assert "Als Nächstes: `supportctl validate registration-form-filled.pdf` prüft es" in screen
    assert "Geschäftskritischer Telefonsupport" in screen
    assert not ENGLISH_ON_SCREEN.search(screen), screen
    assert Path("registration-form-filled.pdf").exists()


def test_outbox_states_in_core_messages_follow_the_language() -> None:
    from supportctl import i18n
    from supportctl.mail.outbox import STATES, state_label

    try:
        i18n.set_language("de")
        assert all(state_label(code) != code for code in STATES)
        assert state_label("no-such-state") == "no-such-state"
    finally:
        i18n.set_language("en")
    assert state_label("uncertain") == "uncertain"
