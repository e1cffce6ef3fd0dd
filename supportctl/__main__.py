"""Entry point for `supportctl` and `python -m supportctl`.

The language is chosen before `supportctl.cli` is imported, because help texts are translated when the
Typer app is built: `--lang` (anywhere), `SUPPORTCTL_LANG`, the config's `lang`, then the locale.

Start-up (README "Development"): two measures that only the entry point takes, so that imports by tests and
library users behave as usual. The garbage collector is kept off the start-up, whose objects (modules,
classes, functions) all live until exit: off while the CLI is imported, then those objects are frozen, so
neither later collections nor the one at exit walk them. And a few standard-library modules that Click and
Typer import at module level but that no command needs on its usual path are loaded on first use (`DEFERRED`).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

# Imported by Click or Typer at module level, used only inside functions that `eta` and `--help` never call:
# subprocess (Typer's `launch` and completion install; with it locale, selectors), bz2 and lzma (shutil's
# archive formats), linecache, tokenize and token (tracebacks, inspect.getsource), ipaddress (urllib.parse),
# fnmatch and ntpath (pathlib's glob matching and Windows paths). Each loads, whole and as usual, the first time
# one of its names is used. Pure-Python modules only: an extension module is created by its loader.
DEFERRED = frozenset({"subprocess", "bz2", "lzma", "linecache", "tokenize", "token", "ipaddress", "fnmatch", "ntpath"})


class _Deferred(ModuleType):
    """A module whose code runs on the first access to a name it does not have yet.

    `importlib.util.LazyLoader` would load at once in Python 3.11: the import system reads `__spec__` each time
    a module is imported again, and a `LazyLoader` module loads on any attribute. Here `__spec__`, `__name__`
    and the other attributes set before loading are read as they are; only a missing name loads the module.
    """

    def __getattr__(self, name: str) -> Any:
        _PENDING[self.__name__].load(self)
        return ModuleType.__getattribute__(self, name)


class _DeferredLoader:
    def __init__(self, loader: Any) -> None:
        import threading

        self.loader, self.lock, self.started = loader, threading.RLock(), False

    def create_module(self, spec: Any) -> None:
        return None  # the usual module object

    def exec_module(self, module: ModuleType) -> None:
        module.__class__ = _Deferred

    def load(self, module: ModuleType) -> None:
        with self.lock:  # one thread runs the module's code, the others wait for it
            if self.started:
                return
            self.started = True
            module.__loader__ = module.__spec__.loader = self.loader  # type: ignore[union-attr]
            self.loader.exec_module(module)
            module.__class__ = ModuleType


_PENDING: dict[str, _DeferredLoader] = {}


class _DeferringFinder:
    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
        if name not in DEFERRED:
            return None
        from importlib.machinery import PathFinder, SourceFileLoader

        spec = PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, SourceFileLoader):
            spec.loader = _PENDING[name] = _DeferredLoader(spec.loader)  # type: ignore[assignment]
        return spec


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
    import gc

    gc.disable()
    sys.meta_path.insert(0, _DeferringFinder)
    from supportctl.i18n import set_language

    set_language(_language(sys.argv[1:]))
    from supportctl.cli import main as cli_main

    gc.freeze()
    gc.enable()
    cli_main()


if __name__ == "__main__":
    main()
