#!/usr/bin/env python3
"""Build the bundled default document package (forms/default/*.pdf).

    python forms/build.py            # rebuild the PDFs, update the sha256 lines
    python forms/build.py --check    # rebuild into a temp dir, fail if anything differs
    python forms/build.py --out DIR  # build into DIR only (package.toml untouched)

Needs the `dev` extra (reportlab, fonttools, pypdf). Uses only the fonts committed
in forms/src/fonts/. The output is byte-for-byte reproducible; see forms/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

FORMS = Path(__file__).resolve().parent
DEFAULT_DIR = FORMS / "default"
MANIFEST = DEFAULT_DIR / "package.toml"
FONT = FORMS / "src" / "fonts" / "DejaVuSans.ttf"
TOOLCHAIN = FORMS / "src" / "toolchain.json"  # what built the committed PDFs

if str(FORMS / "src") not in sys.path:
    sys.path.insert(0, str(FORMS / "src"))

from docpkg.manifest import load_manifest  # noqa: E402
from docpkg.registration_form import build_registration_form  # noqa: E402
from docpkg.service_description import build_service_description  # noqa: E402

_SECTION = re.compile(r"^\s*\[")
_FILE = re.compile(r'^\s*file\s*=\s*"([^"]+)"')
_SHA = re.compile(r'^(\s*sha256\s*=\s*")([0-9A-Fa-f]*)(".*)$', re.DOTALL)


def build(out_dir: Path, manifest_path: Path = MANIFEST) -> dict[str, Path]:
    """Write both PDFs into `out_dir`; return {document id: path}."""
    manifest = load_manifest(manifest_path)
    builders: dict[str, Callable[[], bytes]] = {
        "service-description": lambda: build_service_description(manifest),
        "registration-form": lambda: build_registration_form(manifest, FONT),
    }
    if set(builders) != set(manifest.documents):
        raise SystemExit(f"package.toml lists {sorted(manifest.documents)}, build.py builds {sorted(builders)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for doc_id, make in builders.items():
        path = out_dir / manifest.documents[doc_id]
        path.write_bytes(make())
        written[doc_id] = path
    return written


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite_hashes(text: str, hashes: dict[str, str]) -> str:
    """Set `sha256 = "..."` in each [[documents]] block whose `file` is in `hashes`;
    every other byte of `text` is kept. Fails unless each file in `hashes` is found."""
    lines = text.splitlines(keepends=True)
    blocks: list[dict[str, int]] = []  # per [[documents]]: {"file": i, "sha256": i}
    block: dict[str, int] | None = None
    for i, line in enumerate(lines):
        if _SECTION.match(line):
            block = {} if line.strip() == "[[documents]]" else None
            if block is not None:
                blocks.append(block)
        elif block is not None and _FILE.match(line):
            block["file"] = i
        elif block is not None and _SHA.match(line):
            block["sha256"] = i
    done = set()
    for block in blocks:
        file_match = _FILE.match(lines[block["file"]]) if "file" in block else None
        if file_match is None or "sha256" not in block:
            raise ValueError("a [[documents]] block lacks a file or sha256 line")
        name = file_match.group(1)
        if name in hashes:
            sha = _SHA.match(lines[block["sha256"]])
            assert sha is not None
            lines[block["sha256"]] = sha.group(1) + hashes[name] + sha.group(3)
            done.add(name)
    if done != set(hashes):
        raise ValueError(f"package.toml has no [[documents]] entry for {sorted(set(hashes) - done)}")
    return "".join(lines)


def _read(manifest: Path) -> str:
    return manifest.read_bytes().decode("utf-8")  # keeps line endings as they are


def toolchain() -> dict[str, str]:
    """Versions that determine the output bytes (same versions -> same bytes)."""
    import zlib

    import fontTools
    import pypdf
    import reportlab

    return {
        "fonttools": str(fontTools.version),
        "pypdf": str(pypdf.__version__),
        "reportlab": str(reportlab.Version),
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
    }


def recorded_toolchain() -> dict[str, str]:
    return dict(json.loads(TOOLCHAIN.read_text(encoding="utf-8"))) if TOOLCHAIN.exists() else {}


def check(package_dir: Path = DEFAULT_DIR) -> int:
    """Rebuild into a temp dir; 0 if the committed PDFs and sha256 lines are current."""
    problems = []
    manifest = package_dir / "package.toml"
    with tempfile.TemporaryDirectory() as tmp:
        written = build(Path(tmp), manifest)
        for path in written.values():
            committed = package_dir / path.name
            if not committed.exists() or committed.read_bytes() != path.read_bytes():
                problems.append(f"{committed} differs from a fresh build")
        text = _read(manifest)
        if rewrite_hashes(text, {p.name: sha256(p) for p in written.values()}) != text:
            problems.append(f"{manifest}: sha256 values are out of date")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        if toolchain() != recorded_toolchain():
            print(
                f"note: committed PDFs were built with {recorded_toolchain()}, this is {toolchain()}", file=sys.stderr
            )
        print("rebuild with: python forms/build.py", file=sys.stderr)
        return 1
    print("forms/default is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="rebuild into a temp dir and fail if forms/default differs"
    )
    parser.add_argument("--out", type=Path, help="build into this directory only")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if args.out:
        for path in build(args.out).values():
            print(f"wrote {path}")
        return 0
    written = build(DEFAULT_DIR)
    hashes = {path.name: sha256(path) for path in written.values()}
    text = _read(MANIFEST)
    new = rewrite_hashes(text, hashes)
    if new != text:
        MANIFEST.write_bytes(new.encode("utf-8"))
    TOOLCHAIN.write_text(json.dumps(toolchain(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for path in written.values():
        print(f"wrote {path.relative_to(FORMS.parent)}  sha256 {hashes[path.name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
