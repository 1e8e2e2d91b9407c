"""Reading and validating the block tables that feed the corpus.

Both inputs share the block columns ``doc_id, kind, level, text, page, seq``; the
``source_files`` table adds ``path`` and ``sha256``. Every problem is reported with the
file it came from, because the corpus merges many files and a bare pandas error would
not say which one is broken.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.common.blocks import BLOCK_KINDS, BLOCK_SCHEMA, SOURCE_SCHEMA

BLOCK_COLUMNS: tuple[str, ...] = tuple(BLOCK_SCHEMA.names)
SOURCE_FILE_COLUMNS: tuple[str, ...] = tuple(SOURCE_SCHEMA.names)
_INTEGER_COLUMNS = ("level", "page", "seq")
_STRING_COLUMNS = ("doc_id", "kind", "text")


def read_block_table(path: Path, required: tuple[str, ...] = BLOCK_COLUMNS) -> pd.DataFrame:
    """Load one block parquet file and check its columns, kinds and value types."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: block table not found")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise ValueError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = [column for column in required if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (has {list(table.columns)})")
    for column in _STRING_COLUMNS:
        if table[column].isna().any() or not table[column].map(lambda value: isinstance(value, str)).all():
            raise ValueError(f"{path}: column '{column}' must hold strings only (found nulls or other types)")
    unknown_kinds = sorted(set(table["kind"]) - set(BLOCK_KINDS))
    if unknown_kinds:
        raise ValueError(f"{path}: column 'kind' has unknown values {unknown_kinds}; allowed {list(BLOCK_KINDS)}")
    for column in _INTEGER_COLUMNS:
        if not pd.api.types.is_integer_dtype(table[column]):
            raise ValueError(f"{path}: column '{column}' must be integer, got dtype {table[column].dtype}")
    return table


def load_blocks(pdf_blocks: dict[str, Path], source_blocks: Path | None) -> pd.DataFrame:
    """All input blocks with a ``source`` column, in the stable order dedup relies on.

    The order is (source, doc_id, seq): dedup keeps the first occurrence, so this sort
    is what makes the result independent of dict order or file listing order.
    """
    frames: list[pd.DataFrame] = []
    for key, path in pdf_blocks.items():
        table = read_block_table(path)[list(BLOCK_COLUMNS)]
        frames.append(table.assign(source=f"pdf:{key}"))
    if source_blocks is not None:
        table = read_block_table(source_blocks, SOURCE_FILE_COLUMNS)
        if table["path"].isna().any():
            raise ValueError(f"{source_blocks}: column 'path' has nulls")
        frames.append(table[list(BLOCK_COLUMNS)].assign(source="sources:" + table["path"].astype(str)))
    if not frames:
        raise ValueError("no corpus inputs: pdf_blocks is empty and source_blocks is None")
    blocks = pd.concat(frames, ignore_index=True)
    for column in _INTEGER_COLUMNS:
        blocks[column] = blocks[column].astype("int64")
    return blocks.sort_values(["source", "doc_id", "seq"], kind="stable", ignore_index=True)
