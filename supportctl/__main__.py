"""Entry point for `supportctl` and `python -m supportctl`.

The language is chosen before `supportctl.cli` is imported, because help texts are translated when the
Typer app is built: `--lang` (anywhere), `SUPPORTCTL_LANG`, the config's `lang`, then the locale.
"""

from __future__ import annotations

import sys


def _language(args: list[str]) -> str | None:
    from supportctl.i18n import language_from_env, normalize

    for i, a in enumerate(args):
        if a == "--":
            break
        # An unsupported --lang falls through to the environment: its error message is then in that language.
        if a == "--lang" and i + 1 < len(args) and normalize(args[i + 1]):
            return normalize(args[i + 1])
        if a.startswith("--lang=") and normalize(a.split("=", 1)[1]):
            return normalize(a.split("=", 1)[1])
    import os

    if os.environ.get("SUPPORTCTL_LANG"):
        return normalize(os.environ["SUPPORTCTL_LANG"])
    try:
        from supportctl.config import read_file
        from supportctl.paths import config_file

        lang = read_file(config_file()).get("lang")
        if isinstance(lang, str) and normalize(lang):
            return normalize(lang)
    except Exception:  # a broken config file is reported by the command itself, in one line
        pass
    return language_from_env()


def main() -> None:
    from supportctl.i18n import set_language

    set_language(_language(sys.argv[1:]))
    from supportctl.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
