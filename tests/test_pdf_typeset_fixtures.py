"""The committed typeset fixtures (``data/typeset_fixtures``): each PDF against its own source.

The PDFs were made by ``scripts/make_typeset_fixtures.py`` with real typesetters (headless
Chromium so far); the sources' fenced blocks are the ground truth, so these tests need
none of the toolchains.
"""

from pathlib import Path

import pytest

from pipeline.pdf.extract import extract_blocks
from pipeline.pdf.scoring import score_blocks, truth_blocks

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "typeset_fixtures"
SOURCES = sorted(FIXTURES.glob("*.md"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_every_listing_of_the_fixture_is_recovered_exactly(source: Path):
    code = [block.text for block in extract_blocks(source.with_suffix(".pdf"), source.stem) if block.kind == "code"]
    score = score_blocks(code, truth_blocks(source.read_text(encoding="utf-8")))
    # Every fixture has nested indents, a REPL session, adjacent listings, a page-crossing
    # listing and a line wrapped by the typesetter; all of them come back exactly.
    assert score.exact_blocks == score.truth_blocks, score
    assert score.line_precision == 1.0, score


def test_there_are_fixtures():
    assert SOURCES, f"no fixture sources in {FIXTURES}"
