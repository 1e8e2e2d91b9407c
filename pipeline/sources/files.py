"""MicroPython source files and docs (``.py``, ``.md``, ``.rst``, ``.txt``) as block tables.

A ``.py`` file is one ``code`` block. Markdown and reStructuredText are split into
heading, prose and code blocks, keeping fenced / literal code exactly as written, so
later stages can pair a heading or sentence with the code that follows it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.common.blocks import SOURCE_SCHEMA
from pipeline.common.code_text import dedent_lines

SUFFIXES = (".py", ".md", ".rst", ".txt")
SOURCE_FILES_FILE = "source_files.parquet"
# Metadata key: the hash of the source folder the table was built from (`mpyforge run` compares it).
INPUT_SHA256 = "input_sha256"


@dataclass(frozen=True)
class Block:
    kind: str  # heading | prose | code
    text: str
    level: int = 0


def doc_id_for(relative_path: str) -> str:
    """A stable id from the path: readable stem plus a short hash of the full path."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(relative_path).stem.lower()).strip("-") or "file"
    return f"src-{stem}-{hashlib.sha256(relative_path.encode()).hexdigest()[:8]}"


def _paragraphs(lines: list[str]) -> list[Block]:
    """Blank-line separated prose paragraphs, re-flowed onto one line each."""
    blocks, current = [], []
    for line in lines + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(Block("prose", " ".join(current)))
            current = []
    return blocks


def _dedent(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(dedent_lines(lines))


def parse_markdown(text: str) -> list[Block]:
    blocks: list[Block] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(```+|~~~+)", line.strip())
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if fence:
            blocks += _paragraphs(prose)
            prose = []
            marker, body = fence.group(1), []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"unclosed {marker} code fence opened at line {len(lines) - len(body)}")
            blocks.append(Block("code", _dedent(body)))
        elif heading:
            blocks += _paragraphs(prose)
            prose = []
            blocks.append(Block("heading", heading.group(2), len(heading.group(1))))
        else:
            prose.append(line)
        i += 1
    return blocks + _paragraphs(prose)


_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")


def parse_rst(text: str) -> list[Block]:
    """Sections (underlined titles), ``::`` literal blocks and ``code-block`` directives."""
    blocks: list[Block] = []
    prose: list[str] = []
    levels: list[str] = []  # underline characters in order of first use = heading level
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        directive = re.match(r"^\.\.\s+(code-block|code|sourcecode)::", line.strip())
        if line.strip() and _RST_UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()):
            blocks += _paragraphs(prose)
            prose = []
            if nxt[0] not in levels:
                levels.append(nxt[0])
            blocks.append(Block("heading", line.strip(), min(levels.index(nxt[0]) + 1, 6)))
            i += 2
            continue
        if directive or (line.rstrip().endswith("::") and not line.strip().startswith("..")):
            if not directive:
                text_part = line.rstrip()[:-1].rstrip(":").rstrip()
                prose.append(text_part + (":" if text_part else ""))
            blocks += _paragraphs(prose)
            prose = []
            i += 1
            # Directive options (":linenos:") and blank lines come before the indented body.
            while i < len(lines) and (not lines[i].strip() or (directive and lines[i].strip().startswith(":"))):
                i += 1
            body = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                body.append(lines[i])
                i += 1
            if body:
                blocks.append(Block("code", _dedent(body)))
            continue
        if not line.strip().startswith(".."):
            prose.append(line)
        i += 1
    return blocks + _paragraphs(prose)


def parse_source(path: Path, text: str) -> list[Block]:
    suffix = path.suffix.lower()
    if suffix == ".py":
        return [Block("code", text.rstrip("\n"))] if text.strip() else []
    if suffix == ".md":
        return parse_markdown(text)
    if suffix == ".rst":
        return parse_rst(text)
    return _paragraphs(text.splitlines())


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (invalid byte at offset {err.start}); re-save it as UTF-8") from err


def _source_paths(source_dir: Path) -> list[Path]:
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise FileNotFoundError(f"source directory {source_dir} does not exist")
    return sorted(p for p in source_dir.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def source_dir_sha256(source_dir: Path) -> str:
    """One hash of every ingested file's path and bytes: what `mpyforge run` compares to see that the
    folder changed since the last build (Dagster's staleness knows nothing outside its assets)."""
    source_dir, digest = Path(source_dir), hashlib.sha256()
    for path in _source_paths(source_dir):
        digest.update(path.relative_to(source_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_rows(relative_path: str, text: str, blocks: list[Block]) -> list[dict]:
    """The block-table rows (``SOURCE_SCHEMA``) of one file: its blocks in order, its path and content hash."""
    sha, doc_id = hashlib.sha256(text.encode()).hexdigest(), doc_id_for(relative_path)
    return [
        {
            "doc_id": doc_id,
            "kind": block.kind,
            "level": block.level,
            "text": block.text,
            "page": 0,
            "seq": seq,
            "path": relative_path,
            "sha256": sha,
        }
        for seq, block in enumerate(blocks)
    ]


def build_source_files(source_dir: Path, out_dir: Path) -> dict:
    """Ingest every supported file below ``source_dir`` into ``out_dir/source_files.parquet``."""
    source_dir = Path(source_dir)
    rows: list[dict] = []
    per_kind: dict[str, int] = {}
    files = _source_paths(source_dir)
    for path in files:
        rel = path.relative_to(source_dir).as_posix()
        text = _read_text(path)
        try:
            blocks = parse_source(path, text)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err
        for row in file_rows(rel, text, blocks):
            rows.append(row)
            per_kind[row["kind"]] = per_kind.get(row["kind"], 0) + 1
    pq.write_table(pa.Table.from_pylist(rows, schema=SOURCE_SCHEMA), Path(out_dir) / SOURCE_FILES_FILE)
    return {
        "files": len(files),
        "blocks": len(rows),
        "blocks_by_kind": dict(sorted(per_kind.items())),
        "characters": sum(len(r["text"]) for r in rows),
        INPUT_SHA256: source_dir_sha256(source_dir),
    }
