"""General Python for a warm-up before the MicroPython corpus: code this interpreter already has.

The standard library of the running interpreter (``sysconfig``'s ``stdlib``, PSF-2.0) and, on
request, the installed packages (``purelib``/``platlib``, each file with its distribution's licence
from its metadata) become a block table in the shape of ``source_files`` (``SOURCE_SCHEMA``, one
``code`` block a file) plus a ``licence`` column. Nothing is imported or executed: a file must
decode as UTF-8 and ``ast.parse``.

Which files: every ``.py`` below those roots except the parts that teach nothing about writing
programs, by directory name (``SKIP_DIRS``: test suites, IDLE, lib2to3, codec tables, demos,
vendored installers, other interpreters' site-packages) and by file name (``test_*.py``,
``*_test.py``, ``conftest.py``); then a size window per file (``min_file_bytes`` ..
``max_file_bytes``: stubs and generated tables fall outside it), exact duplicates by the sha256 of
the text with trailing whitespace dropped, and ``max_bytes`` in all. The order is fixed by the
sha256 of each recorded path, so the cap takes a spread of modules rather than the alphabet's
first ones, and the same interpreter always gives the same table.

Paths are recorded relative to their root (``stdlib/json/decoder.py``,
``site-packages/yaml/parser.py``), never as host paths: where Python is installed does not change
the table. Its version does (another standard library), and so, with ``include_site_packages``,
does every package installed or upgraded.
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import sysconfig
import time
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.common.blocks import SOURCE_SCHEMA
from pipeline.sources.files import INPUT_SHA256, file_rows, parse_source

WARMUP_FILE = "python_warmup.parquet"
WARMUP_SCHEMA = SOURCE_SCHEMA.append(pa.field("licence", pa.string()))
STDLIB_LICENCE = "PSF-2.0"
UNKNOWN_LICENCE = "UNKNOWN"
SKIP_DIRS = frozenset(
    {
        "test",
        "tests",
        "testing",
        "idle_test",
        "idlelib",
        "lib2to3",
        "turtledemo",
        "encodings",
        "pydoc_data",
        "ensurepip",
        "site-packages",
        "dist-packages",
        "__pycache__",
    }
)


@dataclass
class WarmupSettings:
    enabled: bool = False  # off: an empty table, and token_shards writes no warmup stream
    include_site_packages: bool = False  # installed packages too (licences vary: each file records its own)
    min_file_bytes: int = 2048  # smaller files are mostly stubs and re-exports
    max_file_bytes: int = 65536  # larger ones are often generated tables
    max_bytes: int = 8 * 2**20  # all files together (8 MiB: about 2.5M tokens of a 4k-token BPE)

    def validate(self) -> None:
        if not 0 < self.min_file_bytes <= self.max_file_bytes <= self.max_bytes:
            raise ValueError(
                f"WarmupSettings: need 0 < min_file_bytes <= max_file_bytes <= max_bytes, got {asdict(self)}"
            )


@dataclass(frozen=True)
class Candidate:
    rel: str  # the path the table records
    path: Path
    licence: str


def _skipped_path(parts: tuple[str, ...]) -> bool:
    name = parts[-1]
    return (
        any(part in SKIP_DIRS for part in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def stdlib_candidates(stdlib: Path) -> list[Candidate]:
    """The ``.py`` files of a standard library folder that ``SKIP_DIRS`` and the test-file names leave."""
    stdlib = Path(stdlib)
    found = []
    for path in sorted(stdlib.rglob("*.py")):
        parts = path.relative_to(stdlib).parts
        if path.is_file() and not _skipped_path(parts):
            found.append(Candidate("stdlib/" + "/".join(parts), path, STDLIB_LICENCE))
    return found


def distribution_licence(meta) -> str:
    """A distribution's licence from its metadata: the SPDX ``License-Expression`` (PEP 639), else its
    ``License ::`` classifiers, else a one-line ``License`` field; ``UNKNOWN`` when none says."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    classifiers = sorted({c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")})
    if classifiers:
        return " OR ".join(classifiers)
    field = (meta.get("License") or "").strip()
    return field if field and "\n" not in field and len(field) <= 80 else UNKNOWN_LICENCE


