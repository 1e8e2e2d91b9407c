"""The block table every input stage writes: PDFs and source files both become rows of blocks.

One definition of the block kinds and columns, so the PDF and source stages (siblings that
never import each other) and the corpus that joins them agree on the format.
"""

from __future__ import annotations

import pyarrow as pa

# The kinds of block every stage shares, in the order tables and metadata list them.
BLOCK_KINDS: tuple[str, ...] = ("heading", "prose", "code")

# fmt: off
BLOCK_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("kind", pa.string()), ("level", pa.int32()), ("text", pa.string()),
    ("page", pa.int32()), ("seq", pa.int32()),
])
# fmt: on
# PDF blocks add the REPL session a code block was typed in, as printed (``>>>``/``...``
# prompts and the board's output), for the pairs stage; ``text`` keeps only the typed code
# (``pipeline.common.code_text``). Null for every other block.
PDF_BLOCK_SCHEMA = BLOCK_SCHEMA.append(pa.field("repl_session", pa.string()))
# Source files add where they came from and their content hash.
SOURCE_SCHEMA = BLOCK_SCHEMA.append(pa.field("path", pa.string())).append(pa.field("sha256", pa.string()))
