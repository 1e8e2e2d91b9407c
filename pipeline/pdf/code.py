"""Rebuild code listings from monospace text lines: indentation, blank lines, clean-up.

``extract_text()`` loses indentation and ``layout=True`` scales it by a fixed 7.25 pt
per column (4 Courier spaces at 9.5 pt come out as 3). Here every glyph's column is
``round((x0 - block_left) / advance)`` with the advance measured on the block's own
monospace glyphs, which is exact for any mono font size and for indents drawn as
x offsets without space glyphs.
"""

from __future__ import annotations

import re
from collections import Counter

from pipeline.common.code_text import dedent_lines, repl_typed_lines
from pipeline.pdf.layout import BLANKS, TextLine

LINE_NUMBER = re.compile(r"^ *(\d+)(?= |$)")
MIN_NUMBERED_LINES = 2


def _advance(lines: list[TextLine]) -> float:
    """Most common glyph advance of the block (its monospace cell width)."""
    advances = Counter(round(g.adv, 2) for line in lines for g in line.glyphs if g.text not in BLANKS)
    return advances.most_common(1)[0][0]


def _columns(line: TextLine, left: float, advance: float) -> str:
    """The line's glyphs placed in character cells.

    The first inked glyph's column comes from its distance to the block's left edge (the
    indentation). Every later glyph is placed relative to the end of the one before it:
    one cell per glyph (space glyphs included, NBSP read as a space) plus one space per
    advance of any gap left between them, so words stay apart when the PDF draws no space
    glyph (a gap of at least half an advance counts). Measuring from the previous glyph
    rather than from the left edge keeps errors from adding up along the line, which
    matters when a listing mixes fonts of slightly different advance (RobotoMono-Regular
    is 0.600 em, its italic used for comments 0.586 em).
    """
    out: list[str] = []
    width = 0
    previous_end: float | None = None
    for g in line.glyphs:
        if previous_end is None:
            if g.text in BLANKS:
                continue  # leading blanks: the first inked glyph's position gives the indent
            column = round((g.x0 - left) / advance)
        else:
            column = width + round((g.x0 - previous_end) / advance)
        if column > width:
            out.append(" " * (column - width))
            width = column
        text = " " if g.text in BLANKS else g.text
        out.append(text)
        width += len(text)
        previous_end = g.x1
    return "".join(out)


def layout_code_lines(lines: list[TextLine], pitch: float) -> list[str]:
    """Lines of a code block as text, with blank lines restored from vertical gaps.

    A gap of k line pitches between two lines of the same page holds k - 1 empty lines;
    across a page break nothing can be inferred, so none are added.
    """
    inked = [g for line in lines for g in line.glyphs if g.text not in BLANKS]
    left = min(g.x0 for g in inked)
    advance = _advance(lines)
    out: list[str] = []
    for previous, line in zip([None, *lines], lines):
        if previous is not None and previous.page == line.page and pitch > 0:
            out.extend([""] * max(0, round((line.top - previous.top) / pitch) - 1))
        out.append(_columns(line, left, advance))
    return out


def _join_wrapped(line: str, continuation: str) -> str:
    """A source line the typesetter wrapped, put back together.

    The break usually replaced a space, which is lost; a space is put back only where two
    word characters would otherwise merge into one token (``not`` + ``x``), since Python
    needs none between brackets, operators and commas.
    """
    if re.match(r"\w", continuation) and re.search(r"\w$", line):
        return f"{line} {continuation}"
    return line + continuation


def strip_line_numbers(lines: list[str]) -> list[str]:
    """Remove a listing's line-number gutter and rejoin lines the typesetter wrapped.

    A listing is numbered when its first line and at least two lines carry numbers
    (left- or right-aligned) counting up by one. Every source line of such a listing has
    a number, so a line without one, blank in the gutter, is the wrapped tail of the line
    above it and is joined to it.
    """
    inked = [line for line in lines if line.strip()]
    matches = [m for m in map(LINE_NUMBER.match, inked) if m]
    if len(matches) < MIN_NUMBERED_LINES or not LINE_NUMBER.match(inked[0]):
        return lines
    numbers = [int(m.group(1)) for m in matches]
    if any(b != a + 1 for a, b in zip(numbers, numbers[1:])):
        return lines
    code_column = max(m.end() for m in matches) + 1
    if any(line[:code_column].strip() for line in inked if not LINE_NUMBER.match(line)):
        return lines  # text inside the gutter: not a numbered listing after all
    out: list[str] = []
    for line in lines:
        if line.strip() and not LINE_NUMBER.match(line):
            out[-1] = _join_wrapped(out[-1].rstrip(), line.strip())
        else:
            out.append(line[code_column:])
    return out


def code_block_text(lines: list[TextLine], pitch: float) -> str:
    """Final text of a listing: columns rebuilt, gutter and REPL prompts removed, trimmed."""
    text_lines = dedent_lines(repl_typed_lines(dedent_lines(strip_line_numbers(layout_code_lines(lines, pitch)))))
    return "\n".join(line.rstrip() for line in text_lines).strip("\n")
