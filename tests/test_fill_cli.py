"""`supportctl fill --no-input` and `supportctl validate` through the CLI (in-process and as a process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supportctl.form import drafts
from supportctl.form import pdfform as form
from tests import formkit

pytestmark = pytest.mark.skipif(
    not (formkit.package_root() / "registration-form.pdf").exists(), reason="the default form PDF is not built"
)


def data_file(tmp_path: Path, **changes: object) -> Path:
    values = {**formkit.GOOD, **changes}
    p = tmp_path / "me.json"
    p.write_text(json.dumps({k: v for k, v in values.items() if v is not None}))
    return p


def test_fill_from_data_and_set(cli: Any, tmp_path: Path) -> None:
    p = data_file(tmp_path, city=None)
    r = cli("fill", "--data", str(p), "--set", "city=Zürich", "--out", "out.pdf", "--no-input")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "out.pdf"
    report = form.validate_pdf(formkit.pkg(), Path("out.pdf").read_bytes())
    assert report.ok and report.values["city"] == "Zürich"
    if formkit.have("pdftotext"):
        assert "Zürich" in formkit.pdftotext(Path("out.pdf").read_bytes(), tmp_path)


def test_fill_toml_from_stdin_default_out(cli: Any) -> None:
    toml = "\n".join(f"{k} = {json.dumps(v)}" for k, v in formkit.GOOD.items())
    r = cli("fill", "--data", "-", "--json", input=toml)
    assert r.exit_code == 0, r.stderr
    body = r.json()
    assert body["ok"] and body["data"]["path"] == "registration-form-filled.pdf"
    assert body["data"]["values"]["last_name"] == "Yılmaz-Ștefănescu"
    assert body["data"]["activation_class"] == "critical"
    assert Path("registration-form-filled.pdf").stat().st_mode & 0o777 == 0o600


def test_all_errors_at_once_one_line_per_field_nothing_written(cli: Any, tmp_path: Path) -> None:
    p = data_file(tmp_path, first_name="Дмитрий", email="x@", phone="1", terms_accepted=False)
    r = cli("fill", "--data", str(p), "--no-input")
    assert r.exit_code == 4
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith(("Using", "error:"))]
    assert len(lines) == 4, r.stderr
    assert any('U+0414 CYRILLIC CAPITAL LETTER DE in "first_name"' in ln and "Dmitriy" in ln for ln in lines)
    assert not Path("registration-form-filled.pdf").exists()


def test_fill_without_a_terminal_or_values_says_why_nothing_was_asked(cli: Any) -> None:
    """`supportctl fill < /dev/null` (a script, a CI job, an editor's task runner): fourteen "required" lines and
    exit 4 did not tell that the questions were skipped for want of a terminal, nor how to give the values."""
    r = cli("fill", input="")
    assert r.exit_code == 4
    assert "No questions were asked: standard input or output is not a terminal" in r.stderr
    assert "--data FILE or --set NAME=VALUE" in r.stderr
    r = cli("fill", "--no-input", input="")  # asked for no questions: nothing to explain
    assert r.exit_code == 4 and "No questions were asked" not in r.stderr


def test_unknown_field_did_you_mean(cli: Any, tmp_path: Path) -> None:
    r = cli("fill", "--data", str(data_file(tmp_path)), "--set", "lastname=X", "--no-input", "--json")
    assert r.exit_code == 4
    err = r.json()["errors"][0]
    assert err["exit_code"] == 4 and err["findings"][0]["code"] == "unknown-field"
    assert 'did you mean "last_name"' in r.stderr


def test_an_unknown_field_is_reported_with_every_other_problem(cli: Any, tmp_path: Path) -> None:
    # "Every problem is reported at once": a typo in one name must not hide the bad values beside it.
    p = data_file(tmp_path, email="x@")
    r = cli("fill", "--data", str(p), "--set", "lastname=X", "--set", "first_name=Дмитрий", "--no-input", "--json")
    assert r.exit_code == 4
    codes = {f["field"]: f["code"] for f in r.json()["errors"][0]["findings"]}
    assert codes == {"lastname": "unknown-field", "email": "email", "first_name": "not-latin"}
    assert 'did you mean "last_name"' in r.stderr and "Dmitriy" in r.stderr
    assert not Path("registration-form-filled.pdf").exists()


def test_bad_set_syntax_is_usage(cli: Any) -> None:
    assert cli("fill", "--set", "no-equals-sign", "--no-input").exit_code == 2
    assert cli("fill", "--resume", "--restart", "--no-input").exit_code == 2


def test_profile_fills_the_personal_fields(cli: Any, isolated: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    profile = {k: formkit.GOOD[k] for k in ("company", "first_name", "last_name", "email", "phone", "street")}
    profile.update(postal_code="10115", city="Berlin", country="DE", membership_id="M-1", program="MPN")
    cfg.write_text("[profile]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in profile.items()) + "\n")
    r = cli(
        "fill", "--no-input", "--set", "support=standard", "--set", "language=de", "--set", "date=2026-11-25",
        "--set", "terms_accepted=true", "--set", "program=MSDN",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    values = form.validate_pdf(formkit.pkg(), Path("registration-form-filled.pdf").read_bytes()).values
    assert values["first_name"] == "Łukasz" and values["program"] == "MSDN" and values["membership_id"] == "M-1"
    shown = cli("config", "show", "--json").json()["data"]["settings"]["profile.city"]
    assert shown == {"value": "Berlin", "source": "file", "origin": str(cfg)}


def test_draft_is_used_only_with_resume_when_not_interactive(cli: Any, tmp_path: Path) -> None:
    pkg = formkit.pkg()
    drafts.save(pkg.name, {"city": "Graz"})
    p = data_file(tmp_path, city=None)
    r = cli("fill", "--data", str(p), "--no-input")
    assert r.exit_code == 4 and "--resume" in r.stderr
    r = cli("fill", "--data", str(p), "--no-input", "--resume")
    assert r.exit_code == 0, r.stderr
    assert form.validate_pdf(pkg, Path("registration-form-filled.pdf").read_bytes()).values["city"] == "Graz"
    assert drafts.load(pkg.name) is None  # written: the draft is done


def test_no_input_run_leaves_the_interactive_draft_alone(cli: Any, tmp_path: Path) -> None:
    """Issue 16, item 3: a scripted fill must not delete the answers someone typed at a terminal."""
    pkg = formkit.pkg()
    saved = drafts.save(pkg.name, {"city": "Graz", "first_name": "Zoë"})
    r = cli("fill", "--data", str(data_file(tmp_path)), "--no-input")
    assert r.exit_code == 0, r.stderr
    assert "note: a saved draft exists; --resume uses it, --restart discards it" in r.stderr
    assert drafts.load(pkg.name) == saved


# ---------------------------------------------------------------- validate


@pytest.fixture
def good_pdf(tmp_path: Path) -> Path:
    p = tmp_path / "good.pdf"
    p.write_bytes(form.fill_pdf(formkit.pkg(), formkit.GOOD))
    return p


def test_validate_ok(cli: Any, good_pdf: Path) -> None:
    r = cli("validate", str(good_pdf))
    assert r.exit_code == 0 and r.stdout.strip() == f"{good_pdf}: valid (activation class critical)"


def test_validate_json_several_forms(cli: Any, good_pdf: Path, tmp_path: Path) -> None:
    from tests.test_form import add_text_note

    bad = tmp_path / "bad.pdf"
    bad.write_bytes(formkit.rewrite(good_pdf.read_bytes(), add_text_note))
    r = cli("validate", str(good_pdf), str(bad), "--json")
    assert r.exit_code == 4
    body = r.json()
    assert body["ok"] is False and [f["ok"] for f in body["data"]["forms"]] == [True, False]
    assert body["data"]["forms"][1]["findings"][0]["code"] == "annotation-added"
    assert body["errors"][0]["path"] == str(bad)


def test_validate_text_lists_findings(cli: Any, good_pdf: Path, tmp_path: Path) -> None:
    from tests.test_form import move_field

    bad = tmp_path / "moved.pdf"
    bad.write_bytes(formkit.rewrite(good_pdf.read_bytes(), move_field))
    r = cli("validate", str(bad))
    assert r.exit_code == 4
    assert r.stdout.splitlines() == [f"{bad}: INVALID", '  field "company" was moved or resized']


def test_validate_unreadable_wins_exit_3(cli: Any, good_pdf: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"hello")
    r = cli("validate", str(good_pdf), str(junk), str(tmp_path / "missing.pdf"))
    assert r.exit_code == 3
    assert r.stdout.splitlines() == [f"{good_pdf}: valid (activation class critical)"]
    assert sum(ln.startswith("error:") for ln in r.stderr.splitlines()) == 2


def test_no_input_defaults_the_date_to_today_as_the_terminal_does(cli: Any, tmp_path: Path) -> None:
    """Issue 16, item 13: `--no-input` without a date no longer fails; it uses today, as `fill` on a terminal."""
    from datetime import date

    r = cli("fill", "--data", str(data_file(tmp_path, date=None)), "--no-input")
    assert r.exit_code == 0, r.stderr
    today = date.today().isoformat()
    assert f'"date" not given: today, {today}' in r.stderr
    assert form.validate_pdf(formkit.pkg(), Path("registration-form-filled.pdf").read_bytes()).values["date"] == today


def test_fill_names_the_next_steps(cli: Any, tmp_path: Path) -> None:
    r = cli("fill", "--data", str(data_file(tmp_path)), "--no-input", "--out", "mine.pdf")
    assert r.exit_code == 0, r.stderr
    assert (
        "Next: `supportctl validate mine.pdf` checks it, `supportctl submit mine.pdf` sends it.\n"
        "Sent now, Business-critical phone support would be active by "
    ) in r.stderr
    assert "(`supportctl eta --class critical`)." in r.stderr
    assert r.stdout == "mine.pdf\n"


def test_next_steps_quote_a_file_name_with_spaces_so_it_can_be_pasted(cli: Any, tmp_path: Path) -> None:
    import shlex

    r = cli("fill", "--data", str(data_file(tmp_path)), "--no-input", "--out", "Formular Müller.pdf")
    assert r.exit_code == 0, r.stderr
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("Next:"))
    assert "`supportctl validate 'Formular Müller.pdf'` checks it" in line
    pasted = line.split("`")[1]
    assert shlex.split(pasted) == ["supportctl", "validate", "Formular Müller.pdf"]
    assert cli(*shlex.split(pasted)[1:]).exit_code == 0
