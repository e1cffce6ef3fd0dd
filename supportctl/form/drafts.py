"""Drafts of `fill`: the answers so far, saved atomically after every answer so nothing is ever lost.

One draft per package, `$XDG_STATE_HOME/supportctl/drafts/<package>.json`, mode 0600 (personal data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from supportctl import paths
from supportctl.fsutil import atomic_write_text

MAX_DRAFT_BYTES = 1 << 20


@dataclass(frozen=True)
class Draft:
    values: dict[str, str | bool]
    updated: str  # ISO 8601


def path_for(package_name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", package_name) or "package"
    return paths.state_subdir("drafts") / f"{safe}.json"


def load(package_name: str) -> Draft | None:
    """The saved draft, or None when there is none (an unreadable draft counts as none)."""
    p = path_for(package_name)
    try:
        if p.stat().st_size > MAX_DRAFT_BYTES:
            return None
        data = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        return None
    values = {str(k): v for k, v in data["values"].items() if isinstance(v, (str, bool))}
    return Draft(values, str(data.get("updated", "")))


def save(package_name: str, values: dict[str, str | bool]) -> Draft:
    updated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    body = json.dumps({"version": 1, "updated": updated, "values": values}, ensure_ascii=False, indent=1)
    atomic_write_text(path_for(package_name), body, mode=0o600)
    return Draft(dict(values), updated)


def discard(package_name: str) -> None:
    try:
        path_for(package_name).unlink()
    except FileNotFoundError:
        pass
