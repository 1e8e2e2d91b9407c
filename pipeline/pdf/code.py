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
from pipeline.pdf.blocks import is_python
from pipeline.pdf.layout import BLANKS, TextLine

VISIBLE_SPACE = "\u2423"  # the open box Sphinx prints where it broke a line at a space
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

    A gap of k line pitches between two lines of the same page holds k - 1 empty lines.
    A row the typesetter marked as a wrap (``TextLine.continued``) is joined to the row
    above; so is an unmarked wrap (``_soft_wrap``).
    """
    inked = [g for line in lines for g in line.glyphs if g.text not in BLANKS]
    left = min(g.x0 for g in inked)
    advance = _advance(lines)
    out: list[str] = []
    for previous, line in zip([None, *lines], lines):
        row = _columns(line, left, advance)
        if previous is not None and line.continued:
            out[-1] = join_marked_wrap(out[-1], row)
            continue
        if previous is not None and _soft_wrap(previous, line, left, advance, out, row):
            out[-1] = f"{out[-1].rstrip()} {row.strip()}"
            continue
        if previous is not None and pitch > 0:
            out.extend([""] * _blank_rows(previous, line, pitch))
        out.append(row)
    return out


def _soft_wrap(previous: TextLine, line: TextLine, left: float, advance: float, rows: list[str], row: str) -> bool:
    """Whether ``line`` is the rest of ``previous`` wrapped by the typesetter without a mark.

    Browsers wrap ``white-space: pre-wrap`` code at a space when the next word would
    cross the code box's right edge (its padding taken equal to the left one), and start
    the rest at the box's left. Both must hold, and the join must be what the code needs:
    the rows so far parse as Python only when joined, or the row leaves a bracket open.
    Two real lines are never joined on geometry alone.
    """
    box = previous.box
    if box is None or box != line.box or previous.page != line.page or not row.strip() or row[0] == " ":
        return False
    right_edge = box[2] - (left - box[0])
    next_word = len(row.split(" ", 1)[0])
    if previous.glyphs[-1].x1 + (next_word + 1) * advance <= right_edge:
        return False  # the next word would have fitted on the row: a real line break
    split, joined = "\n".join([*rows, row]), "\n".join([*rows[:-1], f"{rows[-1].rstrip()} {row.strip()}"])
    if is_python(dedent_text(joined)) and not is_python(dedent_text(split)):
        return True
    last = rows[-1]
    return sum(last.count(c) for c in "([{") > sum(last.count(c) for c in ")]}")


def dedent_text(text: str) -> str:
    return "\n".join(dedent_lines(text.split("\n")))


def _blank_rows(previous: TextLine, line: TextLine, pitch: float) -> int:
    """Empty source lines between two rows of a listing.

    On one page: a gap of k pitches holds k - 1. Across a page break, the gaps to the
    typesetter's "continues on next page" / "continued from previous page" notes are
    measured (Sphinx sets each note one pitch from the nearest row); without notes
    nothing can be inferred, so none are added.
    """

    def rows(gap: float) -> int:
        return max(0, round(gap / pitch) - 1)

    if previous.page == line.page:
        return rows(line.top - previous.top)
    below = rows(previous.note_below - previous.top) if previous.note_below is not None else 0
    above = rows(line.top - line.note_above) if line.note_above is not None else 0
    return below + above


def join_marked_wrap(row: str, continuation: str) -> str:
    """A source line the typesetter wrapped with marks, put back together.

    Sphinx ends a row broken at a space with a visible-space glyph (the space itself) and
    a row broken after other characters with nothing; the continuation row's own
    indentation is the typesetter's, not the source's.
    """
    row = row.rstrip()
    if row.endswith(VISIBLE_SPACE):
        row = row[: -len(VISIBLE_SPACE)] + " "
    return row + continuation.lstrip()


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
