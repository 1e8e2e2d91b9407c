from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.common.code_text import repl_typed_lines
from pipeline.pairs.mpy_compile import compile_one
from pipeline.pdf.blocks import Block, blocks_to_markdown, reflow_prose
from pipeline.pdf.code import strip_line_numbers
from pipeline.pdf.extract import ExtractionLimits, build_pdf_document, extract_blocks, extract_pdf_isolated
from pipeline.pdf.layout import Glyph, PageGlyphs, monospace_fonts
from scripts.make_sample_pdfs import SampleDocument, listing_ground_truth, make_sample_pdfs, parse_sample_markdown

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "data" / "pdf_sources"
PDFS = REPO / "data" / "pdfs"
SAMPLE_STEMS = sorted(p.stem for p in SOURCES.glob("*.md"))


def source(stem: str) -> SampleDocument:
    return parse_sample_markdown((SOURCES / f"{stem}.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def extracted() -> dict[str, list[Block]]:
    return {stem: extract_blocks(PDFS / f"{stem}.pdf", stem, ExtractionLimits()) for stem in SAMPLE_STEMS}


def test_sample_inbox_has_enough_varied_listings():
    docs = [source(stem) for stem in SAMPLE_STEMS]
    code = [b for d in docs for b in d.blocks if b.kind == "code"]
    assert 3 <= len(docs) <= 5 and len(code) >= 25
    assert any(b.lang == "pycon" for b in code)
    assert any(b.crosses_page for b in code)
    assert any(d.listing_numbers for d in docs) and any(not d.outline for d in docs)


def test_every_sample_listing_compiles_with_mpy_cross():
    for stem in SAMPLE_STEMS:
        for block in source(stem).blocks:
            if block.kind == "code":
                result = compile_one(listing_ground_truth(block), march="xtensawin")
                assert result.ok, f"{stem}: {result.error_type}: {result.message}\n{block.text}"


def test_code_blocks_come_out_exactly(extracted):
    expected = [
        (stem, listing_ground_truth(b)) for stem in SAMPLE_STEMS for b in source(stem).blocks if b.kind == "code"
    ]
    got = {stem: [b.text for b in blocks if b.kind == "code"] for stem, blocks in extracted.items()}
    exact = [code in got[stem] for stem, code in expected]
    assert sum(exact) / len(exact) >= 0.98, [code for (stem, code), ok in zip(expected, exact) if not ok]
    assert sum(len(codes) for codes in got.values()) == len(expected), "no extra code blocks"


def test_headings_and_levels_match_the_sources(extracted):
    for stem in SAMPLE_STEMS:
        want = [(b.level, b.text) for b in source(stem).blocks if b.kind == "heading"]
        assert [(b.level, b.text) for b in extracted[stem] if b.kind == "heading"] == want, stem


def test_running_headers_footers_and_page_numbers_are_removed(extracted):
    for stem in SAMPLE_STEMS:
        title = source(stem).title
        texts = [b.text for b in extracted[stem]]
        assert texts.count(title) == 1, f"{stem}: the running title header leaked"
        assert not any(t.startswith("Page ") for t in texts), stem


def test_inline_code_stays_in_prose(extracted):
    prose = [b.text for b in extracted["esp32_first_steps"] if b.kind == "prose"]
    assert any("through duty_u16()." in text for text in prose)
    expected_prose = {b.text.replace("`", "") for b in source("esp32_first_steps").blocks if b.kind == "prose"}
    assert set(prose) == expected_prose


def test_blocks_are_in_order_with_pages(extracted):
    blocks = extracted["rp2040_peripherals"]
    assert [b.seq for b in blocks] == list(range(len(blocks)))
    assert blocks[0].page == 1 and blocks[-1].page > 1
    assert [b.page for b in blocks] == sorted(b.page for b in blocks)


def test_width_test_finds_monospace_fonts_whatever_their_name():
    def glyphs(font: str, widths: dict[str, float]) -> list[Glyph]:
        return [Glyph(ch, font, 10.0, i * 6.0, i * 6.0 + w, 0, 10, w) for i, (ch, w) in enumerate(widths.items())]

    letters = "abcdefghijkl"
    fixed = glyphs("F1", {ch: 6.0 for ch in letters})
    proportional = glyphs("F2", {ch: 4.0 + (i % 3) for i, ch in enumerate(letters)})
    symbols = glyphs("F3", {ch: 6.0 for ch in "abc"})  # too few glyphs to judge
    named = glyphs("ABCDEF+RobotoMono-Regular", {"a": 6.0})
    page = PageGlyphs(1, 800.0, fixed + proportional + symbols + named, 0)
    assert monospace_fonts([page]) == {"F1", "ABCDEF+RobotoMono-Regular"}


def test_reflow_joins_lines_and_removes_hyphenation():
    lines = ["The micro-", "controller drives the ESP-", "IDF build, a well-", "known tool."]
    assert reflow_prose(lines) == "The microcontroller drives the ESP-IDF build, a wellknown tool."


def test_line_numbers_and_repl_prompts_are_stripped():
    numbered = [" 9 def f():", "10     return 1", "11", "12 f()"]
    assert strip_line_numbers(numbered) == ["def f():", "    return 1", "", "f()"]
    data_rows = ["1 2 3", "5 6 7"]  # not consecutive: left alone
    assert strip_line_numbers(data_rows) == data_rows
    session = [">>> for i in range(2):", "...     print(i)", "...", "0", "1", ">>> x = 1"]
    assert repl_typed_lines(session) == ["for i in range(2):", "    print(i)", "", "x = 1"]


def test_markdown_fences_python_only_when_it_parses():
    blocks = [
        Block("d", "heading", 2, "Blink", 1, 0),
        Block("d", "prose", 0, "To blink the LED, toggle it.", 1, 1),
        Block("d", "code", 0, "led.value(1)", 1, 2),
        Block("d", "code", 0, "$ mpremote run blink.py (", 1, 3),
    ]
    assert blocks_to_markdown(blocks) == (
        "## Blink\n\nTo blink the LED, toggle it.\n\n```python\nled.value(1)\n```\n\n"
        "```\n$ mpremote run blink.py (\n```\n"
    )


def test_isolated_build_writes_the_contract_files(tmp_path: Path, extracted):
    stem = "rp2040_peripherals"
    meta = build_pdf_document(PDFS / f"{stem}.pdf", stem, tmp_path, ExtractionLimits(timeout_s=60))
    table = pq.read_table(tmp_path / "blocks.parquet")
    assert table.column_names == ["doc_id", "kind", "level", "text", "page", "seq", "repl_session"]
    sessions = [row for row in table.to_pylist() if row["repl_session"] is not None]
    assert all(row["kind"] == "code" and row["repl_session"].startswith(">>>") for row in sessions), sessions
    assert table.column("text").to_pylist() == [b.text for b in extracted[stem]]
    markdown = (tmp_path / "document.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Talking to Peripherals") and markdown.count("```python") == 7
    assert meta["pages"] == 4 and meta["code_blocks"] == 7 and meta["blocks"] == table.num_rows


def test_script_regenerates_pdfs_that_extract_the_same(tmp_path: Path, extracted):
    stem = "esp8266_network_lights"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / f"{stem}.md").write_text((SOURCES / f"{stem}.md").read_text(encoding="utf-8"), encoding="utf-8")
    [pdf] = make_sample_pdfs(tmp_path / "src", tmp_path / "out")
    assert pdf.read_bytes() == (PDFS / f"{stem}.pdf").read_bytes(), "committed sample PDF is stale: rerun the script"
    assert extract_pdf_isolated(pdf, stem) == extracted[stem]
