"""Typesetter furniture inside listings, on glyphs laid out the way Sphinx's LaTeX builder sets them.

Sphinx (xelatex) wraps a long code line with a visible-space box at the row end when it
broke at a space, and a hook on the continuation row drawn as two glyphs of math fonts (an
arrow from CMSY5, a comma from CMMI5 set slightly lower). A listing split by a page gets
"(continues on next page)" below its last row and "(continued from previous page)" above
its first row on the next page. Measured on the MicroPython docs PDFs in ../shared/realpdf.
"""

from pipeline.pdf.layout import Glyph, PageGlyphs, group_lines, remove_running_lines
from pipeline.pdf.structure import lines_to_blocks

MONO, SIZE, ADVANCE = "FreeMono", 8.97, 5.38
LEFT, PITCH = 72.0, 10.96
PAGE_HEIGHT = 792.0


def row(text: str, top: float, x: float = LEFT, font: str = MONO) -> list[Glyph]:
    return [
        Glyph(ch, font, SIZE, x + i * ADVANCE, x + (i + 1) * ADVANCE, top, top + SIZE, ADVANCE)
        for i, ch in enumerate(text)
    ]


def hook(top: float) -> list[Glyph]:
    """Sphinx's continuation hook: CMSY5 arrow and a smaller CMMI5 comma 3.2 pt lower."""
    return [
        Glyph("→", "CMSY5", SIZE, LEFT + 4.0, LEFT + 9.0, top, top + SIZE, 5.0),
        Glyph(",", "CMMI5", 4.98, LEFT + 2.9, LEFT + 5.2, top + 3.2, top + 3.2 + 4.98, 2.3),
    ]


def prose(text: str, top: float, x: float = LEFT) -> list[Glyph]:
    return row(text, top, x, font="FreeSerif")


def code_blocks(pages: list[list[Glyph]]) -> list[str]:
    glyph_pages = [PageGlyphs(n, PAGE_HEIGHT, glyphs, 0) for n, glyphs in enumerate(pages, start=1)]
    lines = [line for page in glyph_pages for line in group_lines(page, {MONO})]
    lines = remove_running_lines(lines, {page.number: page.height for page in glyph_pages})
    return [block.text for block in lines_to_blocks(lines, "doc", {}) if block.kind == "code"]


def test_a_row_wrapped_at_a_space_is_joined_with_its_space():
    top = 200.0
    glyphs = (
        prose("Deploy the firmware:", top - 2 * PITCH)
        + row("esptool.py write_flash 0\u2423", top)
        + hook(top + PITCH)
        + row("firmware.bin", top + PITCH, x=LEFT + 10.0)
        + prose("Then reset the board.", top + 3 * PITCH)
    )
    assert code_blocks([glyphs]) == ["esptool.py write_flash 0 firmware.bin"]


def test_a_row_wrapped_after_a_comma_is_joined_without_a_space():
    top = 200.0
    glyphs = (
        row("spi = SPI(1, sck=Pin(14),", top) + hook(top + PITCH) + row("mosi=Pin(15))", top + PITCH, x=LEFT + 10.0)
    )
    assert code_blocks([glyphs]) == ["spi = SPI(1, sck=Pin(14),mosi=Pin(15))"]


def test_two_real_lines_are_never_joined():
    # The first row even ends in the visible-space glyph, but the next row has no hook.
    top = 200.0
    glyphs = row("x = 1\u2423", top) + row("y = 2", top + PITCH)
    assert code_blocks([glyphs]) == ["x = 1\u2423\ny = 2"]


def test_a_comma_in_prose_font_before_inline_code_is_not_a_wrap_mark():
    top = 200.0
    glyphs = row("a = 1", top) + prose(", then", top + PITCH) + row("b = 2", top + PITCH, x=LEFT + 40)
    assert code_blocks([glyphs]) == ["a = 1"]


def test_a_listing_split_by_a_page_is_one_block_with_its_blank_line_and_no_notes():
    first = (
        row("import time", 640.0)
        + row("import machine", 640.0 + PITCH)
        + row("def demo(np):", 640.0 + 3 * PITCH)
        + row("    n = np.n", 640.0 + 4 * PITCH)
        + prose("(continues on next page)", 640.0 + 5 * PITCH + 1.5, x=463.6)
    )
    # Sphinx sets the first row one pitch below the note; two pitches: a blank line went first.
    second = prose("(continued from previous page)", 75.0, x=441.8) + row("    # cycle", 75.0 + 2 * PITCH + 1.0)
    assert code_blocks([first, second]) == ["import time\nimport machine\n\ndef demo(np):\n    n = np.n\n\n    # cycle"]


