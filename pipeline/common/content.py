"""What an artifact version is made of, and how its files reach the disk.

The version of an artifact is a hash over its file names and contents (``content_version``), so
identical content always gives the identical version. Writes are durable before they become
visible: every file and directory is fsynced before a rename, and small pointer files are
replaced atomically. Temporary names start with ``TMP_PREFIX``, which readers never look at.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

TMP_PREFIX = ".tmp-"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_files(directory: Path, exclude: str) -> list[dict]:
    """Every file below ``directory`` (but the top-level ``exclude``) with size and sha256, sorted by path."""
    files = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel == exclude:
            continue
        files.append({"path": rel, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    return files


def content_version(files: list[dict], identity: tuple[str, ...] | None = None) -> str:
    """The version of an artifact: a hash over its file names and contents.

    ``identity`` limits the hash to those files: a checkpoint is the same artifact when
    its weights, config and tokenizer are, whatever its wall-clock numbers say.
    """
    digest = hashlib.sha256()
    for entry in files:
        if identity is None or entry["path"] in identity:
            digest.update(f"{entry['path']}\0{entry['sha256']}\n".encode())
    return digest.hexdigest()[:16]


def fsync(path: Path) -> None:
    """Flush one file or directory (its entries: renames, new names) to stable storage."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Every file, then every directory bottom-up, so a renamed tree is complete after a power loss."""
    paths = sorted(directory.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    for path in [p for p in paths if p.is_file()] + [p for p in paths if p.is_dir()] + [directory]:
        fsync(path)


def write_text_atomic(path: Path, text: str, tmp_dir: Path | None = None) -> None:
    """Replace ``path`` atomically and durably; the temp name lives in ``tmp_dir`` (default: beside it)."""
    tmp = (tmp_dir or path.parent) / f"{TMP_PREFIX}{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync(path.parent)
