"""`show` and `fetch --request`: real PDFs read back, a real pty for the pager (`print`: tests/test_print.py)."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportctl.errors import ExitCode
from supportctl.package import documents
from tests import pkgtools as pt
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pt.make_package(tmp_path_factory.mktemp("docs") / "pkg")


# ---------------------------------------------------------------- show


def test_show_terms_shows_the_terms_page_only(cli, pkg: Path) -> None:
    r = cli("show", "terms", "--package", str(pkg))
    assert r.exit_code == 0, r.stderr
    assert pt.TERMS_MARKER in r.stdout
    assert "Registration form" not in r.stdout  # page 1 of the form is not the terms
    assert "Using package supportctl-default" in r.stderr and "(--package)" in r.stderr


def test_show_service_description(cli, pkg: Path) -> None:
    r = cli("show", "service-description", "--package", str(pkg))
    assert r.exit_code == 0, r.stderr
    assert pt.SERVICE_MARKER in r.stdout


def test_show_bundled_terms(cli) -> None:
    from supportctl.package import manifest as package

    bundled = package.load(package.bundled_root())
    if not bundled.form_path.exists():
        pytest.skip("the bundled package's PDFs are not built yet")
    r = cli("show", "terms")
    assert r.exit_code == 0, r.stderr
    assert len(r.stdout.strip()) > 200
    assert "Using the bundled package" in r.stderr


def test_show_json(cli, pkg: Path) -> None:
    r = cli("show", "terms", "--package", str(pkg), "--json")
    data = r.json()["data"]
    assert data["id"] == "registration-form" and data["pages"] == [2] and pt.TERMS_MARKER in data["text"]


def test_show_unknown_document(cli, pkg: Path) -> None:
    r = cli("show", "brochure", "--package", str(pkg))
    assert r.exit_code == ExitCode.USAGE
    assert "service-description" in r.stderr and "terms" in r.stderr


def test_show_fields_json(cli, pkg: Path) -> None:
    r = cli("show", "fields", "--package", str(pkg), "--json")
    assert r.exit_code == 0, r.stderr
    fields = {f["name"]: f for f in r.json()["data"]["fields"]}
    for f in fields.values():
        assert {"name", "type", "label", "required", "choices", "max_length"} <= set(f)
    assert fields["program"]["type"] == "choice" and fields["program"]["required"] is True
    assert [c["value"] for c in fields["program"]["choices"]][:2] == ["MPN", "MSDN"]
    assert fields["membership_id"]["max_length"] == 32 and fields["membership_id"]["choices"] == []
    assert fields["terms_accepted"]["type"] == "checkbox"
    assert fields["email"]["label"] == "E-mail address"


def test_show_fields_labels_follow_lang(cli, pkg: Path) -> None:
    r = cli("show", "fields", "--package", str(pkg), "--lang", "de", "--json")
    fields = {f["name"]: f for f in r.json()["data"]["fields"]}
    assert fields["email"]["label"] == "E-Mail-Adresse"
    assert fields["support"]["choices"][0]["label"] == "Geschäftskritischer Telefonsupport"


def test_show_fields_plain_in_a_pipe(cli, pkg: Path) -> None:
    r = cli("show", "fields", "--package", str(pkg))
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    program = next(row for row in rows if row[0] == "program")
    assert program[1:5] == ["choice", "yes", "", "MPN, MSDN, TechNet, BizSpark, DreamSpark, WebsiteSpark"]
    assert next(row for row in rows if row[0] == "membership_id")[3] == "32"


def test_show_strips_escape_sequences_and_never_interprets_markup(cli, pkg: Path, tmp_path: Path) -> None:
    evil = pt.copy_tree(pkg, tmp_path / "evil")
    pt.raw_text_pdf(
        evil / "service-description.pdf", b"A\x1b[31mRED\x1b]0;pwned\x07 B \x07bell \x9b2J [bold red]markup[/] end"
    )
    pt.rehash(evil)
    r = cli("show", "service-description", "--package", str(evil))
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\x9b" not in r.stdout
    assert "ARED B bell  [bold red]markup[/] end" in r.stdout


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_sanitize_leaves_no_control_characters(text: str) -> None:
    clean = documents.sanitize(text)
    assert not any(
        (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in clean
    )


def test_damaged_pdf_is_one_line(cli, pkg: Path, tmp_path: Path) -> None:
    bad = pt.copy_tree(pkg, tmp_path / "bad")
    (bad / "service-description.pdf").write_bytes(b"%PDF-1.7\n garbage \n%%EOF")
    pt.rehash(bad)
    r = cli("show", "service-description", "--package", str(bad))
    assert r.exit_code == ExitCode.INVALID_INPUT
    assert r.stderr.count("error:") == 1 and "Traceback" not in r.stderr


def test_a_package_that_does_not_exist_is_said_so(cli: Any, tmp_path: Path) -> None:
    """A mistyped --package was "… is not a document package: package.toml is missing", as if the file existed."""
    for missing in (tmp_path / "fehlt.zip", tmp_path / "fehlt"):
        r = cli("--lang", "en", "show", "fields", "--package", str(missing))
        assert r.exit_code == ExitCode.INVALID_INPUT, r.stderr
        assert r.stderr.splitlines()[-1] == (
            f"error: {missing} does not exist (give a package directory or .zip, or run `supportctl fetch` to get"
            " the package)"
        ), r.stderr
    r = cli("--lang", "de", "show", "fields", "--package", str(tmp_path / "fehlt.zip"))
    assert "fehlt.zip existiert nicht" in r.stderr, r.stderr


def _show_terms_on_a_terminal(pkg: Path, tmp_path: Path, pager: str) -> Any:
    """`supportctl show terms` on a real terminal with this $PAGER (and no $MANPAGER)."""
    import pexpect

    env = dict(os.environ)
    env.update(PYTHONPATH=str(ROOT), PAGER=pager, TERM="xterm")
    env.pop("MANPAGER", None)
    args = ["-m", "supportctl", "show", "terms", "--package", str(pkg)]
    return pexpect.spawn(sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=20)


@pytest.mark.slow
def test_show_goes_through_the_pager_on_a_terminal(pkg: Path, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    child = _show_terms_on_a_terminal(pkg, tmp_path, "sed s/^/PAGED:/")
    child.expect(f"PAGED:.*{pt.TERMS_MARKER}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
def test_show_with_a_pager_that_cannot_run_still_shows_the_text(pkg: Path, tmp_path: Path) -> None:
    """Audit: with PAGER set to a program that is not installed, `show` printed only the shell's
    "/bin/sh: 1: …: not found" and exit 0, and the document was never shown."""
    pexpect = pytest.importorskip("pexpect")
    child = _show_terms_on_a_terminal(pkg, tmp_path, "no-such-pager-xyz -R")
    child.expect(pexpect.EOF)
    child.close()
    text = child.before.replace("\r\n", "\n")
    assert child.exitstatus == 0
    assert "warning: the pager no-such-pager-xyz cannot be run (PAGER); showing the text without it\n" in text
    assert pt.TERMS_MARKER in text and "not found" not in text


@pytest.mark.slow
def test_show_through_less_keeps_umlauts_when_the_locale_is_not_installed(tmp_path: Path) -> None:
    """less takes its character set from the locale: with LANG=de_DE.UTF-8 not installed (a minimal system, a
    container) it fell back to ASCII and showed every umlaut of the German terms as <C3><A4>."""
    pexpect = pytest.importorskip("pexpect")
    if shutil.which("less") is None:
        pytest.skip("less not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MANPAGER", "LESSCHARSET", "LESSCHARDEF", "LC_ALL")}
    env.update(PYTHONPATH=str(ROOT), PAGER="less -FRX", TERM="xterm", LANG="de_DE.UTF-8", LC_CTYPE="de_DE.UTF-8")
    args = ["-m", "supportctl", "--lang", "de", "show", "terms"]
    # The whole text on one screen (500 lines): less -F shows it and quits by itself.
    child = pexpect.spawn(
        sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=20, dimensions=(500, 200)
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Geschäftsbedingungen" in child.before and "<C3>" not in child.before, child.before[:500]


# ---------------------------------------------------------------- fetch --request


def test_request_writes_a_bilingual_eml(cli, pkg: Path, tmp_path: Path, isolated: Path) -> None:
    cfg = isolated / ".config" / "supportctl" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[profile]\nmembership_id = "MPN-4711"\n')
    r = cli("fetch", "--request", "--from", "Łukasz Dvořák <lukasz@example.com>", "--package", str(pkg))
    assert r.exit_code == 0, r.stderr
    path = tmp_path / "package-request.eml"
    assert r.stdout.strip() == str(path)
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "regform@msdirectservices.com"
    assert msg["From"].addresses[0].addr_spec == "lukasz@example.com"
    assert msg["From"].addresses[0].display_name == "Łukasz Dvořák"
    text = msg.get_content()
    assert "Sehr geehrte Damen und Herren" in text and "Dear registration desk" in text
    assert "Mitglieds- bzw. Abonnement-ID: MPN-4711" in text and "subscription ID: MPN-4711" in text
    assert msg["Message-ID"] and msg["Date"]


def test_request_to_chosen_file_and_json(cli, pkg: Path, tmp_path: Path) -> None:
    r = cli("fetch", "--request", "--eml", "out/req.eml", "--package", str(pkg), "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json()["data"]
    assert data["eml"] == str(tmp_path / "out" / "req.eml") and data["from"] is None
    msg = email.message_from_bytes((tmp_path / "out" / "req.eml").read_bytes(), policy=email.policy.default)
    assert "ID:" not in msg.get_content()  # no membership ID configured


def test_request_rejects_header_injection(cli, pkg: Path, tmp_path: Path) -> None:
    r = cli("fetch", "--request", "--from", "a@example.com\nBcc: victim@example.com", "--package", str(pkg))
    assert r.exit_code == ExitCode.USAGE
    assert not (tmp_path / "package-request.eml").exists()