def package_candidates(
    distributions: Iterable[metadata.Distribution] | None = None, site_dirs: Iterable[Path] | None = None
) -> list[Candidate]:
    """The ``.py`` files the installed distributions list that lie in a site-packages folder (an editable
    install of a project elsewhere is not a package of this interpreter), first distribution by name
    wins a path."""
    if distributions is None:
        distributions = metadata.distributions()
    if site_dirs is None:
        site_dirs = {Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib")}
    roots = sorted({Path(d).resolve() for d in site_dirs})
    found: dict[str, Candidate] = {}
    by_name = sorted(distributions, key=lambda d: (d.metadata["Name"] or "").lower())
    for dist in by_name:
        licence = distribution_licence(dist.metadata)
        for file in dist.files or []:
            if file.suffix != ".py":
                continue
            path = Path(dist.locate_file(file)).resolve()
            root = next((r for r in roots if path.is_relative_to(r)), None)
            if root is None or not path.is_file():
                continue
            parts = path.relative_to(root).parts
            rel = "site-packages/" + "/".join(parts)
            if not _skipped_path(parts) and rel not in found:
                found[rel] = Candidate(rel, path, licence)
    return [found[rel] for rel in sorted(found)]


def normalized_sha256(text: str) -> str:
    """The hash duplicates share: line endings and trailing whitespace do not make a file new."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return hashlib.sha256("\n".join(lines).strip("\n").encode()).hexdigest()


def _reason_to_skip(candidate: Candidate, size: int, settings: WarmupSettings) -> str | None:
    if candidate.licence == UNKNOWN_LICENCE:
        return "licence unknown"
    if size < settings.min_file_bytes:
        return "smaller than min_file_bytes"
    if size > settings.max_file_bytes:
        return "larger than max_file_bytes"
    return None


def _parsed_text(path: Path) -> tuple[str | None, str | None]:
    """``(text, None)`` for a UTF-8 file that parses, else ``(None, why not)``."""
    try:
        text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    try:
        with warnings.catch_warnings():  # invalid escapes and the like warn; they still parse
            warnings.simplefilter("ignore")
            ast.parse(text, filename=path.name)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, "does not parse"
    return text, None


def select_files(candidates: list[Candidate], settings: WarmupSettings) -> tuple[list[tuple[Candidate, str]], dict]:
    """The files kept (sorted by recorded path, with their text) and how many were skipped, by reason."""
    skipped: dict[str, int] = {}
    kept: list[tuple[Candidate, str]] = []
    seen: set[str] = set()
    total = 0
    for candidate in sorted(candidates, key=lambda c: hashlib.sha256(c.rel.encode()).hexdigest()):
        size = candidate.path.stat().st_size
        reason = _reason_to_skip(candidate, size, settings)
        if reason is None and total + size > settings.max_bytes:
            reason = "over max_bytes"
        text = None
        if reason is None:
            text, reason = _parsed_text(candidate.path)
        if text is not None and (digest := normalized_sha256(text)) in seen:
            reason = "duplicate"
        if reason is not None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        seen.add(digest)
        kept.append((candidate, text))
        total += size
    return sorted(kept, key=lambda item: item[0].rel), dict(sorted(skipped.items()))


def interpreter_sha256(include_site_packages: bool) -> str:
    """What the table depends on outside the pipeline: the interpreter's version and, when packages are
    included, every installed distribution's name and version (`mpyforge run` compares it)."""
    packages = []
    if include_site_packages:
        packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    identity = {"python": sys.version, "packages": packages}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def build_python_warmup(out_dir: Path, settings: WarmupSettings, stdlib: Path | None = None) -> dict:
    """Write ``out_dir/python_warmup.parquet`` (empty unless ``settings.enabled``) and return its summary."""
    settings.validate()
    started = time.monotonic()
    kept: list[tuple[Candidate, str]] = []
    skipped: dict[str, int] = {}
    if settings.enabled:
        candidates = stdlib_candidates(Path(stdlib or sysconfig.get_paths()["stdlib"]))
        if settings.include_site_packages:
            candidates += package_candidates()
        kept, skipped = select_files(candidates, settings)
    rows = []
    licences: dict[str, dict[str, int]] = {}
    for candidate, text in kept:
        rows += [
            {**row, "licence": candidate.licence}
            for row in file_rows(candidate.rel, text, parse_source(candidate.path, text))
        ]
        entry = licences.setdefault(candidate.licence, {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += len(text.encode())
    pq.write_table(pa.Table.from_pylist(rows, schema=WARMUP_SCHEMA), Path(out_dir) / WARMUP_FILE)
    return {
        "enabled": settings.enabled,
        "python": sys.version.split()[0],
        "files": len(kept),
        "bytes": sum(entry["bytes"] for entry in licences.values()),
        "skipped": skipped,
        "licences": dict(sorted(licences.items())),
        "seconds": round(time.monotonic() - started, 2),
        INPUT_SHA256: interpreter_sha256(settings.include_site_packages),
    }
