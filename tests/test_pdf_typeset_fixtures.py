"""The committed typeset fixtures (``data/typeset_fixtures``): each PDF against its own source.

The PDFs were made by ``scripts/make_typeset_fixtures.py`` with real typesetters (headless
Chromium, WeasyPrint, Sphinx's LaTeX builder with xelatex, pandoc with ``listings``); the
sources' fenced blocks are the ground truth, so these tests need none of the toolchains.
Every fixture has nested indents, a REPL session with ``...`` continuation prompts and
printed output, two listings set right after each other, a listing that crosses a page
and lines too long for the column, wrapped by the typesetter in its own way.
"""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.common.code_text import is_repl_session
from pipeline.pdf.blocks import Block, write_blocks_parquet
from pipeline.pdf.extract import extract_blocks
from pipeline.pdf.layout import CONTINUATION_NOTE
from pipeline.pdf.scoring import FENCE, as_kept, normalize_block, score_blocks, truth_blocks

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "typeset_fixtures"
PDFS = sorted(FIXTURES.glob("*.pdf"))
TYPESETTERS = {"chromium", "weasyprint", "sphinx", "pandoc"}
# Wrap marks a typesetter draws (Sphinx's visible space and hook; the hook's two glyphs
# extracted as a comma and an arrow), none of which may be left inside a listing.
WRAP_MARKS = ("\u2423", "\u21aa", ",\u2192")


@pytest.fixture(scope="module", params=PDFS, ids=lambda path: path.stem)
def fixture_blocks(request) -> tuple[Path, list[Block]]:
    pdf: Path = request.param
    return pdf, extract_blocks(pdf, pdf.stem)


def code_of(blocks: list[Block]) -> list[str]:
    return [block.text for block in blocks if block.kind == "code"]


def test_the_fixture_meets_the_accuracy_bar(fixture_blocks):
    pdf, blocks = fixture_blocks
    score = score_blocks(code_of(blocks), truth_blocks(pdf.with_suffix(".md").read_text(encoding="utf-8")))
    assert score.truth_blocks >= 5, score
    assert score.blocks_exact >= 0.98, score
    assert score.line_f1 >= 0.99, score


def test_no_listing_keeps_wrap_marks_or_continuation_notes(fixture_blocks):
    pdf, blocks = fixture_blocks
    for block in code_of(blocks):
        assert not any(mark in block for mark in WRAP_MARKS), (pdf.name, block)
        assert not any(CONTINUATION_NOTE.search(line) for line in block.split("\n")), (pdf.name, block)


def test_the_blocks_table_keeps_the_repl_session_as_printed(fixture_blocks, tmp_path: Path):
    """The REPL block's row holds the typed code in ``text`` and the session, prompts and
    the board's output included, in ``repl_session``; every other row holds null there."""
    pdf, blocks = fixture_blocks
    write_blocks_parquet(blocks, tmp_path / "blocks.parquet")
    rows = pq.read_table(tmp_path / "blocks.parquet").to_pylist()
    sessions = [
        normalize_block(m.group(2))
        for m in FENCE.finditer(pdf.with_suffix(".md").read_text(encoding="utf-8"))
        if is_repl_session(m.group(2).split("\n"))
    ]
    repl_rows = [row for row in rows if row["repl_session"] is not None]
    assert sessions and [row["repl_session"] for row in repl_rows] == sessions
    assert [row["text"] for row in repl_rows] == [as_kept(session) for session in sessions]
    assert all(row["kind"] == "code" for row in repl_rows)


def test_every_typesetter_has_a_fixture_with_its_source():
    assert {pdf.stem.rsplit("_", 1)[-1] for pdf in PDFS} >= TYPESETTERS, PDFS
    assert all(pdf.with_suffix(".md").is_file() for pdf in PDFS), PDFS