def test_without_notes_a_page_break_adds_no_blank_line():
    first = row("for i in range(3):", 700.0)
    second = row("    print(i)", 90.0)
    assert code_blocks([first, second]) == ["for i in range(3):\n    print(i)"]


# LaTeX ``listings`` (pandoc --listings): no background, rows broken at the text column's
# right edge continue at the package's 20 pt break indent, and two listings in a row are
# apart by its skips, off the rows' baseline grid.
COLUMN_RIGHT = LEFT + 80 * ADVANCE


def text_column(top: float) -> list[Glyph]:
    """A justified prose line: it reaches the column's right edge."""
    return prose("x" * 80, top)


def test_a_listings_row_broken_at_the_column_edge_is_joined_to_its_break_indent_row():
    top = 200.0
    first = "calibration = struct.unpack(" + '"<' + "H" * 40 + '", raw) +'
    assert LEFT + (len(first) + 6) * ADVANCE > COLUMN_RIGHT  # "tuple(" would not have fitted
    glyphs = text_column(top - 3 * PITCH) + row(first, top) + row("tuple(extra)", top + PITCH, x=LEFT + 20.0)
    assert code_blocks([glyphs]) == [f"{first} tuple(extra)"]


def test_a_real_line_ending_at_the_column_edge_is_not_joined_to_the_next():
    top = 200.0
    first = "value = sensor.read()  # " + "raw counts " * 5
    first = first[:78].rstrip()
    glyphs = text_column(top - 3 * PITCH) + row(first, top) + row("print(value)", top + PITCH)
    assert code_blocks([glyphs]) == [f"{first}\nprint(value)"]


def test_listings_apart_by_more_than_whole_rows_are_two_blocks():
    top = 200.0
    first = row("a = 1", top) + row("b = 2", top + PITCH)
    glyphs = first + row("c = 3", top + 3 * PITCH + 0.9) + row("d = 4", top + 4 * PITCH + 0.9)
    assert code_blocks([glyphs]) == ["a = 1\nb = 2", "c = 3\nd = 4"]
    glyphs = first + row("c = 3", top + 3 * PITCH) + row("d = 4", top + 4 * PITCH)
    assert code_blocks([glyphs]) == ["a = 1\nb = 2\n\nc = 3\nd = 4"]


def test_cells_wider_than_the_glyphs_give_the_indent_in_cells():
    # listings' columns=fixed: 0.6 em cells around Latin Modern Mono's 0.525 em glyphs.
    cell, glyph = 5.38, 4.71

    def fixed_row(text: str, top: float) -> list[Glyph]:
        return [
            Glyph(ch, MONO, SIZE, LEFT + i * cell + 0.33, LEFT + i * cell + 0.33 + glyph, top, top + SIZE, glyph)
            for i, ch in enumerate(text)
            if ch != " "  # listings draws no space glyphs
        ]

    glyphs = fixed_row("def f():", 200.0) + fixed_row("        return 1", 200.0 + PITCH)
    assert code_blocks([glyphs]) == ["def f():\n        return 1"]


def test_a_blank_row_at_the_foot_or_head_of_a_page_is_kept_for_a_listing_on_no_background():
    foot, head = 760.0, 90.0  # where a full page's last line ends; where a page's first listing row starts
    full_page = prose("A page of prose that runs to the foot of the text area.", foot - SIZE)
    # One empty row fits below the listing's last row on page 2, and one sits above its
    # first row on page 3 (page 4 opens with a listing row at the head of the text area).
    last = foot - PITCH - SIZE
    listing = prose("Text.", head) + row("import os", last - PITCH) + row("import time", last)
    rest = row("led = 1", head + PITCH) + prose("More text.", head + 3 * PITCH)
    other = row("pass", head) + prose("The end.", head + 2 * PITCH)
    blocks = code_blocks([full_page, listing, rest, other])
    assert blocks == ["import os\nimport time\n\n\nled = 1", "pass"]
