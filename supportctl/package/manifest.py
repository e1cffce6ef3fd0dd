"""The document package: a directory with `package.toml` and its documents.

The manifest defines a whole registration process: documents, the form's field schema, the
registration address, the business schedule and the activation classes. It is validated on load;
a bad manifest is one error naming the key.
"""

import re
import sys
from pathlib import Path
from typing import Any, NamedTuple

from supportctl import paths
from supportctl.errors import InvalidInputError, os_reason
from supportctl.fsutil import atomic_write
from supportctl.i18n import _
from supportctl.output import has_unsafe, strip_unsafe
from supportctl.schedule import calendar as cal

MANIFEST = "package.toml"
FORMAT = 1
FIELD_TYPES = ("text", "email", "phone", "date", "country", "choice", "checkbox")
MAX_MANIFEST_BYTES = 1 << 20


class Document(NamedTuple):
    id: str
    file: str
    title: dict[str, str]
    sha256: str
    print: bool


class Choice(NamedTuple):
    value: str
    label: dict[str, str]
    activation_class: str | None = None


class FieldSpec(NamedTuple):
    name: str
    type: str
    label: dict[str, str]
    help: dict[str, str]
    required: bool
    max_length: int | None
    choices: tuple[Choice, ...]
    widget: str  # "text" | "combo" | "list" | "radio" | "checkbox"
    export_value: str | None  # checkbox "on" value

    def choice_values(self) -> list[str]:
        return [c.value for c in self.choices]


REPLY_PLACEHOLDERS = (
    "name",
    "company",
    "contract",
    "support",
    "request_address",
    "requests_url",
    "note",
    "findings",
    "subject",
)


class ReplyTemplates(NamedTuple):
    """The desk's replies (`inbox reply`): per language, `{placeholder}`s from REPLY_PLACEHOLDERS."""

    contract_subject: dict[str, str]
    contract_body: dict[str, str]
    reject_subject: dict[str, str]
    reject_body: dict[str, str]
    requests_url: str = ""


DEFAULT_REPLY = ReplyTemplates(
    contract_subject={
        "de": "Ihr Supportvertrag {contract}",
        "en": "Your support contract {contract}",
    },
    contract_body={
        "de": (
            "Guten Tag {name},\n\n"
            "Ihr Supportvertrag ist aktiviert.\n\n"
            "Vertragsnummer: {contract}\n"
            "Support: {support}\n\n"
            "Supportanfragen stellen Sie online unter {requests_url} oder per E-Mail an {request_address};"
            " nennen Sie dabei immer Ihre Vertragsnummer.\n"
            "{note}\n"
            "Mit freundlichen Grüßen\nIhr Registrierungsteam\n"
        ),
        "en": (
            "Dear {name},\n\n"
            "your support contract is active.\n\n"
            "Contract number: {contract}\n"
            "Support: {support}\n\n"
            "Open support requests online at {requests_url} or by e-mail to {request_address};"
            " always quote your contract number.\n"
            "{note}\n"
            "Kind regards\nThe registration desk\n"
        ),
    },
    reject_subject={
        "de": "Ihre Registrierung konnte nicht bearbeitet werden",
        "en": "Your registration could not be processed",
    },
    reject_body={
        "de": (
            "Guten Tag {name},\n\n"
            "Ihr Registrierungsformular ({subject}) enthält Fehler und konnte nicht bearbeitet werden:\n\n"
            "{findings}\n\n"
            "Bitte korrigieren Sie das Formular (z. B. mit `supportctl fill`) und senden Sie es erneut.\n"
            "{note}\n"
            "Mit freundlichen Grüßen\nIhr Registrierungsteam\n"
        ),
        "en": (
            "Dear {name},\n\n"
            "your registration form ({subject}) has errors and could not be processed:\n\n"
            "{findings}\n\n"
            "Please correct the form (for example with `supportctl fill`) and send it again.\n"
            "{note}\n"
            "Kind regards\nThe registration desk\n"
        ),
    },
    requests_url="https://support.example.com/requests",
)


