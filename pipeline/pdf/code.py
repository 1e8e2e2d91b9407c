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
from dataclasses import dataclass

from pipeline.common.code_text import dedent_lines, is_repl_session, repl_typed_lines
from pipeline.pdf.blocks import is_python
from pipeline.pdf.layout import BLANKS, TextLine

VISIBLE_SPACE = "\u2423"  # the open box Sphinx prints where it broke a line at a space
LINE_NUMBER = re.compile(r"^ *(\d+)(?= |$)")
MIN_NUMBERED_LINES = 2
# A step between neighbouring glyphs up to this many advances is one cell (two would be a skipped space).
CELL_STEP_LIMIT = 1.5
# How far (in cells) a row's start may sit off the listing's column grid and still be a source
# column: LaTeX ``listings`` starts a wrapped row at a 20 pt break indent, 0.3 cell off the grid.
GRID_SLACK = 0.15
OPENERS, CLOSERS = ("(", "[", "{"), (")", "]", "}")


def _advance(lines: list[TextLine]) -> float:
    """The block's monospace cell width: the most common step between neighbouring glyphs.

    Usually that is the glyph advance, but LaTeX ``listings`` with ``columns=fixed`` sets
    each character in a cell of its own ``basewidth`` (0.6 em) whatever the font's advance
    (0.525 em for Latin Modern Mono), so indents counted in advances come out one in eight
    too wide. The step from one glyph's left edge to the next one's is the cell either way;
    without two neighbouring glyphs the advance is all there is.
    """
    advances = Counter(round(g.adv, 2) for line in lines for g in line.glyphs if g.text not in BLANKS)
    advance = advances.most_common(1)[0][0]
    steps = Counter(
        round(b.x0 - a.x0, 2)
        for line in lines
        for a, b in zip(line.glyphs, line.glyphs[1:])
        if advance * 0.9 <= b.x0 - a.x0 <= advance * CELL_STEP_LIMIT
    )
    return steps.most_common(1)[0][0] if steps else advance


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


def layout_code_lines(lines: list[TextLine], pitch: float, frame: TextFrame | None = None) -> list[str]:
    """Lines of a code block as text, with blank lines restored from vertical gaps.

    A gap of k line pitches between two lines of the same page holds k - 1 empty lines.
    A row the typesetter marked as a wrap (``TextLine.continued``) is joined to the row
    above; so is an unmarked wrap (``_soft_wrap``), unless the row is the source's own
    continuation of a bracket left open (``_bracket_continuation``).
    """
    inked = [g for line in lines for g in line.glyphs if g.text not in BLANKS]
    left = min(g.x0 for g in inked)
    advance = _advance(lines)
    out: list[str] = []
    openers: list[float] = []
    statement_x = left  # where the source line now open starts
    for previous, line in zip([None, *lines], lines):
        row = _columns(line, left, advance)
        if previous is not None and line.continued:
            out[-1] = join_marked_wrap(out[-1], row)
        elif (
            previous is not None
            and not _bracket_continuation(previous, line, openers, statement_x, left, advance)
            and _soft_wrap(previous, line, left, advance, out, row)
        ):
            out[-1] = join_unmarked_wrap(out[-1], row, previous.glyphs[-1].text in BLANKS)
        else:
            if previous is not None and pitch > 0:
                out.extend([""] * _blank_rows(previous, line, pitch, frame or TextFrame()))
            out.append(row)
            if not openers:
                statement_x = _first_inked(line).x0
        openers = _open_brackets(line.glyphs, openers, advance)
    return out


def _first_inked(line: TextLine):
    return next(g for g in line.glyphs if g.text not in BLANKS)


def _open_brackets(glyphs, openers: list[float], advance: float) -> list[float]:
    """``openers`` (where a row aligned under each bracket still open starts: the cell after
    it, innermost last) carried over one more row; brackets in quotes or a comment do not count."""
    openers = list(openers)
    quote = None
    for i, g in enumerate(glyphs):
        if quote is not None:
            quote = None if g.text == quote else quote
        elif g.text in ("'", '"'):
            quote = g.text
        elif g.text == "#":
            break
        elif g.text in OPENERS:
            openers.append(glyphs[i + 1].x0 if i + 1 < len(glyphs) else g.x0 + advance)
        elif g.text in CLOSERS and openers:
            openers.pop()
    return openers


def _bracket_continuation(
    previous: TextLine, line: TextLine, openers: list[float], statement_x: float, left: float, advance: float
) -> bool:
    """Whether ``line`` is a source line of its own inside a bracket the rows above left open.

    PEP 8 continues a bracketed expression on a row aligned under the opening bracket
    (``network.LAN(mdc=...,`` / ``phy_type=...``) or, after a bracket ending the row, on a
    row indented past the statement's start. A typesetter's wrap starts elsewhere: a
    browser's at the box's left, at or left of the statement; LaTeX ``listings``' at its
    break indent, off the column grid; Sphinx marks its own. So the row must start on the
    grid, and aligned under the innermost open bracket or, hanging, right of the statement.
    """
    if not openers:
        return False
    start = _first_inked(line).x0
    column = (start - left) / advance
    if abs(column - round(column)) > GRID_SLACK:
        return False
    if abs(start - openers[-1]) <= GRID_SLACK * advance:
        return True
    ends_open = [g for g in previous.glyphs if g.text not in BLANKS][-1].text in OPENERS
    return ends_open and start > statement_x + advance / 2


