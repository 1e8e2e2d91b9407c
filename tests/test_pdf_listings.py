"""Listing layouts seen in real typeset books, rebuilt from synthetic PDFs drawn glyph by glyph.

The PDF below imitates an Asciidoctor listing: line numbers right-aligned to width 2,
words drawn at their x positions with no space glyphs between them, comments in a
slightly narrower monospace face (like RobotoMono-Italic, 0.586 em against 0.600 em),
and long source lines wrapped by the typesetter onto an unnumbered continuation line.
"""

from pathlib import Path

from fpdf import FPDF

from pipeline.pairs.mpy_compile import compile_one
from pipeline.pdf.code import strip_line_numbers
from pipeline.pdf.extract import extract_blocks
from pipeline.pdf.layout import Glyph, TextLine, remove_running_lines

CODE_SIZE = 10.0
COMMENT_SIZE = 9.77  # Courier at this size advances 5.862 pt, 2.3 % less than at 10 pt
COURIER_EM = 0.6  # Courier's advance width, 600/1000 em (Adobe core font metrics)
LEFT, TOP, PITCH = 60.0, 120.0, 12.0

# (line number or None for a wrapped continuation, code column, text); "#" starts a comment.
LISTING = [
    (1, 0, "import machine"),
    (2, 0, "import time"),
    (3, 0, ""),
    (4, 0, "led = machine.Pin(25,"),
    (None, 0, "machine.Pin.OUT)"),
    (5, 0, ""),
    (6, 0, "def blink(times, delay_ms=250):"),
    (7, 4, "# toggle the on board LED a number of times and then leave it"),
    (None, 0, "switched off for good"),
    (8, 4, "for _ in range(times):"),
    (9, 8, "led.toggle()"),
    (10, 8, "time.sleep_ms(delay_ms)   # wait a while before the next toggle"),
    (11, 4, "led.value(0)"),
    (12, 0, "blink(3)"),
]
EXPECTED = """import machine
import time

led = machine.Pin(25,machine.Pin.OUT)

def blink(times, delay_ms=250):
    # toggle the on board LED a number of times and then leave it switched off for good
    for _ in range(times):
        led.toggle()
        time.sleep_ms(delay_ms)   # wait a while before the next toggle
    led.value(0)
blink(3)"""


def draw_words(pdf: FPDF, x: float, y: float, text: str, size: float) -> None:
    """Each word at its monospace position, without drawing the spaces between words."""
    pdf.set_font("Courier", size=size)
    advance = COURIER_EM * size
    column = 0
    for word in text.split(" "):
        if word:
            pdf.text(x + column * advance, y, word)
        column += len(word) + 1


def listing_pdf(path: Path) -> Path:
    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.text(LEFT, TOP - 2 * PITCH, "The program below blinks the on-board LED a few times.")
    gutter = 3  # "12" right-aligned to two columns, then one space
    advance = COURIER_EM * CODE_SIZE
    for row, (number, indent, text) in enumerate(LISTING):
        y = TOP + row * PITCH
        if number is not None:
            draw_words(pdf, LEFT, y, str(number).rjust(2), CODE_SIZE)
        code, _, comment = text.partition("#")
        x = LEFT + (gutter + indent) * advance
        draw_words(pdf, x, y, code, CODE_SIZE)
        if comment:
            draw_words(pdf, x + len(code) * advance, y, "#" + comment, COMMENT_SIZE)
    pdf.output(str(path))
    return path


def test_numbered_listing_with_gaps_mixed_advances_and_wraps_comes_out_exactly(tmp_path: Path):
    blocks = extract_blocks(listing_pdf(tmp_path / "listing.pdf"), "listing")
    code = [block.text for block in blocks if block.kind == "code"]
    assert code == [EXPECTED]
    assert compile_one(code[0]).ok


def test_right_aligned_numbers_are_stripped_and_wrapped_lines_joined():
    numbered = [" 9 x = f(a,", "   b)", "10 if not", "   ready:", "11     pass"]
    assert strip_line_numbers(numbered) == ["x = f(a,b)", "if not ready:", "    pass"]


def test_text_inside_the_gutter_means_the_listing_is_not_numbered():
    lines = ["1 apple", "2 pear", "total: 2"]
    assert strip_line_numbers(lines) == lines


def test_footers_ending_in_the_printed_page_number_are_dropped_but_listing_numbers_stay():
    def line(page: int, top: float, text: str, mono: bool = False) -> TextLine:
        glyph = Glyph(text[0], "Courier" if mono else "Roboto", 8.0, 50.0, 55.0, top, top + 8, 5.0)
        return TextLine(page, top, top + 8, [glyph], mono=mono, size=8.0, text=text)

    titles = ["Getting started", "Blink an LED", "Blink an LED", "Using the ADC"]
    footers = [line(page, 810.0, f"{title} {page + 1}") for page, title in enumerate(titles, start=1)]
    body = [line(page, 400.0, "Body text.") for page in range(1, 5)]
    listing_number = line(2, 800.0, "7", mono=True)  # a blank listing line at the page bottom
    kept = remove_running_lines(footers + body + [listing_number], {page: 842.0 for page in range(1, 5)})
    assert kept == body + [listing_number]
