"""Read the parts of forms/default/package.toml that the PDFs are built from."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TEXT_TYPES = frozenset({"text", "email", "phone", "date", "country"})


@dataclass(frozen=True)
class Bilingual:
    de: str
    en: str

    @classmethod
    def of(cls, table: Any) -> Bilingual:
        if not isinstance(table, dict):
            return cls("", "")
        return cls(str(table.get("de", "")), str(table.get("en", "")))

    def joined(self, sep: str = " / ") -> str:
        """'Nachname / Last name'; one language only if the other is empty."""
        return sep.join(part for part in (self.de, self.en) if part)


@dataclass(frozen=True)
class Choice:
    value: str
    label: Bilingual


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    widget: str | None
    required: bool
    max_length: int | None
    label: Bilingual
    help: Bilingual
    choices: tuple[Choice, ...]
    export_value: str | None

    @property
    def kind(self) -> str:
        """The PDF widget kind: 'text', 'combo', 'radio' or 'checkbox'."""
        if self.type in TEXT_TYPES:
            return "text"
        if self.type == "choice" and self.widget in ("combo", "radio"):
            return self.widget
        if self.type == "checkbox":
            return "checkbox"
        raise ValueError(f"field {self.name!r}: unsupported type/widget {self.type}/{self.widget}")


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    version: str
    title: Bilingual
    documents: dict[str, str]  # id -> file name
    document_titles: dict[str, Bilingual]
    fields: tuple[Field, ...]
    registration_address: str
    request_address: str
    terms_pages: tuple[int, ...]

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)


def _choice(raw: Any) -> Choice:
    if isinstance(raw, str):
        return Choice(raw, Bilingual(raw, raw))
    return Choice(str(raw["value"]), Bilingual.of(raw.get("label")))


def load_manifest(path: Path) -> Manifest:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    fields = tuple(
        Field(
            name=str(raw["name"]),
            type=str(raw["type"]),
            widget=raw.get("widget"),
            required=bool(raw.get("required", False)),
            max_length=raw.get("max_length"),
            label=Bilingual.of(raw.get("label")),
            help=Bilingual.of(raw.get("help")),
            choices=tuple(_choice(c) for c in raw.get("choices", [])),
            export_value=raw.get("export_value"),
        )
        for raw in data["form"]["fields"]
    )
    for field in fields:
        _ = field.kind  # validate early
    docs = data["documents"]
    return Manifest(
        path=path,
        name=str(data["package"]["name"]),
        version=str(data["package"]["version"]),
        title=Bilingual.of(data["package"]["title"]),
        documents={str(d["id"]): str(d["file"]) for d in docs},
        document_titles={str(d["id"]): Bilingual.of(d.get("title")) for d in docs},
        fields=fields,
        registration_address=str(data["process"]["registration_address"]),
        request_address=str(data["process"]["request_address"]),
        terms_pages=tuple(int(p) for p in data["terms"]["pages"]),
    )
