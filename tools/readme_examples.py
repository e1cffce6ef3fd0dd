"""Run the README's offline examples and compare (or rewrite) their output, as sqlite-utils does with cog.

    python -m tools.readme_examples           # check: exit 1 and a diff when an example's output drifted
    python -m tools.readme_examples --update  # rewrite the output blocks from what the commands print now

An example is a fenced block introduced by an HTML comment (invisible on GitHub):

    <!-- readme-test: file=me.toml -->          the next block's text is written to me.toml first
    <!-- readme-test: now=2026-11-25T16:30:00+01:00 tz=Europe/Berlin -->
    ```console
    $ supportctl eta --at "…"                    a command (run in-process, in a scratch directory)
    Start: …                                     what it prints on stdout, compared exactly
    ```

Options of a console block: `now=ISO` (the clock is frozen there), `tz=ZONE` (the local zone, default
Europe/Berlin), `lang=de` (the language, default en), `exit=N` (the expected exit status of every command,
default 0) and `stderr` (compare what the command says on stderr, without the "Using … package" line,
instead of stdout). A block of several commands runs them in order in the same directory; the expected
output is every command's, in order. Files from `file=` blocks stay for the rest of that README. Both
README.md and README.de.md are checked. A maintenance tool: never in the wheel.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
READMES = (README, README.with_name("README.de.md"))
_MARK = re.compile(r"^<!-- readme-test:?(?P<opts>[^>]*)-->\n```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.M | re.S)


@dataclass
class Example:
    start: int  # offset of the block's body in the README
    end: int
    lang: str
    body: str
    options: dict[str, str] = field(default_factory=dict)

    readme: Path = README

    @property
    def line(self) -> int:
        return self.readme.read_text("utf-8").count("\n", 0, self.start) + 1

    def commands(self) -> list[str]:
        return [ln[2:] for ln in self.body.splitlines() if ln.startswith("$ ")]


def examples(text: str, readme: Path = README) -> list[Example]:
    found = []
    for m in _MARK.finditer(text):
        opts: dict[str, str] = {}
        for word in m.group("opts").split():
            key, _sep, value = word.partition("=")
            opts[key] = value
        found.append(Example(m.start("body"), m.end("body"), m.group("lang"), m.group("body"), opts, readme))
    return found


def run_command(command: str, example: Example) -> tuple[int, str]:
    """Run one `supportctl …` line in-process at the example's frozen time; (exit status, shown text)."""
    import time_machine
    from typer.testing import CliRunner

    from supportctl import i18n
    from supportctl.cli import app, hoist_lang

    argv = shlex.split(command)
    assert argv[0] == "supportctl", command
    os.environ["TZ"] = example.options.get("tz", "Europe/Berlin")
    time.tzset()
    i18n.set_language(example.options.get("lang", "en"))
    now = example.options.get("now")
    with time_machine.travel(now, tick=False) if now else _nothing():
        result = CliRunner().invoke(app, hoist_lang(argv[1:]), catch_exceptions=False)
    if "stderr" in example.options:
        lines = [ln for ln in result.stderr.splitlines() if not ln.startswith(("Using ", "Verwende "))]
        return result.exit_code, "\n".join(lines) + "\n" if lines else ""
    return result.exit_code, result.stdout


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def render(example: Example) -> tuple[str, list[str]]:
    """The block as it should read now, and the problems (wrong exit statuses)."""
    problems = []
    parts = []
    for command in example.commands():
        code, shown = run_command(command, example)
        expected = int(example.options.get("exit", "0"))
        if code != expected:
            problems.append(
                f"{example.readme.name} line {example.line}: `{command}` exited {code}, expected {expected}"
            )
        parts.append(f"$ {command}\n{shown}")
    return "".join(parts), problems


def run_all(update: bool = False, readme: Path = README) -> list[str]:
    """Check (or rewrite) every example; returns the problems found. Runs in a scratch directory."""
    import difflib

    text = readme.read_text("utf-8")
    problems: list[str] = []
    new_text = text
    shift = 0
    old_cwd = Path.cwd()
    old_tz = os.environ.get("TZ")
    with tempfile.TemporaryDirectory(prefix="supportctl-readme-") as scratch:
        os.chdir(scratch)
        try:
            for ex in examples(text, readme):
                if "file" in ex.options:
                    Path(ex.options["file"]).write_text(ex.body, "utf-8")
                    continue
                if ex.lang != "console":
                    continue
                body, bad = render(ex)
                problems += bad
                if body != ex.body:
                    if update:
                        new_text = new_text[: ex.start + shift] + body + new_text[ex.end + shift :]
                        shift += len(body) - len(ex.body)
                    else:
                        diff = difflib.unified_diff(
                            ex.body.splitlines(), body.splitlines(), readme.name, "actual", lineterm=""
                        )
                        problems.append(f"{readme.name} line {ex.line}: the output drifted:\n" + "\n".join(diff))
        finally:
            os.chdir(old_cwd)
            if old_tz is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = old_tz
            time.tzset()
    if update and new_text != text:
        readme.write_text(new_text, "utf-8")
    return problems


def main(argv: list[str]) -> int:
    problems = [p for readme in READMES for p in run_all(update="--update" in argv, readme=readme)]
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
