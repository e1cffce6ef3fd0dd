"""One translation function for every user-facing string.

English is the source language. Catalogues live in `supportctl/locale/<lang>/LC_MESSAGES/supportctl.mo`.
The language is chosen once per process (`set_language`), from `--lang`, `SUPPORTCTL_LANG`, the config,
then `LC_ALL`/`LC_MESSAGES`/`LANG`. Strings are whole sentences with named placeholders
(`_("due {when}").format(when=...)`), never glued from fragments, so every language can reorder them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gettext
    from collections.abc import Mapping

DOMAIN = "supportctl"
LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")
SUPPORTED = ("en", "de")


class _English:
    """English is the source language: no catalogue, and no `gettext` import on the start-up path."""

    def gettext(self, message: str) -> str:
        return message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return singular if n == 1 else plural


_translation: gettext.NullTranslations | _English | None = None
_language: str | None = None


def language_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The language the environment asks for, if it is one we support."""
    env = os.environ if environ is None else environ
    explicit = env.get("SUPPORTCTL_LANG")
    if explicit:
        return normalize(explicit)
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return normalize(value)
    return None


def lang_flag(args: list[str]) -> tuple[list[str], list[str]]:
    """The values of every `--lang X` / `--lang=X` before `--`, and the other arguments.

    The one place `--lang` is parsed: the entry point picks the language with it before the CLI is imported,
    and the CLI moves it before the subcommand, where Click reads (and validates) it as the root option.
    """
    langs: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        if a == "--lang" and i + 1 < len(args):
            langs.append(args[i + 1])
            i += 2
            continue
        if a.startswith("--lang="):
            langs.append(a.partition("=")[2])
        else:
            rest.append(a)
        i += 1
    return langs, rest


def normalize(value: str) -> str | None:
    """`de_DE.UTF-8` -> `de`; unsupported or `C`/`POSIX` -> None."""
    lang = value.split(":")[0].split(".")[0].split("@")[0].split("_")[0].split("-")[0].lower()
    return lang if lang in SUPPORTED else None


def set_language(lang: str | None) -> str:
    """Choose the language for this process; returns the one in effect (`en` when nothing matches)."""
    global _translation, _language
    chosen = lang if lang in SUPPORTED else "en"
    _language = chosen
    if chosen == "en":
        _translation = _English()
    else:
        import gettext

        _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[chosen], fallback=True)
    return chosen


def current_language() -> str:
    if _language is None:
        return set_language(language_from_env())
    return _language


def _(message: str) -> str:
    """Translate `message` into the current language."""
    if _translation is None:
        set_language(language_from_env())
    assert _translation is not None
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    if _translation is None:
        set_language(language_from_env())
    assert _translation is not None
    return _translation.ngettext(singular, plural, n)


class speaking:
    """`with speaking("de"): …` runs code in another language (texts for a third party), then switches back."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.before: str | None = None

    def __enter__(self) -> None:
        self.before = current_language()
        set_language(self.lang)

    def __exit__(self, *exc: object) -> None:
        set_language(self.before)


def gettext_in(lang: str, message: str) -> str:
    """Translate `message` into `lang`, whatever the interface language (for mail to a third party)."""
    if lang not in SUPPORTED or lang == "en":
        return message
    import gettext

    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True).gettext(message)


def N_(message: str) -> str:
    """Mark `message` for the catalogue without translating it now (it is translated where it is shown)."""
    return message


def word(words: Mapping[str, str], code: str) -> str:
    """A code in words: its `N_()` text in `words`, translated now; a code not in the table as it is."""
    return _(words[code]) if code in words else code


def localized(labels: Mapping[str, str], fallback: str, lang: str | None = None) -> str:
    """A manifest text (`{"de": …, "en": …}`) in `lang` (default: the interface language), else English."""
    return str(labels.get(lang or current_language()) or labels.get("en") or fallback)
