"""Page geometry for PDF extraction: glyphs -> text lines, monospace fonts, running headers.

Everything here works on plain data read from pdfplumber (``Glyph`` tuples), so the
layout rules are testable without a PDF and the PDF pages can be closed right after
reading (pdfplumber keeps ~3.7 MB per unclosed page; see docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

# Monospace font families by name, after the subset prefix ("ABCDEF+") is stripped.
MONO_FONT_NAME = re.compile(
    r"courier|mono|consol|menlo|inconsolata|sourcecode|lucidaconsole|cmtt|sfmono|firacode|andale|typewriter",
    re.IGNORECASE,
)
BOLD_FONT_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
# A font whose glyphs all share one advance (relative to size) over at least this many
# distinct letters/digits is monospace whatever its name; fewer glyphs could be a symbol font.
MIN_GLYPHS_FOR_WIDTH_TEST = 10
LINE_Y_TOLERANCE = 3.0  # points; pdfplumber's own default y_tolerance
RUNNING_BAND = 0.08  # top/bottom fraction of the page where headers and footers live
PAGE_NUMBER = re.compile(r"(page\s*)?\d+(\s*(/|of)\s*\d+)?", re.IGNORECASE)
# A printed page number at either end of a header/footer line (books put it outside: left
# on even pages, right on odd ones).
EDGE_NUMBERS = (re.compile(r"^(\d{1,5})(?:\s|$)"), re.compile(r"(?:^|\s)(\d{1,5})$"))
BLANKS = (" ", "\xa0", "\t")
# Marks a typesetter draws at the start of a wrapped code row (Sphinx draws its hook as an
# arrow from CMSY and a comma from CMMI stacked together), in a font other than the listing's.
CONTINUATION_MARKS = frozenset("↪→⤷↳⮑,")
# The notes Sphinx prints where it splits a listing across pages.
CONTINUATION_NOTE = re.compile(r"\(?\s*continue[sd]?\s+(on|from)\s+(the\s+)?(next|previous)\s+page\s*\)?", re.I)


class Glyph(NamedTuple):
    text: str
    font: str  # subset prefix removed
    size: float
    x0: float
    x1: float
    top: float
    bottom: float
    adv: float


@dataclass
class TextLine:
    page: int  # 1-based
    top: float
    bottom: float
    glyphs: list[Glyph]
    mono: bool = False
    size: float = 0.0
    bold: bool = False
    text: str = field(default="")
    continued: bool = False  # the row carries on the source line of the row above (a wrap mark)
    # Tops of the "(continued from previous page)" note right above the row and of the
    # "(continues on next page)" note right below it: where a split listing's rows stop.
    note_above: float | None = None
    note_below: float | None = None
    box: tuple[float, float, float, float] | None = None  # the innermost filled shape around the row
    text_right: float = 0.0  # the right edge of the page's widest line: the text column's, for rows in no box


@dataclass
class PageGlyphs:
    number: int  # 1-based
    height: float
    glyphs: list[Glyph]
    image_count: int
    # Filled shapes (x0, top, x1, bottom) that can hold text: code-block backgrounds and frames.
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


def monospace_fonts(pages: list[PageGlyphs]) -> set[str]:
    """Fonts that are monospace by name, or by having one advance/size over >= 10 glyphs."""
    widths: dict[str, set[float]] = defaultdict(set)
    glyph_sets: dict[str, set[str]] = defaultdict(set)
    for page in pages:
        for g in page.glyphs:
            if g.text.isalnum() and g.size > 0:
                widths[g.font].add(round(g.adv / g.size, 3))
                glyph_sets[g.font].add(g.text)
    fonts = {g.font for page in pages for g in page.glyphs}
    return {
        font
        for font in fonts
        if MONO_FONT_NAME.search(font)
        or (len(glyph_sets[font]) >= MIN_GLYPHS_FOR_WIDTH_TEST and len(widths[font]) == 1)
    }


def group_lines(page: PageGlyphs, mono_fonts: set[str]) -> list[TextLine]:
    """Cluster a page's glyphs into lines by their top edge, each sorted left to right."""
    boxes = merge_stacked_boxes(page.boxes)
    lines: list[TextLine] = []
    for g in sorted(page.glyphs, key=lambda g: (g.top, g.x0)):
        # Near the line's top, or a smaller glyph drawn inside its height (a hook mark's tail).
        inside = lines and g.bottom <= lines[-1].bottom + 0.5 and g.size < lines[-1].glyphs[0].size
        if lines and (g.top - lines[-1].top <= LINE_Y_TOLERANCE or inside):
            lines[-1].glyphs.append(g)
            lines[-1].bottom = max(lines[-1].bottom, g.bottom)
        else:
            lines.append(TextLine(page.number, g.top, g.bottom, [g]))
    for line in lines:
        line.glyphs.sort(key=lambda g: g.x0)
        _describe(line, mono_fonts)
        line.box = _enclosing_box(line, boxes)
    lines = [line for line in lines if line.text]
    text_right = max((line.glyphs[-1].x1 for line in lines), default=0.0)
    for line in lines:
        line.text_right = text_right
    return lines


