"""The PDF inbox: one Dagster partition per PDF file, keyed by a safe, stable name.

A key is the lowercased file stem reduced to ``[a-z0-9_-]``. When that changed the
name (``"My Book.PDF"``), a short hash of the original file name is appended, so two
names that sanitise alike (``"a b.pdf"`` / ``"a-b.pdf"``) still get distinct keys and a
key never changes while its file keeps its name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.common.content import sha256_file

PDF_SUFFIX = ".pdf"
MAX_STEM_CHARS = 60
SHORT_HASH = 8
LONG_HASH = 16  # used only when two files still collide on the short form


@dataclass(frozen=True)
class InboxFile:
    key: str
    path: Path
    sha256: str
    size: int


def _name_hash(filename: str, length: int) -> str:
    return hashlib.sha256(filename.encode("utf-8")).hexdigest()[:length]


def _sanitise(stem: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_")
    return cleaned[:MAX_STEM_CHARS].rstrip("-_") or "pdf"


def partition_key(filename: str) -> str:
    """A partition key for a PDF file name; the plain stem when the name is already canonical."""
    name = Path(filename).name
    if not name:
        raise ValueError(f"partition_key: empty file name {filename!r}")
    stem = _sanitise(Path(name).stem)
    if name == stem + PDF_SUFFIX:
        return stem
    return f"{stem}-{_name_hash(name, SHORT_HASH)}"


Warn = Callable[[str], None]
_log = logging.getLogger(__name__)


def _utf8_name(path: Path) -> bool:
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by Python as surrogate escapes
        return False
    return True


def inbox_paths(inbox: Path, warn: Warn = _log.warning) -> dict[str, Path]:
    """Every ``*.pdf`` file (any case) directly in ``inbox`` by partition key, sorted by key.

    Nothing is read from the files, so a run that needs one PDF does not hash the whole
    library. Keys that still collide (a canonical name equal to another file's hashed
    key) are resolved deterministically: the canonical file keeps the plain key, the
    others get a longer hash of their own name. A file whose name is not valid UTF-8 cannot be
    a partition key (nor shown in the UI): it is skipped with a warning through ``warn``.
    """
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise ValueError(f"{inbox}: the PDF inbox is not a directory")
    candidates = [
        p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() == PDF_SUFFIX and not p.name.startswith(".")
    ]
    for path in candidates:
        if not _utf8_name(path):
            warn(f"{inbox}: skipping {os.fsencode(path.name)!r}: its name is not valid UTF-8; rename the file")
    paths = sorted(p for p in candidates if _utf8_name(p))
    by_key: dict[str, list[Path]] = {}
    for path in paths:
        by_key.setdefault(partition_key(path.name), []).append(path)
    files: dict[str, Path] = {}
    for key, group in by_key.items():
        for path in sorted(group, key=lambda p: (p.name != key + PDF_SUFFIX, p.name)):
            unique = key if key not in files else f"{_sanitise(path.stem)}-{_name_hash(path.name, LONG_HASH)}"
            files[unique] = path
    return dict(sorted(files.items()))


def inbox_file(key: str, path: Path) -> InboxFile:
    """One inbox entry with its content hash and size."""
    return InboxFile(key, path, sha256_file(path), path.stat().st_size)


def scan_inbox(inbox: Path, warn: Warn = _log.warning) -> dict[str, InboxFile]:
    """``inbox_paths`` with every file hashed (what the sensor needs for its run keys)."""
    return {key: inbox_file(key, path) for key, path in inbox_paths(inbox, warn).items()}
