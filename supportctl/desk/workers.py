"""Triage's judge: reads message bodies and validates forms, in this process for a few, in worker processes for many.

With a pool, the main process reads only each message's head (its facts) and its raw bytes; a message whose
body must be scanned goes raw to a worker, which parses it (`scan_message`), hashes its PDFs, recognises and
validates each form not judged yet, and sends back what the body holds and the judged forms. The main process
completes the message's facts when the answer comes back, in the order the messages were read; at most
`IN_FLIGHT` tasks of `CHUNK` messages are out at once, so memory stays bounded whatever the mailbox's size.
Below `POOL_AFTER` forms, with a validator passed in (tests) or for IMAP (its parts come decoded), all of it
runs in this process, as `examine` does.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supportctl.desk.sources import Envelope, FileBody, TooLarge
from supportctl.desk.triage import (
    BodyFiles,
    Facts,
    Forms,
    Limits,
    Scan,
    Validator,
    _check,
    _unreadable,
    classify,
    complete,
    examine,
    examine_head,
    form_key,
    judge_loaded,
    scan_body,
    scan_message,
    unreadable_reason,
)
from supportctl.i18n import _
from supportctl.package.manifest import Package

# One message's body as a worker saw it: (message key, kind, reason, files by sha256).
Body = tuple[str, str, str | None, BodyFiles]
# What a worker scans: a raw message, a mail file to read (`FileBody`), or the decoder of the parts IMAP fetched
# (`sources._Decoded`).
Payload = bytes | FileBody | Callable[[], list[tuple[str | None, str, bytes]]]


class Judge:
    """Examines messages and validates the PDFs they carry; `stats` counts `validated`, `cached`, `skipped`.

    `validated` is the number of distinct forms judged this run, `cached` the PDFs whose form was judged
    before it: the same whichever process did the work.
    """

    POOL_AFTER = 8  # PDFs; below that, starting workers costs more than it saves
    POOL_AFTER_MESSAGES = 300  # IMAP messages: past that, their parts are decoded and scanned by the workers
    IN_FLIGHT = 64  # single PDFs out at once (those read before the pool started)
    CHUNK = 4  # raw messages per task: fewer round trips, and the last tasks still spread over the workers
    CHUNK_BYTES = 1 << 20
    TASKS_PER_WORKER = 4  # raw tasks out at once, per worker
    # fork shares the loaded package and template; elsewhere fork is unsafe (macOS) or missing (Windows).
    START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

    def __init__(
        self,
        pkg: Package,
        forms: Forms,
        validator: Validator | None,
        workers: int,
        limits: Limits,
        stats: dict[str, int],
    ) -> None:
        self.pkg, self.forms, self.validator, self.limits, self.stats = pkg, forms, validator, limits, stats
        self.workers = workers if validator is None else 1
        self.seen: set[str] = set()  # judged (or being judged) this run; the others in `forms` are `cached`
        self.pending: list[tuple[str, bytes]] = []
        self.futures: deque[tuple[str, Any]] = deque()
        self.chunk: list[tuple[str, Payload]] = []
        self.chunk_bytes = 0
        self.tasks: deque[tuple[list[tuple[str, Payload]], Any]] = deque()
        self.bodies: dict[str, tuple[str, str | None, BodyFiles]] = {}  # completed in finish(), by message key
        self.pool: Any = None
        self.imap_seen = 0
        self.same: dict[str, str] = {}  # IMAP: digest of a message's fetched parts -> the first message with them
        self.copies: dict[str, str] = {}  # message key -> the first message with the same parts
        self.unanswered: set[str] = set()  # messages sent to a worker, their answer not back yet
        self.copies_waiting: dict[str, list[str]] = {}  # such a message -> its copies read since
        self.fresh: list[str] = []  # messages whose body is known since the last `ready()`

    @property
    def count(self) -> int:
        return len(self.seen)

    def examine(self, env: Envelope, want_body: bool, desk_address: str | None) -> Facts:
        """The facts of one message; a body left to a worker is added by `completed` after `finish`."""
        if env.files is not None and want_body:
            # IMAP: the parts come fetched but still encoded. Past a few hundred messages, decoding, hashing
            # and classifying them goes to the workers too, while this process talks to the server.
            self.imap_seen += 1
            if self.pool is None and self.workers > 1 and self.imap_seen > self.POOL_AFTER_MESSAGES:
                self._start_pool()
        if self.pool is None or env.key in self.bodies:
            f, pdfs = examine(env, self.limits, want_body, desk_address)
            self._counted(f.kind)
            for sha, pdf in pdfs:
                self.add(form_key(self.pkg, sha), pdf)
            return f
        f, data = examine_head(env, self.limits, want_body, desk_address, defer=True)
        if data is None:
            self._counted(f.kind)
            return f
        digest_of = getattr(env.files, "digest", None)
        digest = digest_of() if digest_of is not None else None
        if digest is not None:  # the same parts as a message before (a resent form): its answer is this one's
            first = self.same.setdefault(digest, env.key)
            if first != env.key:
                self.copies[env.key] = first
                if first in self.unanswered:
                    self.copies_waiting.setdefault(first, []).append(env.key)
                    if any(key == first for key, _data in self.chunk):
                        self._send_chunk()  # a copy waits for it: off to a worker now, not when the chunk is full
                    return f
                return self.completed(f)  # its answer is back: complete now, while the reading goes on
        self.bodies[env.key] = (f.kind, f.reason, ())  # a placeholder until the worker's answer
        self.unanswered.add(env.key)
        if env.files is not None:  # the fetched parts (a plain object) instead of the raw message
            self.chunk.append((env.key, env.files))
            self.chunk_bytes += sum(len(d) for _p, d, _w in getattr(env.files, "parts", ()))
        else:
            self.chunk.append((env.key, data))
            self.chunk_bytes += env.size if isinstance(data, FileBody) else len(data)
        if len(self.chunk) >= self.CHUNK or self.chunk_bytes >= self.CHUNK_BYTES:
            self._send_chunk()
        return f

    def completed(self, f: Facts) -> Facts:
        """`f` with what its body holds, when a worker read it (after `finish`, or once `ready` named it)."""
        body = self.bodies.get(self.copies.get(f.key, f.key))
        return f if body is None or f.kind != "unchecked" else complete(f, *body)

    def ready(self) -> list[str]:
        """The keys of messages whose body became known since the last call (their facts can be completed)."""
        while self.tasks and self.tasks[0][1].done():  # answers back already, taken in order without waiting
            self._collect_chunk()
        fresh, self.fresh = self.fresh, []
        return fresh

    def _counted(self, kind: str) -> None:
        if kind == "skipped":
            self.stats["skipped"] += 1

    def _before(self, key: str) -> bool:
        """Whether the form was judged before this run (every form judged in it is in `seen`)."""
        return key not in self.seen and key in self.forms

    def add(self, key: str, data: bytes) -> None:
        if self._before(key):
            self.stats["cached"] += 1
            return
        if key in self.seen:
            return
        self.seen.add(key)
        if self.pool is None:
            self.pending.append((key, data))
            if self.workers > 1 and len(self.pending) >= self.POOL_AFTER:
                self._start_pool()
            return
        self._submit(key, data)

    def prepare(self, messages: int) -> bool:
        """Told how many IMAP messages come: for many, start the workers now, before they are read.

        True when no process will be forked from here on (the workers are running, or none will be
        needed), so the source may read ahead in a thread.
        """
        if self.pool is None and self.workers > 1 and self.validator is None and messages > self.POOL_AFTER_MESSAGES:
            self._start_pool(template=False)  # how many forms are new is not known yet: none may be
            if not self.futures:
                self._pool_submit(_ping, None)  # fork the workers now (submit forks them all), not while a thread runs
        return self.pool is not None

    def _start_pool(self, template: bool = True) -> None:
        """Start the workers; `template`: each loads the form template at once (forms are on their way)."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from supportctl.desk.heap import keep_freed_memory
        from supportctl.i18n import current_language

        keep_freed_memory()  # the workers read message after message (forked, they take the setting along)

        if template and self.START_METHOD == "fork" and self.pending:
            # Judged here, before the fork, the first form leaves pypdf, the parsed template and the validators'
            # modules (phonenumbers, email_validator) in this process: every worker starts with them, where each
            # loaded its own copy (0.2 s of CPU a worker, as much as validating 20 forms).
            from supportctl.desk import skeleton  # noqa: F401  (the workers' MIME scan needs it)

            key, data = self.pending.pop(0)
            self.forms[key] = judge_loaded(self.pkg, data)
        pending, self.pending = self.pending, []
        # Workers skip the forms judged before and those already on their way to a worker.
        skip = _judged_keys(self.forms) | {k for k, _d in pending}
        self.pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context(self.START_METHOD),
            initializer=init_worker,
            initargs=(str(self.pkg.root), self.limits, skip, current_language(), template),
        )
        for key, data in pending:
            self._submit(key, data)

    def _submit(self, key: str, data: bytes) -> None:
        self.futures.append((key, self._pool_submit(judge_pdf, data)))
        while len(self.futures) > self.IN_FLIGHT:
            self._collect_pdf()

    def _pool_submit(self, fn: Any, arg: Any) -> Any:
        from concurrent.futures import Future

        try:
            return self.pool.submit(fn, arg)
        except Exception as exc:  # a broken pool takes nothing more: the task fails like one that ran
            failed: Future[Any] = Future()
            failed.set_exception(exc)
            return failed

    def _collect_pdf(self) -> None:
        key, fut = self.futures.popleft()
        try:
            self.forms[key] = dict(fut.result())
        except Exception:  # a worker that died (memory, a signal) judged nothing: say so, keep going
            self.forms[key] = _failed()

    def _send_chunk(self) -> None:
        jobs, self.chunk, self.chunk_bytes = self.chunk, [], 0
        self.tasks.append((jobs, self._pool_submit(scan_chunk, jobs)))
        while len(self.tasks) > self.TASKS_PER_WORKER * self.workers:
            self._collect_chunk()

    def _collect_chunk(self) -> None:
        jobs, fut = self.tasks.popleft()
        try:
            bodies, judged = fut.result()
        except Exception:  # the worker died: scan here, and say the forms could not be checked
            bodies, judged = [], {}
            for key, data in jobs:
                kind, reason, files, pdfs = scan_body(_scan(data, self.limits))
                bodies.append((key, kind, reason, files))
                judged.update({form_key(self.pkg, sha): _failed() for sha, _pdf in pdfs})
        for key, kind, reason, files in bodies:
            self.bodies[key] = (kind, reason, files)
            self.unanswered.discard(key)
            self.fresh.append(key)
            self.fresh += self.copies_waiting.pop(key, ())
            self._counted(kind)
            for _name, _type, sha in files:
                if sha is None:
                    continue
                fk = form_key(self.pkg, sha)
                if self._before(fk):
                    self.stats["cached"] += 1
                elif fk not in self.seen:
                    self.seen.add(fk)
                    if fk in judged:
                        self.forms[fk] = judged[fk]
                elif fk in judged and fk not in self.forms:
                    self.forms[fk] = judged[fk]  # judged twice (two workers at once): the same answer

    def finish(self) -> None:
        if self.chunk:
            self._send_chunk()
        for key, data in self.pending:
            if self.validator is None:
                self.forms[key] = judge_loaded(self.pkg, data)
            else:
                self.forms[key] = _check(self.validator, self.pkg, data).to_dict()
        self.pending = []
        while self.futures:
            self._collect_pdf()
        while self.tasks:
            self._collect_chunk()
        for first in self.copies.values():  # counted as if read again: skipped, or a form judged before
            kind, _reason, files = self.bodies[first]
            self._counted(kind)
            for _name, _type, sha in files:
                if sha is not None and self._before(form_key(self.pkg, sha)):
                    self.stats["cached"] += 1
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None


