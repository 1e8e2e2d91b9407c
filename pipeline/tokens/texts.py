"""Texts the tokenizer and the shard writer read from the corpus and pair tables.

A corpus *document* is its blocks in ``seq`` order joined with a blank line, with
headings written back as Markdown (``"#" * level + " " + text``), the same shape as
the ``document.md`` of a PDF partition. Keeping the heading markers gives the model
the section structure a book has; ``document_text`` is the one place that decides
this, so checks that look windows up in the corpus rebuild documents with it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.common.prompt_format import split_pair
from pipeline.corpus.build import SPLITS

CORPUS_COLUMNS = ("doc_id", "kind", "level", "text", "seq", "split")
WARMUP_COLUMNS = ("doc_id", "kind", "level", "text", "seq")
PAIR_COLUMNS = ("pair_id", "instruction", "response", "split")


def _require_columns(path: Path, wanted: tuple[str, ...]) -> None:
    try:
        names = set(pq.read_schema(path).names)
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except pa.ArrowInvalid as err:
        raise ValueError(f"{path}: not a parquet file ({err})") from None
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; has {sorted(names)}")


def _check_split(path: Path, split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"{path}: unknown split {split!r}; expected one of {SPLITS}")


def block_text(kind: str, level: int, text: str) -> str:
    if kind == "heading":
        return f"{'#' * max(1, min(int(level), 6))} {text}"
    return text


def document_text(blocks: list[tuple[str, int, str]]) -> str:
    """One document from its ``(kind, level, text)`` blocks, already in seq order."""
    return "\n\n".join(block_text(kind, level, text) for kind, level, text in blocks)


def corpus_documents(corpus_path: Path, split: str) -> Iterator[tuple[str, str]]:
    """``(doc_id, text)`` for every document of ``split``, ordered by doc_id.

    Documents need all their blocks at once, so this reads the split's rows as one
    table (a few columns of text; the corpus of a book collection is tens of MB).
    """
    _check_split(corpus_path, split)
    _require_columns(corpus_path, CORPUS_COLUMNS)
    yield from _documents(pq.read_table(corpus_path, columns=list(CORPUS_COLUMNS), filters=[("split", "=", split)]))


def warmup_documents(warmup_path: Path) -> Iterator[tuple[str, str]]:
    """``(doc_id, text)`` for every file of a ``python_warmup_files`` table (no splits: it is only trained on)."""
    _require_columns(warmup_path, WARMUP_COLUMNS)
    yield from _documents(pq.read_table(warmup_path, columns=list(WARMUP_COLUMNS)))


def _documents(table: pa.Table) -> Iterator[tuple[str, str]]:
    if table.num_rows == 0:
        return
    table = table.sort_by([("doc_id", "ascending"), ("seq", "ascending")])
    doc_ids = table.column("doc_id").to_pylist()
    blocks = zip(table.column("kind").to_pylist(), table.column("level").to_pylist(), table.column("text").to_pylist())
    current: str | None = None
    pending: list[tuple[str, int, str]] = []
    for doc_id, block in zip(doc_ids, blocks):
        if doc_id != current and pending:
            yield current, document_text(pending)
            pending = []
        current = doc_id
        pending.append(block)
    yield current, document_text(pending)


def corpus_texts(corpus_path: Path, split: str) -> list[str]:
    """The texts of ``corpus_documents`` (the documents as the tokenizer and the model see them)."""
    return [text for _, text in corpus_documents(corpus_path, split)]


def corpus_block_batches(
    corpus_path: Path, split: str, batch_rows: int, kinds: tuple[str, ...] | None = None
) -> Iterator[list[str]]:
    """Block texts of ``split`` (optionally only some ``kind``s), streamed in parquet batches."""
    _check_split(corpus_path, split)
    _require_columns(corpus_path, CORPUS_COLUMNS)
    for batch in pq.ParquetFile(corpus_path).iter_batches(
        batch_size=batch_rows, columns=["kind", "level", "text", "split"]
    ):
        keep = pc.equal(batch.column("split"), split)
        if kinds is not None:
            keep = pc.and_(keep, pc.is_in(batch.column("kind"), pa.array(kinds)))
        batch = batch.filter(keep)
        if batch.num_rows:
            yield [
                block_text(k, lv, t)
                for k, lv, t in zip(
                    batch.column("kind").to_pylist(),
                    batch.column("level").to_pylist(),
                    batch.column("text").to_pylist(),
                )
            ]


def pair_batches(pairs_path: Path, split: str, batch_rows: int) -> Iterator[list[tuple[str, str]]]:
    """``(prompt_text, response_text)`` of each pair of ``split`` (see ``split_pair``), in parquet batches."""
    _check_split(pairs_path, split)
    _require_columns(pairs_path, PAIR_COLUMNS)
    for batch in pq.ParquetFile(pairs_path).iter_batches(
        batch_size=batch_rows, columns=["instruction", "response", "split"]
    ):
        batch = batch.filter(pc.equal(batch.column("split"), split))
        if batch.num_rows:
            yield [
                split_pair(i, r)
                for i, r in zip(batch.column("instruction").to_pylist(), batch.column("response").to_pylist())
            ]
