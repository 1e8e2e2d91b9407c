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
