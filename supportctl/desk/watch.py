"""`inbox --watch`: triage again whenever the mailbox or the clock can have changed something, and say what did.

Over IMAP the connection stays open and waits with IDLE (RFC 2177) for new mail; local sources are polled.
Between runs the wait never outlasts the next due time shown, so a registration turning overdue is seen
the moment it does. Core only: the CLI prints the events and decides the exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from supportctl.desk.sources import Source
from supportctl.desk.triage import Item, Triage, status_label
from supportctl.i18n import _


@dataclass(frozen=True)
class Change:
    item: Item
    before: str | None  # the status at the last look, None for a registration seen for the first time
    claimed_before: tuple[str, ...] | None = None  # who had claimed it at the last look (None: first seen)

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """`inbox --watch --json`'s record: the item's, with what it was before."""
        claimed_before = list(self.claimed_before) if self.claimed_before is not None else None
        return {"type": "change", "before": self.before, "claimed_before": claimed_before, **self.item.to_dict(now)}

    def line(self) -> str:
        """`inbox --watch`'s line: id, old -> new status, subject, and who claimed it last (as `inbox` in a pipe)."""
        item = self.item
        was = status_label(self.before) if self.before else _("new")
        moved = f"{was} -> {status_label(item.status)}"
        return f"{item.facts.id}\t{moved}\t{item.facts.subject}\t{', '.join(item.claimed_by)}"


Seen = dict[str, tuple[str, tuple[str, ...]]]  # id -> (status, claimed by)


def changes(previous: Seen, result: Triage) -> list[Change]:
    """Registrations that are new, whose status moved, or that a desk member claimed or released since
    `previous`."""
    out = []
    for item in result.items:
        was = previous.get(item.facts.id)
        if was != (item.status, item.claimed_by):
            out.append(Change(item, *(was or (None, None))))
    return out


def next_wake(result: Triage, now: datetime, interval: float) -> float:
    """Seconds to wait: the interval, or less when a registration becomes due (or due-soon) sooner."""
    soonest = interval
    for item in result.items:
        if item.due is not None and item.status in ("open", "due-soon"):
            left = item.due.timestamp() - now.timestamp()
            if 0 < left < soonest:
                soonest = left + 0.05  # just past the due time, so it is overdue when we look
    return max(0.05, soonest)


def watch(
    source: Source,
    run: Callable[[Source, datetime], Triage],
    interval: float,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Iterator[tuple[Triage, list[Change]]]:
    """Triage, report the changes, wait for mail or time; for ever (the caller stops it)."""
    seen: Seen = {}
    result: Triage | None = None
    while True:
        now = clock()
        if result is not None:
            result.close()  # done with (its items are read): one connection to the store at a time
        result = run(source, now)
        found = changes(seen, result)
        seen = {i.facts.id: (i.status, i.claimed_by) for i in result.items}
        yield result, found
        wait = next_wake(result, clock(), interval)
        waiter: Any = getattr(source, "wait", None)  # IMAP: IDLE on the open connection
        if waiter is not None:
            waiter(wait)
        else:
            time.sleep(wait)