def merge_stacked_boxes(boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Shapes of one width stacked edge to edge, as one: a background some writers (fpdf2
    cells, highlighted rows) draw row by row is one listing's background."""
    merged: list[tuple[float, float, float, float]] = []
    for box in sorted(boxes, key=lambda b: (round(b[0]), round(b[2]), b[1])):
        last = merged[-1] if merged else None
        if last and abs(last[0] - box[0]) < 0.5 and abs(last[2] - box[2]) < 0.5 and box[1] <= last[3] + 1.0:
            merged[-1] = (last[0], last[1], last[2], max(last[3], box[3]))
        else:
            merged.append(box)
    return merged


def _enclosing_box(line: TextLine, boxes: list[tuple[float, float, float, float]]):
    """The smallest filled shape containing the row (its background), or None."""
    middle, left = (line.top + line.bottom) / 2, line.glyphs[0].x0
    around = [b for b in boxes if b[0] <= left + 0.5 and b[1] <= middle <= b[3] and line.glyphs[-1].x1 <= b[2] + 0.5]
    return min(around, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), default=None)


def _describe(line: TextLine, mono_fonts: set[str]) -> None:
    """Fill in the line's text, dominant size, and whether it is all-monospace / all-bold."""
    inked = [g for g in line.glyphs if g.text not in BLANKS]
    if not inked:
        return
    marks = 0
    while marks < len(inked) and inked[marks].text in CONTINUATION_MARKS and inked[marks].font not in mono_fonts:
        marks += 1
    if 0 < marks < len(inked) and all(g.font in mono_fonts for g in inked[marks:]):
        line.glyphs = [g for g in line.glyphs if g.x0 >= inked[marks].x0]
        inked = inked[marks:]
        line.continued = True
    line.mono = all(g.font in mono_fonts for g in inked)
    line.bold = all(BOLD_FONT_NAME.search(g.font) for g in inked)
    line.size = Counter(g.size for g in inked).most_common(1)[0][0]
    line.text = spaced_text(line.glyphs)


def spaced_text(glyphs: list[Glyph]) -> str:
    """Glyphs joined left to right, with a space wherever a visible gap has no space glyph."""
    parts: list[str] = []
    previous: Glyph | None = None
    for g in glyphs:
        char = " " if g.text in BLANKS else g.text
        if previous is not None and g.x0 - previous.x1 > 0.2 * g.size and parts[-1] != " " and char != " ":
            parts.append(" ")
        parts.append(char)
        previous = g
    return re.sub(r" {2,}", " ", "".join(parts)).strip()


def remove_running_lines(lines: list[TextLine], page_heights: dict[int, float]) -> list[TextLine]:
    """Drop running headers/footers, page numbers and the notes at a listing split by a page.

    A line in the top or bottom band of its page is dropped when it is a bare page number
    ("12", "Page 3", "3 / 10"); when its text with digits masked repeats on at least half
    of the pages (and on two or more); or when it starts or ends in a printed page number,
    i.e. a number whose offset from the PDF page index is shared by band lines on at least
    half of the pages (a "<section title> 37" or "36 Chapter 2. <title>" footer, whose
    title changes by chapter).
    Monospace lines are kept unless they end in such a printed page number: a listing
    that continues across the band is never taken for a header, and a lone listing line
    number ("3") at the page bottom is not taken for a page number.
    """

    def in_band(line: TextLine) -> bool:
        height = page_heights[line.page]
        return line.top < RUNNING_BAND * height or line.bottom > (1 - RUNNING_BAND) * height

    def masked(line: TextLine) -> str:
        return re.sub(r"\d+", "#", line.text.lower())

    def page_offsets(line: TextLine) -> set[int]:
        # A listing row's leading number is its line number, never a page number.
        numbers = (pattern.search(line.text) for pattern in EDGE_NUMBERS[line.mono :])
        return {int(number.group(1)) - line.page for number in numbers if number}

    pages_per_text: dict[str, set[int]] = defaultdict(set)
    pages_per_offset: dict[int, set[int]] = defaultdict(set)
    for line in lines:
        if not in_band(line):
            continue
        for offset in page_offsets(line):
            pages_per_offset[offset].add(line.page)
        if not line.mono:
            pages_per_text[masked(line)].add(line.page)
    needed = max(2, len(page_heights) / 2)
    repeating = {text for text, pages in pages_per_text.items() if len(pages) >= needed}
    printed_offsets = {offset for offset, pages in pages_per_offset.items() if len(pages) >= needed}

    def running(line: TextLine) -> bool:
        if not in_band(line):
            return False
        if page_offsets(line) & printed_offsets:
            return True
        return not line.mono and (PAGE_NUMBER.fullmatch(line.text) is not None or masked(line) in repeating)

    kept: list[TextLine] = []
    note: TextLine | None = None
    for line in lines:
        if CONTINUATION_NOTE.fullmatch(line.text):
            note = line  # furniture of a split listing; its position anchors the rows next to it
            if kept and kept[-1].page == line.page:
                kept[-1].note_below = line.top
        elif not running(line):
            if note is not None and note.page == line.page:
                line.note_above = note.top
            note = None
            kept.append(line)
    return kept


def modal_pitch(lines: list[TextLine]) -> float:
    """The most common distance between consecutive lines of the same page (their line height).

    The mode is taken over distances rounded to 0.1 pt, and the result is the mean of the
    distances in that bin, so that a gap of several pitches can be measured against it.
    """
    gaps = [b.top - a.top for a, b in zip(lines, lines[1:]) if a.page == b.page and b.top > a.top]
    if not gaps:
        return 0.0
    mode = Counter(round(gap, 1) for gap in gaps).most_common(1)[0][0]
    in_mode = [gap for gap in gaps if round(gap, 1) == mode]
    return sum(in_mode) / len(in_mode)
