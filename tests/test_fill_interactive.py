"""`supportctl fill` on a real pseudo-terminal (pexpect): prompts, re-asking, Ctrl-C and resume, review."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from supportctl.form import pdfform as form
from tests import formkit
from tests.conftest import ROOT

pexpect = pytest.importorskip("pexpect")
pytestmark = [
    pytest.mark.slow,  # a real terminal per test
    pytest.mark.skipif(
        not (formkit.package_root() / "registration-form.pdf").exists(), reason="the default form PDF is not built"
    ),
]

# (prompt label, answer) in the order fill asks: the country before the phone (its region hint).
ANSWERS = [
    ("Program", "2"),
    ("Membership or subscription ID", "ABC-123"),
    ("Company", "Dvořák & Groß GmbH"),
    ("First name", "Łukasz"),
    ("Last name", "Yılmaz-Ștefănescu"),
    ("E-mail address", "lukasz@example.com"),
    ("Country (ISO code)", "de"),
    ("Phone", "+49 30 1234567"),
    ("Street and number", "Hauptstraße 5"),
    ("Postal code", "10115"),
    ("City", "Berlin"),
    ("Requested support", "1"),
    ("Preferred language", "en"),
    ("Date", "25.11.2026"),
    ("I have read the terms", "y"),
]


def spawn(*args: str, home: Path) -> Any:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", TERM="dumb", LANG="C.UTF-8")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "supportctl", "fill", *args],
        env=env,
        cwd=str(Path.cwd()),
        encoding="utf-8",
        timeout=20,
        dimensions=(50, 200),
    )
    return child


def answer(child: Any, label: str, text: str) -> None:
    child.expect(rf"\n{re.escape(label)}( \(\S+\))?( \[[^\]\n]*\])?: ")
    child.sendline(text)


def finish(child: Any) -> int:
    child.expect_exact("Enter to write the form: ")
    child.sendline("")
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus)


def read_back(path: Path) -> dict[str, Any]:
    report = form.validate_pdf(formkit.pkg(), path.read_bytes())
    assert report.ok, report.findings
    return report.values


def test_complete_interactive_fill(isolated: Path) -> None:
    child = spawn(home=isolated)
    child.expect_exact("[1/15] Program")
    child.expect_exact("2) MSDN")
    for label, text in ANSWERS[:-1]:
        answer(child, label, text)
    child.expect_exact("supportctl show terms")
    answer(child, *ANSWERS[-1])
    child.expect_exact("Review:")
    assert finish(child) == 0
    values = read_back(Path("registration-form-filled.pdf"))
    assert values["program"] == "MSDN" and values["last_name"] == "Yılmaz-Ștefănescu"
    assert values["phone"] == "+49 30 1234567" and values["date"] == "2026-11-25" and values["terms_accepted"] is True
    assert values["support"] == "critical"
    # The draft is gone once the form is written.
    assert not list((isolated / ".local" / "state" / "supportctl" / "drafts").glob("*.json"))


def test_wrong_email_is_asked_again_with_the_reason(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS[:5]:
        answer(child, label, text)
    answer(child, "E-mail address", "lukasz@@example")
    child.expect_exact('"E-mail address": not a valid e-mail address')  # the label, not the field's name
    answer(child, "E-mail address", "Дмитрий@example.com")
    child.expect_exact('U+0414 CYRILLIC CAPITAL LETTER DE in "E-mail address"')
    child.expect_exact("suggestion: Dmitriy@example.com")
    answer(child, "E-mail address", "lukasz@example.com")
    for label, text in ANSWERS[6:]:
        answer(child, label, text)
    assert finish(child) == 0
    assert read_back(Path("registration-form-filled.pdf"))["email"] == "lukasz@example.com"


def test_ctrl_c_keeps_the_draft_and_fill_resumes(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS[:4]:
        answer(child, label, text)
    child.expect_exact("Last name: ")
    child.sendintr()
    child.expect_exact("Your answers are saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    [draft] = (isolated / ".local" / "state" / "supportctl" / "drafts").glob("*.json")
    assert oct(draft.stat().st_mode & 0o777) == "0o600"
    assert json.loads(draft.read_text())["values"]["first_name"] == "Łukasz"
    assert not Path("registration-form-filled.pdf").exists()

    child = spawn(home=isolated)
    child.expect_exact("with 4 answers exists. Resume it? [Y/n] ")
    child.sendline("")
    child.expect_exact("[5/15] Last name")  # continues where it stopped
    for label, text in ANSWERS[4:]:
        answer(child, label, text)
    assert finish(child) == 0
    values = read_back(Path("registration-form-filled.pdf"))
    assert values["first_name"] == "Łukasz" and values["company"] == "Dvořák & Groß GmbH"


def test_review_and_change_a_field(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS:
        answer(child, label, text)
    child.expect_exact("Enter to write the form: ")
    child.sendline("11")
    answer(child, "City", "München")
    child.expect_exact("11. City: München")
    assert finish(child) == 0
    assert read_back(Path("registration-form-filled.pdf"))["city"] == "München"


def test_on_a_terminal_only_missing_or_invalid_fields_are_asked(isolated: Path, tmp_path: Path) -> None:
    data = {k: v for k, v in formkit.GOOD.items() if k not in ("city", "email")}
    data["email"] = "broken"
    p = tmp_path / "me.json"
    p.write_text(json.dumps(data))
    child = spawn("--data", str(p), home=isolated)
    child.expect_exact('"email": not a valid e-mail address')
    answer(child, "E-mail address", "ok@example.com")
    answer(child, "City", "Wien")
    assert finish(child) == 0
    values = read_back(Path("registration-form-filled.pdf"))
    assert values["city"] == "Wien" and values["last_name"] == "Yılmaz-Ștefănescu"


def test_ctrl_d_at_the_first_question_does_not_claim_answers_were_saved(isolated: Path) -> None:
    """End of input before any answer said "Your answers are saved", with no draft anywhere."""
    child = spawn(home=isolated)
    child.expect(r"\n(\[1/15\] )?Program.*: ")
    child.sendeof()
    child.expect_exact("Nothing was answered, so nothing was saved.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 and "answers are saved" not in (child.before or "")
    assert not list((isolated / ".local" / "state" / "supportctl").glob("drafts/*.json"))


def test_a_closed_terminal_loses_no_answer(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS[:3]:
        answer(child, label, text)
    child.expect_exact("First name: ")
    child.kill(signal.SIGHUP)  # the terminal window is closed
    child.expect(pexpect.EOF)
    child.close()
    [draft] = (isolated / ".local" / "state" / "supportctl" / "drafts").glob("*.json")
    assert json.loads(draft.read_text())["values"] == {
        "program": "MSDN",
        "membership_id": "ABC-123",
        "company": "Dvořák & Groß GmbH",
    }
    r = spawn("--restart", home=isolated)
    r.expect_exact("[1/15] Program")  # --restart: no resume question, the draft is gone
    r.sendintr()
    r.expect(pexpect.EOF)
    r.close()
    assert not draft.exists()


def test_sigterm_keeps_the_draft_and_exits_143(isolated: Path) -> None:
    """`kill` or a logout's SIGTERM: the draft stays, and the exit code is SIGTERM's 143 (was Ctrl-C's 130)."""
    child = spawn(home=isolated)
    for label, text in ANSWERS[:2]:
        answer(child, label, text)
    child.expect_exact("Company: ")
    child.kill(signal.SIGTERM)
    child.expect_exact("Your answers are saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 143
    [draft] = (isolated / ".local" / "state" / "supportctl" / "drafts").glob("*.json")
    assert json.loads(draft.read_text())["values"] == {"program": "MSDN", "membership_id": "ABC-123"}


# ---------------------------------------------------------------- issue 16: papercuts of the first fill


def test_country_is_asked_before_the_phone_so_a_national_number_works(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS[:6]:
        answer(child, label, text)
    child.expect_exact("[7/15] Country (ISO code)")
    answer(child, "Country (ISO code)", "DE")
    child.expect_exact("[8/15] Phone")
    answer(child, "Phone", "030 1234567")  # no +49: the country answered above is the region hint
    for label, text in ANSWERS[8:]:
        answer(child, label, text)
    assert finish(child) == 0
    assert read_back(Path("registration-form-filled.pdf"))["phone"] == "+49 30 1234567"


def test_a_choice_number_out_of_range_says_which_numbers(isolated: Path) -> None:
    child = spawn(home=isolated)
    child.expect_exact("6) WebsiteSpark")
    answer(child, "Program", "7")
    child.expect_exact("  enter a number from 1 to 6")
    answer(child, "Program", "2")
    child.expect_exact("[2/15] Membership or subscription ID")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()


def test_one_key_accepts_the_suggested_transliteration(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS[:3]:
        answer(child, label, text)
    answer(child, "First name", "Дмитрий")
    child.expect_exact("suggestion: Dmitriy")
    child.expect_exact("press Enter to use 'Dmitriy', or type another answer")
    child.expect_exact("First name [Dmitriy]: ")
    child.sendline("")  # Enter takes it
    for label, text in ANSWERS[4:]:
        answer(child, label, text)
    assert finish(child) == 0
    assert read_back(Path("registration-form-filled.pdf"))["first_name"] == "Dmitriy"


def test_fill_names_the_next_steps_and_the_activation_time(isolated: Path) -> None:
    child = spawn(home=isolated)
    for label, text in ANSWERS:
        answer(child, label, text)
    child.expect_exact("Enter to write the form: ")
    child.sendline("")
    child.expect_exact("Filled form written to registration-form-filled.pdf")
    child.expect_exact(
        "Next: `supportctl validate registration-form-filled.pdf` checks it, "
        "`supportctl submit registration-form-filled.pdf` sends it."
    )
    child.expect(r"Sent now, Business-critical phone support would be active by \w{3} \d{4}-\d\d-\d\d \d\d:\d\d ")
    child.expect_exact("(`supportctl eta --class critical`).")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
