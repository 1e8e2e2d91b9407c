"""The ``corpus`` stage: merge extracted PDFs and source files into one clean block table.

Steps, in order:

1. load every block table and sort by (source, doc_id, seq): the stable order in which
   the first occurrence of anything wins;
2. quality filters per block (``pipeline.corpus.quality``);
3. whole-document dedup (exact, then MinHash on word 5-grams), so a book ingested
   twice disappears as a unit instead of leaving its prose behind;
4. code-block dedup across all remaining documents (exact, then MinHash on normalized
   code tokens). Headings and prose stay where they are and surviving blocks keep their
   original ``seq``, so "heading, sentence, code" order is intact for the pair miner;
5. split with a salted hash of the unit's key: a unit's split depends only on its own key, so
   adding a PDF never moves existing units between splits. The unit is a document, or with
   ``split_by="section"`` each run of blocks from one heading to the next (its key: the
   document, the heading's text and its occurrence), so a book's chapters land on both sides.
   Why sections: a whole-document split put all six PDFs of the real library in train, so every
   val pair was micropython-lib internals and SFT chose its checkpoint by code no maker asks for.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.common.blocks import BLOCK_KINDS
from pipeline.corpus.dedup import DuplicateIndex, code_tokens, first_occurrences, prose_tokens
from pipeline.corpus.inputs import load_blocks
from pipeline.corpus.quality import REJECTION_REASONS, QualityLimits, rejection_reason

CORPUS_FILE = "corpus.parquet"
SPLITS = ("train", "val")
SPLIT_UNITS = ("document", "section")

# fmt: off
CORPUS_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("source", pa.string()), ("kind", pa.string()), ("level", pa.int64()),
    ("text", pa.string()), ("page", pa.int64()), ("seq", pa.int64()), ("split", pa.string()),
])
# fmt: on


@dataclass
class CorpusSettings:
    near_dup_threshold: float = 0.8  # estimated Jaccard at or above which items are near duplicates
    num_perm: int = 128  # MinHash permutations; 128 is datasketch's default
    shingle: int = 5  # tokens per shingle, as in BigCode's near-dedup
    min_chars: int = 8  # code/prose blocks shorter than this (stripped) are dropped
    max_line_length: int = 400  # code/heading blocks with a longer line are dropped
    min_alnum_fraction: float = 0.25  # of non-whitespace characters
    val_fraction: float = 0.05
    split_salt: str = "mpyforge-corpus-v1"  # change to draw a different, equally stable split
    split_by: str = "document"  # "document" | "section" (every heading starts a unit; see the module docstring)

    def validate(self) -> None:
        """Checks the split and filter fields; DuplicateIndex checks the dedup fields."""
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"CorpusSettings.val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.split_by not in SPLIT_UNITS:
            raise ValueError(f"CorpusSettings.split_by must be one of {SPLIT_UNITS}, got {self.split_by!r}")
        if not 0.0 <= self.min_alnum_fraction <= 1.0:
            raise ValueError(f"CorpusSettings.min_alnum_fraction must be in [0, 1], got {self.min_alnum_fraction}")
        if self.min_chars < 0 or self.max_line_length < 1:
            raise ValueError("CorpusSettings.min_chars must be >= 0 and max_line_length >= 1")


def _split_score(doc_id: str, salt: str) -> float:
    """A uniform number in [0, 1) fixed by (salt, doc_id) alone."""
    digest = hashlib.sha256(f"{salt}\x00{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(doc_id: str, val_fraction: float, salt: str) -> str:
    """The hash split of one document, before the at-least-one-val correction."""
    return "val" if _split_score(doc_id, salt) < val_fraction else "train"


def assign_splits(doc_ids: Iterable[str], val_fraction: float, salt: str) -> dict[str, str]:
    """Hash split per document; with >= 2 documents each split gets at least one.

    The correction moves only the document whose score is closest to the boundary, so
    it is as stable as it can be: it changes only when the hash split itself was empty.
    """
    ids = sorted(set(doc_ids))
    splits = {doc_id: split_of(doc_id, val_fraction, salt) for doc_id in ids}
    if len(ids) >= 2:
        scores = {doc_id: _split_score(doc_id, salt) for doc_id in ids}
        if "val" not in splits.values():
            splits[min(ids, key=scores.__getitem__)] = "val"
        elif "train" not in splits.values():
            splits[max(ids, key=scores.__getitem__)] = "train"
    return splits


def split_units(blocks: pd.DataFrame, split_by: str) -> pd.Series:
    """Each block's split unit: its document, or its document's section (blocks in (doc_id, seq) order).

    A section's key names its heading and that heading's occurrence in the document, not its
    position, so a page added earlier in a book does not move the sections after it.
    """
    if split_by == "document":
        return blocks["doc_id"].astype(str)
    units, current, seen = [], {}, Counter()
    for doc_id, kind, text in zip(blocks["doc_id"], blocks["kind"], blocks["text"]):
        if kind == "heading":
            seen[(doc_id, text)] += 1
            current[doc_id] = f"{doc_id}\x00{text}\x00{seen[(doc_id, text)]}"
        units.append(current.get(doc_id, doc_id))
    return pd.Series(units, index=blocks.index)


def _new_index(settings: CorpusSettings) -> DuplicateIndex:
    return DuplicateIndex(
        threshold=settings.near_dup_threshold, num_perm=settings.num_perm, shingle_size=settings.shingle
    )


def _drop_duplicate_documents(blocks: pd.DataFrame, index: DuplicateIndex) -> tuple[pd.DataFrame, Counter]:
    # groupby(sort=False) yields documents in first-appearance order, i.e. the stable sort order.
    documents = blocks.groupby(["source", "doc_id"], sort=False)["text"].agg("\n".join)
    verdicts = first_occurrences(((text, prose_tokens(text)) for text in documents), index)
    duplicates = {key for key, verdict in zip(documents.index, verdicts) if verdict}
    keep = np.array(
        [(source, doc_id) not in duplicates for source, doc_id in zip(blocks["source"], blocks["doc_id"])], dtype=bool
    )
    return blocks[keep], Counter(verdict for verdict in verdicts if verdict)


def _drop_duplicate_code_blocks(blocks: pd.DataFrame, index: DuplicateIndex) -> tuple[pd.DataFrame, Counter]:
    code = blocks.loc[blocks["kind"] == "code", "text"]
    verdicts = first_occurrences(((text, code_tokens(text)) for text in code), index)
    duplicate_rows = [row for row, verdict in zip(code.index, verdicts) if verdict]
    return blocks.drop(index=duplicate_rows), Counter(verdict for verdict in verdicts if verdict)


def _check_unique_doc_ids(blocks: pd.DataFrame) -> None:
    """Downstream stages group by doc_id alone, so one id must not span two sources."""
    sources_per_doc = blocks.groupby("doc_id")["source"].unique()
    clashes = {doc_id: sorted(sources) for doc_id, sources in sources_per_doc.items() if len(sources) > 1}
    if clashes:
        doc_id, sources = next(iter(sorted(clashes.items())))
        raise ValueError(
            f"doc_id '{doc_id}' appears in several inputs {sources} "
            f"({len(clashes)} clashing doc_id(s)); doc_ids must be unique across inputs"
        )


def _markdown_cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def _per_source_markdown(input_blocks: pd.DataFrame, corpus: pd.DataFrame) -> str:
    """One row per input source, including sources whose documents all disappeared."""
    rows = [
        "| source | blocks in | blocks kept | code kept | characters | documents | val documents |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    kept_by_source = dict(tuple(corpus.groupby("source")))
    for source, blocks_in in input_blocks.groupby("source").size().items():
        kept = kept_by_source.get(source, corpus.iloc[0:0])
        val_documents = kept.loc[kept["split"] == "val", "doc_id"].nunique()
        rows.append(
            f"| {_markdown_cell(source)} | {blocks_in} | {len(kept)} | {int((kept['kind'] == 'code').sum())} "
            f"| {int(kept['text'].str.len().sum())} | {kept['doc_id'].nunique()} | {val_documents} |"
        )
    return "\n".join(rows)


def _write_corpus(corpus: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(corpus[CORPUS_SCHEMA.names], schema=CORPUS_SCHEMA, preserve_index=False)
    pq.write_table(table, path)


def build_corpus(
    pdf_blocks: dict[str, Path],
    source_blocks: Path | None,
    out_dir: Path,
    settings: CorpusSettings,
    failed_pdfs: dict[str, str] | None = None,
) -> dict:
    """Write ``out_dir/corpus.parquet`` and return metadata for the Dagster UI."""
    settings.validate()
    # Separate indexes: a document and a code block must never count as copies of each other.
    document_index, code_index = _new_index(settings), _new_index(settings)
    input_blocks = load_blocks(pdf_blocks, source_blocks)
    input_documents = input_blocks.groupby(["source", "doc_id"]).ngroups

    limits = QualityLimits(settings.min_chars, settings.max_line_length, settings.min_alnum_fraction)
    reasons = [rejection_reason(kind, text, limits) for kind, text in zip(input_blocks["kind"], input_blocks["text"])]
    blocks = input_blocks[np.array([reason is None for reason in reasons], dtype=bool)]
    filtered = Counter(reason for reason in reasons if reason)

    blocks, document_duplicates = _drop_duplicate_documents(blocks, document_index)
    blocks, code_duplicates = _drop_duplicate_code_blocks(blocks, code_index)
    if blocks.empty:
        raise ValueError(
            f"corpus is empty: all {len(input_blocks)} blocks of {input_documents} documents were "
            f"filtered ({dict(filtered)}) or deduplicated"
        )
    _check_unique_doc_ids(blocks)

    units = split_units(blocks, settings.split_by)
    splits = assign_splits(units, settings.val_fraction, settings.split_salt)
    corpus = blocks.assign(split=units.map(splits)).reset_index(drop=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_corpus(corpus, out_dir / CORPUS_FILE)

    documents = corpus["doc_id"].nunique()
    duplicate_documents = sum(document_duplicates.values())
    # With sections as units a document may stand on both sides; it counts on each.
    split_counts = corpus.drop_duplicates(["doc_id", "split"])["split"].value_counts()
    kind_counts = corpus["kind"].value_counts()
    return {
        "documents": int(documents),
        "documents_by_split": {split: int(split_counts.get(split, 0)) for split in SPLITS},
        "split_units_by_split": {split: int(units[units.map(splits) == split].nunique()) for split in SPLITS},
        "blocks": len(corpus),
        "blocks_by_kind": {kind: int(kind_counts.get(kind, 0)) for kind in BLOCK_KINDS},
        "characters": int(corpus["text"].str.len().sum()),
        "input_documents": int(input_documents),
        "input_blocks": len(input_blocks),
        "duplicates_removed": {
            "exact_documents": document_duplicates["exact"],
            "near_documents": document_duplicates["near"],
            "exact_code_blocks": code_duplicates["exact"],
            "near_code_blocks": code_duplicates["near"],
        },
        "filtered": {reason: filtered[reason] for reason in REJECTION_REASONS},
        # Documents that lost every block to filters or code dedup (not whole-document duplicates).
        "documents_emptied": int(input_documents - documents - duplicate_documents),
        "per_source": _per_source_markdown(input_blocks, corpus),
        "failed_pdfs": [{"partition": key, "error": error} for key, error in sorted((failed_pdfs or {}).items())],
    }