class Process(NamedTuple):
    registration_address: str
    request_address: str
    subject: str
    class_field: str | None
    schedule: cal.Schedule
    classes: dict[str, cal.ActivationClass]
    reply: ReplyTemplates = DEFAULT_REPLY
    # A regular expression that finds the contract number in the desk's reply (`status`); None: derived
    # from the reply templates. The number is the group named `contract`, else group 1, else the match.
    contract_pattern: str | None = None


class Package(NamedTuple):
    root: Path
    name: str
    version: str
    languages: tuple[str, ...]
    title: dict[str, str]
    documents: tuple[Document, ...]
    terms_document: str
    terms_pages: tuple[int, ...]
    form_document: str
    fields: tuple[FieldSpec, ...]
    process: Process

    def document(self, doc_id: str) -> Document:
        for d in self.documents:
            if d.id == doc_id:
                return d
        raise KeyError(doc_id)

    def path_of(self, doc_id: str) -> Path:
        return self.root / self.document(doc_id).file

    @property
    def form_path(self) -> Path:
        return self.path_of(self.form_document)

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


class _Reader:
    """Typed access to the manifest that names the offending key in every error."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> InvalidInputError:
        return InvalidInputError(
            _("invalid package manifest {path}: {key}: {problem}").format(path=self.source, key=key, problem=problem),
            _("fetch the package again or ask the registration desk for a correct one"),
        )

    def get(self, table: dict[str, Any], key: str, where: str, kind: type, default: Any = ...) -> Any:
        full = f"{where}.{key}" if where else key
        if key not in table:
            if default is ...:
                raise self.fail(full, _("missing"))
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(full, _("must be of type {kind}").format(kind=kind.__name__))
        return value

    def text(self, table: dict[str, Any], key: str, where: str, default: Any = ...) -> str:
        value: str = self.get(table, key, where, str, default)
        return value

    def lang(self, table: dict[str, Any], key: str, where: str, required: bool = True) -> dict[str, str]:
        value = self.get(table, key, where, dict, ... if required else {})
        full = f"{where}.{key}"
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise self.fail(full, _("must map language codes to text"))
        if required and "en" not in value:
            raise self.fail(full + ".en", _("missing"))
        return dict(value)


def load(root: Path, *, cache: bool = True) -> Package:
    """Load and validate the package in directory `root`.

    `cache=False` for a directory that is about to go away (fetch's temporary copy): no cache entry is
    read or written for it.
    """
    import os

    from supportctl.fsutil import open_regular

    manifest = root / MANIFEST
    try:
        # A regular file, not a link out of the package, a FIFO or /dev/zero; read at most the limit.
        with open_regular(manifest) as fh:
            st = os.fstat(fh.fileno())
            if st.st_size > MAX_MANIFEST_BYTES:
                raise InvalidInputError(_("package manifest {path} is too large").format(path=manifest))
            data = _cached_manifest(manifest, st) if cache else None
            if data is None:
                raw = fh.read(MAX_MANIFEST_BYTES + 1)
                if len(raw) > MAX_MANIFEST_BYTES:
                    raise InvalidInputError(_("package manifest {path} is too large").format(path=manifest))
                data = _cache_manifest(manifest, st, raw) if cache else _parse_manifest(raw)
    except FileNotFoundError:
        raise InvalidInputError(
            _("{path} is not a document package: {manifest} is missing").format(path=root, manifest=MANIFEST),
            _("run `supportctl fetch` to get the package"),
        ) from None
    except ValueError as exc:  # UnicodeDecodeError and TOMLDecodeError are ValueErrors
        raise InvalidInputError(
            _("invalid package manifest {path}: {reason}").format(path=manifest, reason=exc),
        ) from None
    except OSError as exc:
        raise InvalidInputError(
            _("cannot read package manifest {path}: {reason}").format(path=manifest, reason=exc.strerror)
        ) from None
    return parse(data, root, manifest)


# Parsed manifests are cached as JSON: tomllib's import and parse cost ~4 ms on every start, json's ~0.1 ms.
# The entry records the manifest's path, size and mtime, and is used only if all still match.


def _cache_file(manifest: Path) -> Path:
    import zlib

    return paths.cache_dir() / "manifests" / f"{zlib.crc32(str(manifest.resolve()).encode()):08x}.json"


def _cached_manifest(manifest: Path, st: Any) -> dict[str, Any] | None:
    import json

    try:
        entry = json.loads(_cache_file(manifest).read_bytes())
        if entry["key"] == [str(manifest.resolve()), st.st_size, st.st_mtime_ns, FORMAT]:
            data: dict[str, Any] = entry["data"]
            return data
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads(raw.decode("utf-8-sig"))  # a manifest saved by a Windows editor may start with a BOM


def _cache_manifest(manifest: Path, st: Any, raw: bytes) -> dict[str, Any]:
    import json

    data = _parse_manifest(raw)
    entry = {"key": [str(manifest.resolve()), st.st_size, st.st_mtime_ns, FORMAT], "data": data}
    try:
        atomic_write(_cache_file(manifest), json.dumps(entry).encode())
    except (OSError, TypeError, ValueError):
        pass  # dates or other non-JSON values, or a read-only cache: parse again next time
    return data


def parse(data: dict[str, Any], root: Path, source: Path) -> Package:
    r = _Reader(source)
    fmt = r.get(data, "format", "", int)
    if fmt != FORMAT:
        raise r.fail(
            "format", _("unsupported format {fmt}; this supportctl reads format {ours}").format(fmt=fmt, ours=FORMAT)
        )
    meta = r.get(data, "package", "", dict)
    documents = []
    seen: set[str] = set()
    for n, d in enumerate(r.get(data, "documents", "", list)):
        where = f"documents[{n}]"
        if not isinstance(d, dict):
            raise r.fail(where, _("must be a table"))
        doc = Document(
            id=r.text(d, "id", where),
            file=r.text(d, "file", where),
            title=r.lang(d, "title", where),
            sha256=r.text(d, "sha256", where).lower(),
            print=r.get(d, "print", where, bool, False),
        )
        if doc.id in seen:
            raise r.fail(where + ".id", _("duplicate id {id!r}").format(id=doc.id))
        if not re.fullmatch(r"[0-9a-f]{64}", doc.sha256):
            raise r.fail(where + ".sha256", _("must be 64 hexadecimal digits"))
        file_path = Path(doc.file)
        if file_path.is_absolute() or ".." in file_path.parts or doc.file.startswith(("/", "\\")):
            raise r.fail(where + ".file", _("must be a relative path inside the package"))
        if has_unsafe(doc.file) or not file_path.parts:
            raise r.fail(where + ".file", _("must be a file name without control characters"))
        seen.add(doc.id)
        documents.append(doc)
    terms = r.get(data, "terms", "", dict)
    terms_doc = r.text(terms, "document", "terms")
    if terms_doc not in seen:
        raise r.fail("terms.document", _("no document with id {id!r}").format(id=terms_doc))
    pages = r.get(terms, "pages", "terms", list, [])
    if not all(isinstance(p, int) and p >= 1 for p in pages):
        raise r.fail("terms.pages", _("must be page numbers starting at 1"))
    form = r.get(data, "form", "", dict)
    form_doc = r.text(form, "document", "form")
    if form_doc not in seen:
        raise r.fail("form.document", _("no document with id {id!r}").format(id=form_doc))
    fields = tuple(_field(r, f, n) for n, f in enumerate(r.get(form, "fields", "form", list)))
    names = [f.name for f in fields]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise r.fail("form.fields", _("duplicate field name {name!r}").format(name=sorted(dupes)[0]))
    process = _process(r, r.get(data, "process", "", dict), fields)
    return Package(
        root=root,
        name=r.text(meta, "name", "package"),
        version=r.text(meta, "version", "package"),
        languages=tuple(r.get(meta, "languages", "package", list, ["en"])),
        title=r.lang(meta, "title", "package"),
        documents=tuple(documents),
        terms_document=terms_doc,
        terms_pages=tuple(pages),
        form_document=form_doc,
        fields=fields,
        process=process,
    )


def _field(r: _Reader, f: Any, n: int) -> FieldSpec:
    where = f"form.fields[{n}]"
    if not isinstance(f, dict):
        raise r.fail(where, _("must be a table"))
    ftype = r.text(f, "type", where)
    if ftype not in FIELD_TYPES:
        raise r.fail(where + ".type", _("must be one of {choices}").format(choices=", ".join(FIELD_TYPES)))
    choices = []
    for m, c in enumerate(r.get(f, "choices", where, list, [])):
        cwhere = f"{where}.choices[{m}]"
        if isinstance(c, str):
            choices.append(Choice(c, {"en": c}))
        elif isinstance(c, dict):
            choices.append(
                Choice(r.text(c, "value", cwhere), r.lang(c, "label", cwhere), r.text(c, "class", cwhere, None))
            )
        else:
            raise r.fail(cwhere, _("must be a string or a table"))
    if ftype == "choice" and not choices:
        raise r.fail(where + ".choices", _("a choice field needs choices"))
    default_widget = {"choice": "combo", "checkbox": "checkbox"}.get(ftype, "text")
    widget = r.text(f, "widget", where, default_widget)
    max_length = r.get(f, "max_length", where, int, None)
    if max_length is not None and max_length < 1:
        raise r.fail(where + ".max_length", _("must be at least 1"))
    return FieldSpec(
        name=r.text(f, "name", where),
        type=ftype,
        label=r.lang(f, "label", where),
        help=r.lang(f, "help", where, required=False),
        required=r.get(f, "required", where, bool, False),
        max_length=max_length,
        choices=tuple(choices),
        widget=widget,
        export_value=r.text(f, "export_value", where, "Yes" if ftype == "checkbox" else None),
    )


def _process(r: _Reader, p: dict[str, Any], fields: tuple[FieldSpec, ...]) -> Process:
    sched = r.get(p, "schedule", "process", dict)
    where = "process.schedule"

    def checked(key: str, fn: Any, value: Any) -> Any:
        try:
            return fn(value)
        except InvalidInputError as exc:
            raise r.fail(f"{where}.{key}", exc.message) from None

    tzname = r.text(sched, "timezone", where)
    checked("timezone", cal.zone, tzname)
    days_raw = sched.get("days", "mon-fri")
    opens, closes = checked("hours", cal.parse_hours, r.text(sched, "hours", where))
    schedule = cal.Schedule(
        timezone=tzname,
        days=checked("days", cal.parse_days, days_raw),
        opens=opens,
        closes=closes,
        holidays=checked("holidays", cal.parse_holidays, r.text(sched, "holidays", where, "none")),
        half_days=checked("half_days", cal.parse_half_days, r.get(sched, "half_days", where, dict, {})),
    )
    classes = {}
    for name, c in r.get(p, "classes", "process", dict).items():
        cwhere = f"process.classes.{name}"
        if not isinstance(c, dict):
            raise r.fail(cwhere, _("must be a table"))
        hours = r.get(c, "business_hours", cwhere, float, 0.0)
        days = r.get(c, "business_days", cwhere, float, 0.0)
        if hours < 0 or days < 0 or hours + days <= 0:
            raise r.fail(cwhere, _("needs a positive business_hours or business_days"))
        classes[name] = cal.ActivationClass(name, r.lang(c, "label", cwhere), hours, days)
    if not classes:
        raise r.fail("process.classes", _("at least one activation class is needed"))
    class_field = r.text(p, "class_field", "process", None)
    if class_field is not None:
        spec = next((f for f in fields if f.name == class_field), None)
        if spec is None:
            raise r.fail("process.class_field", _("no field named {name!r}").format(name=class_field))
        for ch in spec.choices:
            if ch.activation_class and ch.activation_class not in classes:
                raise r.fail(
                    "process.class_field",
                    _("choice {value!r} names unknown class {cls!r}").format(value=ch.value, cls=ch.activation_class),
                )
    subject = r.text(p, "subject", "process")
    problem = check_template(subject, [f.name for f in fields])
    if problem:
        raise r.fail("process.subject", problem)
    return Process(
        registration_address=r.text(p, "registration_address", "process"),
        request_address=r.text(p, "request_address", "process"),
        subject=subject,
        class_field=class_field,
        schedule=schedule,
        classes=classes,
        reply=_reply(r, r.get(p, "reply", "process", dict, {})),
        contract_pattern=_contract_pattern(r, p),
    )


# ---------------------------------------------------------------- templates
#
# The subject and reply templates come from the package, so they are untrusted: `str.format` would let
# `{program.__class__.__mro__}` read interpreter internals and `{program:>1500000000}` allocate gigabytes.
# A template may only insert named plain values: `{name}` with a known name, `{{` and `}}` for braces;
# attribute access, indexing, conversions (`!r`) and format specs are refused when the package loads.


def _formatter_parser(text: str) -> Any:
    """`string.Formatter().parse(text)`, without importing `string` (3 M instructions on every `eta`: each
    package load checks the reply templates)."""
    import _string  # type: ignore[import-not-found]  # string.Formatter.parse calls it

    return _string.formatter_parser(text)


def check_template(text: str, names: list[str] | tuple[str, ...]) -> str | None:
    """What is wrong with the template `text` (translated), or None when it only uses `{name}` from `names`."""
    try:
        parts = list(_formatter_parser(text))
    except ValueError:
        return _("unbalanced braces; write {{ and }} for a literal brace")
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if spec or conversion:
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            return _(
                "{{{field}}}: only plain {{name}} placeholders are allowed, no format specs or conversions"
            ).format(field=shown)
        if field not in names:
            return _("unknown placeholder {{{name}}}; use {choices}").format(
                name=field, choices=", ".join("{" + n + "}" for n in names)
            )
    return None


def fill_template(text: str, values: dict[str, str], *, multiline: bool = False) -> str:
    """`text` with each `{name}` replaced by its value, stripped of control and bidi characters.

    `text` must have passed `check_template`; an unknown name becomes empty text.
    """
    out: list[str] = []
    for literal, field, _spec, _conversion in _formatter_parser(text):
        out.append(literal)
        if field is not None:
            out.append(strip_unsafe(values.get(field, ""), multiline=multiline))
    return "".join(out)


def _contract_pattern(r: _Reader, p: dict[str, Any]) -> str | None:
    pattern = r.text(p, "contract_pattern", "process", None)
    if pattern is None:
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        raise r.fail(
            "process.contract_pattern", _("not a valid regular expression: {reason}").format(reason=exc)
        ) from None
    return pattern


def _reply(r: _Reader, t: dict[str, Any]) -> ReplyTemplates:
    """`[process.reply]`: optional; every key missing falls back to the built-in text."""
    d = DEFAULT_REPLY
    where = "process.reply"
    parts: dict[str, dict[str, str]] = {}
    for key in ("contract_subject", "contract_body", "reject_subject", "reject_body"):
        texts = {**getattr(d, key), **r.lang(t, key, where, required=False)}
        for lang, text in texts.items():
            problem = check_template(text, REPLY_PLACEHOLDERS)
            if problem:
                raise r.fail(f"{where}.{key}.{lang}", problem)
        parts[key] = texts
    return ReplyTemplates(**parts, requests_url=r.text(t, "requests_url", where, d.requests_url))


# ---------------------------------------------------------------- which package a command uses


def bundled_root() -> Path:
    """The default package: inside the wheel, or `forms/default` in a source checkout."""
    inside = Path(__file__).parent.parent / "_bundled"
    if (inside / MANIFEST).exists():
        return inside
    return Path(__file__).resolve().parents[2] / "forms" / "default"


def last_fetched_record() -> Path:
    from supportctl.fsutil import private_dir

    return private_dir(paths.state_dir(), create=False) / "last-package"


def choose(flag: str | None, configured: str | None) -> tuple[Path, str]:
    """The package directory to use and why: --package, config/env, last fetched, bundled default."""
    if flag:
        return Path(flag).expanduser(), "flag"
    if configured:
        return Path(configured).expanduser(), "config"
    try:
        recorded = last_fetched_record().read_text("utf-8").strip()
    except OSError:
        recorded = ""
    if recorded and (Path(recorded) / MANIFEST).exists():
        return Path(recorded), "last-fetched"
    return bundled_root(), "bundled"


# ---------------------------------------------------------------- documents on disk, packages as zips


def file_sha256(path: Path, follow_symlinks: bool = True) -> str:
    """sha256 of a regular file (a FIFO or device is refused); `follow_symlinks=False` inside packages."""
    import hashlib

    from supportctl.fsutil import open_regular

    h = hashlib.sha256()
    with open_regular(path, follow_symlinks=follow_symlinks) as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def verify_documents(pkg: Package, known: dict[str, str] | None = None) -> None:
    """Every document exists and matches the manifest's sha256, or one error naming the first that does not.

    `known` maps paths relative to the package root to sha256 values already computed (while extracting).
    """
    from supportctl.fsutil import inside

    known = known or {}
    for doc in pkg.documents:
        path = inside(pkg.root, doc.file)
        try:
            rel = path.relative_to(pkg.root).as_posix()
            regular = path.is_file() and not path.is_symlink()
            actual = known[rel] if rel in known and regular else file_sha256(path, follow_symlinks=False)
        except FileNotFoundError:
            raise InvalidInputError(
                _("document {id} ({file}) is missing from the package").format(id=doc.id, file=doc.file),
                _("fetch the package again or ask the registration desk for it: supportctl fetch --request"),
            ) from None
        except OSError as exc:
            raise InvalidInputError(
                _("cannot read document {file}: {reason}").format(file=path, reason=os_reason(exc))
            ) from None
        if actual != doc.sha256:
            raise InvalidInputError(
                _(
                    "document {id} ({file}) does not match the manifest's sha256: expected {expected}, got {actual}"
                ).format(id=doc.id, file=doc.file, expected=doc.sha256, actual=actual),
                _("the package is damaged or altered; fetch it again: supportctl fetch"),
            )


def package_root(extracted: Path) -> Path:
    """Where the manifest is in an unpacked zip: at the top, or inside a single top-level directory."""
    if (extracted / MANIFEST).is_file():
        return extracted
    entries = [p for p in extracted.iterdir() if not p.name.startswith(".") or p.name == MANIFEST]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST).is_file():
        return entries[0]
    return extracted


def open_package(path: Path) -> Package:
    """Load a package from a directory or a `.zip` (unpacked safely once into the cache, keyed by its sha256)."""
    if path.is_dir():
        return load(path)
    if not path.exists():  # a mistyped --package: not "package.toml is missing", which sends one looking inside
        raise InvalidInputError(
            _("{path} does not exist").format(path=path),
            _("give a package directory or .zip, or run `supportctl fetch` to get the package"),
        )
    import os
    import shutil
    import tempfile

    from supportctl.package import safezip

    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise InvalidInputError(_("cannot read {path}: {reason}").format(path=path, reason=os_reason(exc))) from None
    from supportctl.fsutil import private_dir

    cached = paths.cache_dir() / "packages" / digest
    if not (cached / ".complete").exists():
        private_dir(cached.parent)
        work = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}.", suffix=".partial", dir=cached.parent))
        try:
            digests = safezip.extract(path, work)
            root = package_root(work)
            prefix = root.relative_to(work).as_posix()
            verify_documents(load(root, cache=False), under(digests, prefix))  # root is temporary
            (work / ".complete").write_bytes(b"")
            try:
                os.rename(work, cached)
            except OSError:
                # Another process unpacked the same zip first; theirs is as good as ours.
                if not (cached / ".complete").exists():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return load(package_root(cached))


def under(digests: dict[str, str], prefix: str) -> dict[str, str]:
    """The digests of files under `prefix` (a directory in the archive), relative to it."""
    if prefix in ("", "."):
        return digests
    return {k[len(prefix) + 1 :]: v for k, v in digests.items() if k.startswith(prefix + "/")}
