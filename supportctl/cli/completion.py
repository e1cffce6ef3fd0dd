"""Shell completion of values (`supportctl --install-completion`): document ids, activation classes, outbox
and inbox message ids.

Each function takes what the user has typed so far and returns the matching values. Completion runs on every
Tab, so they read only small local files (the package manifest, the outbox's and inbox's state) and never
fail: anything unreadable completes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

_ALWAYS_FOR_SHOW = ("terms", "fields")


def _matching(values: Iterable[str], incomplete: str) -> list[str]:
    seen: list[str] = []
    for v in values:
        if v.startswith(incomplete) and v not in seen:
            seen.append(v)
    return seen


def _package() -> object | None:
    try:
        from supportctl import config
        from supportctl.package import manifest

        cfg = config.load()
        root, _source = manifest.choose(None, cfg.get("package"))
        return manifest.open_package(root)
    except Exception:
        return None


def _document_ids() -> list[str]:
    pkg = _package()
    return [str(d.id) for d in getattr(pkg, "documents", ())]


def show_targets(incomplete: str) -> list[str]:
    """`show DOC`: terms, fields and the package's document ids."""
    return _matching([*_ALWAYS_FOR_SHOW, *_document_ids()], incomplete)


def print_targets(incomplete: str) -> list[str]:
    """`print DOC…`: terms and the package's document ids."""
    return _matching(["terms", *_document_ids()], incomplete)


def activation_classes(incomplete: str) -> list[str]:
    """`eta --class`: the package's activation classes and `all`."""
    pkg = _package()
    classes = list(getattr(getattr(pkg, "process", None), "classes", None) or ("critical", "standard"))
    return _matching([*classes, "all"], incomplete)


def inbox_commands(ctx: object, incomplete: str) -> list[str]:
    """`inbox <Tab>`: its subcommands; a SOURCE (a path, an imaps:// URL) is left to the shell's own completion."""
    commands = getattr(getattr(ctx, "command", None), "commands", None) or {}
    return _matching(sorted(commands), incomplete)


def outbox_ids(incomplete: str) -> list[str]:
    """`outbox show|resolve ID`: the ids of the messages in the outbox, newest first."""
    from supportctl.mail import outbox

    return _matching(outbox.ids(), incomplete)


def outbox_pending_ids(incomplete: str) -> list[str]:
    """`outbox retry ID`: the messages a retry sends (queued, deferred, needs-credentials), newest first."""
    from supportctl.mail import outbox

    return _matching(outbox.ids(outbox.PENDING), incomplete)


def inbox_ids(incomplete: str) -> list[str]:
    """`inbox show|… ID`: the ids of the registrations the last `inbox` runs listed (from the desk's store)."""
    return _listed_ids(incomplete, ())


def reply_ids(incomplete: str) -> list[str]:
    """`inbox reply ID`: the ids a reply takes, without duplicates and mail that is no registration (it refuses
    those without --force)."""
    return _listed_ids(incomplete, ("duplicate", "not-a-registration"))


def _listed_ids(incomplete: str, unless: tuple[str, ...]) -> list[str]:
    import sqlite3

    from supportctl.desk.store import Store
    from supportctl.errors import SupportctlError

    try:
        store = Store.existing()
        ids = store.ids(unless) if store else []
    except (OSError, sqlite3.Error, SupportctlError):
        return []
    return _matching(ids, incomplete)
