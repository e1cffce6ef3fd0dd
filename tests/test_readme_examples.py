"""Issue 16, item 20: the README's offline examples run and print what the README shows (as cog does for
sqlite-utils). `python -m tools.readme_examples --update` rewrites the blocks after a deliberate change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import formkit
from tests.conftest import ROOT
from tools import readme_examples

pytestmark = pytest.mark.skipif(
    not (formkit.package_root() / "registration-form.pdf").exists(), reason="the default form PDF is not built"
)


@pytest.mark.parametrize("name", ["README.md", "README.de.md"])
def test_readme_examples_print_what_the_readme_shows(name: str) -> None:
    problems = readme_examples.run_all(readme=ROOT / name)
    assert problems == [], "\n\n".join(problems)
    assert readme_examples.examples((ROOT / name).read_text("utf-8"), ROOT / name)  # there are some


def test_the_examples_are_there() -> None:
    found = readme_examples.examples((ROOT / "README.md").read_text("utf-8"))
    commands = [c for ex in found for c in ex.commands()]
    assert 'supportctl eta --at "Fri, 27 Nov 2026 17:30:00 +0100"' in commands
    assert "supportctl fill --data me.toml --set date=2026-11-26 --no-input" in commands
    assert any(ex.options.get("file") == "me.toml" for ex in found)


def test_a_drifted_example_is_reported(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text("utf-8")
    wrong = text.replace("in 5 d 1 h", "in 4 d 23 h", 1)  # the mistake issue 16 found
    assert wrong != text
    copy = tmp_path / "README.md"
    copy.write_text(wrong, "utf-8")
    problems = readme_examples.run_all(readme=copy)
    assert len(problems) == 1 and "-Other support" in problems[0] and "+Other support" in problems[0]
    assert "in 5 d 1 h" in problems[0]


def test_submit_and_validate_examples_use_the_file_fill_writes() -> None:
    """`fill` writes registration-form-filled.pdf; the README once sent registration-form.pdf."""
    for name in ("README.md", "README.de.md"):
        text = (ROOT / name).read_text("utf-8")
        used = re.findall(r"supportctl (?:submit|validate) (\S+\.pdf)", text)
        assert used, name
        assert set(used) <= {"registration-form-filled.pdf", "FORM.pdf", "form.pdf"}, (name, used)