def _soft_wrap(previous: TextLine, line: TextLine, left: float, advance: float, rows: list[str], row: str) -> bool:
    """Whether ``line`` is the rest of ``previous`` wrapped by the typesetter without a mark.

    Browsers wrap ``white-space: pre-wrap`` code at a space when the next word would
    cross the code box's right edge (its padding taken equal to the left one) and start
    the rest at the box's left; LaTeX ``listings`` with ``breaklines`` wraps at the text
    column's right edge and starts the rest at its ``breakindent``. Both must hold, and
    the join must be what the code needs: the rows so far parse as Python only when
    joined, or the row leaves a bracket open. Two real lines are never joined on
    geometry alone.
    """
    box = previous.box
    if box != line.box or previous.page != line.page or not row.strip():
        return False
    right_edge = box[2] - (left - box[0]) if box is not None else previous.text_right
    next_word = len(row.split(None, 1)[0])
    if previous.glyphs[-1].x1 + (next_word + 1) * advance <= right_edge:
        return False  # the next word would have fitted on the row: a real line break
    joined = join_unmarked_wrap(rows[-1], row, previous.glyphs[-1].text in BLANKS)
    if is_python(dedent_text("\n".join([*rows[:-1], joined]))) and not is_python(dedent_text("\n".join([*rows, row]))):
        return True
    last = rows[-1]
    return sum(last.count(c) for c in "([{") > sum(last.count(c) for c in ")]}")


def join_unmarked_wrap(row: str, continuation: str, broke_at_space: bool) -> str:
    """A source line wrapped without marks, put back together.

    The break replaced a space unless the row ends in a word's hyphen (browsers break
    after one: ``no-`` + ``store``) or in an opening bracket or dot, or the rest starts
    with a closing bracket or punctuation (``listings`` breaks between any two tokens,
    and Python style puts no space there). A space glyph left hanging at the row's end
    (WeasyPrint draws it) settles it.
    """
    row, continuation = row.rstrip(), continuation.strip()
    if not broke_at_space and (re.search(r"\w-$|[(\[{.]$", row) or re.match(r"[)\]},.:]", continuation)):
        return row + continuation
    return f"{row} {continuation}"


def dedent_text(text: str) -> str:
    return "\n".join(dedent_lines(text.split("\n")))


@dataclass(frozen=True)
class TextFrame:
    """Where a document's text area ends: the lowest line bottom of any page, and the
    highest top of a listing row that opens a page (0 when none does)."""

    bottom: float = 0.0
    code_top: float = 0.0


def text_frame(lines: list[TextLine]) -> TextFrame:
    """The frame of lines with running headers and footers already removed."""
    first_on_page: dict[int, TextLine] = {}
    for line in lines:
        first_on_page.setdefault(line.page, line)
    code_tops = [line.top for line in first_on_page.values() if line.mono]
    return TextFrame(max((line.bottom for line in lines), default=0.0), min(code_tops, default=0.0))


def _blank_rows(previous: TextLine, line: TextLine, pitch: float, frame: TextFrame) -> int:
    """Empty source lines between two rows of a listing.

    On one page: a gap of k pitches holds k - 1. Across a page break, the gaps to the
    typesetter's "continues on next page" / "continued from previous page" notes are
    measured (Sphinx sets each note one pitch from the nearest row). Without notes, for
    a listing on no background (LaTeX ``listings``), whole pitches between its last row
    and the foot of the text area, and between the text area's head and its first row on
    the next page, are empty source lines: TeX breaks a ragged-bottom page as late as it
    can and keeps an empty row that falls at the head of the next one. A listing in a box
    has its own padding, so nothing is inferred there.
    """

    def rows(gap: float) -> int:
        return max(0, round(gap / pitch) - 1)

    if previous.page == line.page:
        return rows(line.top - previous.top)
    if previous.note_below is None and line.note_above is None:
        if previous.box is not None or line.box is not None:
            return 0
        above = round((line.top - frame.code_top) / pitch) if frame.code_top else 0
        return max(0, round((frame.bottom - previous.bottom) / pitch)) + max(0, above)
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


def code_block_text(lines: list[TextLine], pitch: float, frame: TextFrame) -> tuple[str, str | None]:
    """Final text of a listing (columns rebuilt, gutter and REPL prompts removed, trimmed)
    and, when it is a REPL session, the session as printed (prompts and output kept).
    ``frame`` places blank rows at a page break (``_blank_rows``)."""
    rows = dedent_lines(strip_line_numbers(layout_code_lines(lines, pitch, frame)))
    session = _trimmed(rows) if is_repl_session(rows) else None
    return _trimmed(dedent_lines(repl_typed_lines(rows))), session


def _trimmed(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n")
