"""Entry point for `supportctl` and `python -m supportctl`.

The language is chosen before `supportctl.cli` is imported, because help texts are translated when the
Typer app is built: `--lang` (anywhere), `SUPPORTCTL_LANG`, the config's `lang`, then the locale.
"""

from __future__ import annotations

import sys


def _language(args: list[str]) -> str | None:
    from supportctl.i18n import lang_flag, language_from_env, normalize

    # An unsupported --lang falls through to the environment: its error message is then in that language.
    for flag in lang_flag(args)[0]:
        if normalize(flag):
            return normalize(flag)
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