def _scan(data: Payload, limits: Limits) -> Scan:
    """A raw message's files (a Maildir's, an mbox's; read here from a `FileBody`), or the parts IMAP fetched
    (decoded here)."""
    if isinstance(data, FileBody):
        try:
            data = data()
        except (TooLarge, OSError) as exc:
            return Scan("skipped", unreadable_reason(exc, limits), ())
    return scan_message(data, limits) if isinstance(data, bytes) else classify(data())


def _judged_keys(forms: Forms) -> frozenset[str]:
    """The keys of every form judged so far: the store's and this run's (a dict's keys, for `find`)."""
    if isinstance(forms, dict):
        return frozenset(forms)
    keys = set(forms.loaded) | set(forms.new)
    db = getattr(forms.store, "db", None)
    if db is not None:
        keys.update(k for (k,) in db.execute("SELECT key FROM forms"))
    return frozenset(keys)


def _failed() -> dict[str, Any]:
    return _unreadable(_("the PDF could not be checked: the checking process failed")).to_dict()


# ---------------------------------------------------------------- in a worker process

_WORKER: dict[str, Any] = {}


def init_worker(root: str, limits: Limits, skip: frozenset[str], lang: str, template: bool = True) -> None:
    """Once per worker: the package (and its form template, unless `template` is False: then the first form
    to judge loads it), the limits, the forms not to judge again."""
    from supportctl.i18n import set_language
    from supportctl.package import manifest

    set_language(lang)  # reasons and findings in the language of the run (a spawned worker starts afresh)
    pkg = manifest.load(Path(root), cache=False)
    _WORKER.update(pkg=pkg, limits=limits, skip=set(skip))
    if template:
        try:
            from supportctl.form import pdfform

            pdfform.template(pkg)  # parse the template now, not inside the first task
        except Exception:
            pass  # the first validation reports it
    # What is loaded now (modules, the template, and after a fork the parent's objects) lives as long as the
    # worker: out of the collector's sight, a full collection walks only what the validations leave behind
    # (and, after a fork, no longer writes into every page shared with the parent).
    import gc

    gc.freeze()


def _ping(_arg: None) -> None:
    """A task that does nothing: it makes the pool start its workers."""


def judge_pdf(data: bytes) -> dict[str, Any]:
    """Recognise and validate one PDF."""
    return judge_loaded(_WORKER["pkg"], data)


def scan_chunk(jobs: list[tuple[str, Payload]]) -> tuple[list[Body], dict[str, dict[str, Any]]]:
    """Scan raw messages; judge each PDF whose form was not judged before (here or elsewhere)."""
    pkg, limits, skip = _WORKER["pkg"], _WORKER["limits"], _WORKER["skip"]
    bodies: list[Body] = []
    judged: dict[str, dict[str, Any]] = {}
    for key, data in jobs:
        kind, reason, files, pdfs = scan_body(_scan(data, limits))
        bodies.append((key, kind, reason, files))
        for sha, pdf in pdfs:
            fk = form_key(pkg, sha)
            if fk not in skip:
                skip.add(fk)  # this worker judges a form once; the main process keeps the first answer
                judged[fk] = judge_loaded(pkg, pdf)
    return bodies, judged
