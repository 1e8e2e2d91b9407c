"""Blocks extracted from a PDF, their parquet table and their Markdown rendering."""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.common.blocks import PDF_BLOCK_SCHEMA

# A hyphen at a line end joins the word back when a lowercase letter continues it.
LINE_END_HYPHEN = re.compile(r"(?<=[A-Za-z])-$")


@dataclass(frozen=True)
class Block:
    doc_id: str
    kind: str  # heading | prose | code
    level: int  # heading level 1..6, else 0
    text: str
    page: int  # 1-based page where the block starts
    seq: int  # order within the document
    repl_session: str | None = None  # a code block typed at the REPL: the session as printed


def reflow_prose(lines: list[str]) -> str:
    """Join the printed lines of a paragraph into one line, undoing end-of-line hyphenation.

    ``"micro-" + "controller"`` becomes ``"microcontroller"``; a hyphen before an uppercase
    letter or a digit is kept, joined without a space (``"ESP-" + "IDF"`` -> ``"ESP-IDF"``),
    because it is part of a compound name.
    """
    text = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if LINE_END_HYPHEN.search(text):
            text = (text[:-1] if line[0].islower() else text) + line
        else:
            text = f"{text} {line}" if text else line
    return text


def is_python(code: str) -> bool:
    """Whether the code parses as Python (parsed with ``ast`` only, never executed)."""
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: source with NUL bytes
        return False
    return True


def blocks_to_markdown(blocks: list[Block]) -> str:
    """Headings as ``#``, paragraphs as text, code fenced (``python`` when it parses)."""
    parts: list[str] = []
    for block in blocks:
        if block.kind == "heading":
            parts.append(f"{'#' * min(max(block.level, 1), 6)} {block.text}")
        elif block.kind == "code":
            fence = "~~~" if "```" in block.text else "```"
            language = "python" if is_python(block.text) else ""
            parts.append(f"{fence}{language}\n{block.text}\n{fence}")
        else:
            parts.append(block.text)
    return "\n\n".join(parts) + "\n" if parts else ""


def write_blocks_parquet(blocks: list[Block], path: Path) -> None:
    """The block table of the data contract (doc_id, kind, level, text, page, seq) and the
    PDF stage's ``repl_session``."""
    rows = [asdict(block) for block in blocks]
    table = pa.Table.from_pylist(rows, schema=PDF_BLOCK_SCHEMA) if rows else PDF_BLOCK_SCHEMA.empty_table()
    pq.write_table(table, path)
