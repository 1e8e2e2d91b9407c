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

from pipeline.pdf_layout import BLANKS, TextLine

LINE_NUMBER = re.compile(r"^ *(\d+)(?= |$)")
REPL_PROMPTS = (">>> ", "... ")
MIN_NUMBERED_LINES = 2


def _advance(lines: list[TextLine]) -> float:
    """Most common glyph advance of the block (its monospace cell width)."""
    advances = Counter(round(g.adv, 2) for line in lines for g in line.glyphs if g.text not in BLANKS)
    return advances.most_common(1)[0][0]


def _columns(line: TextLine, left: float, advance: float) -> str:
    """The line's glyphs placed at their character columns; spaces and NBSPs come from positions."""
    out: list[str] = []
    width = 0
    for g in line.glyphs:
        if g.text in BLANKS:
            continue
        column = round((g.x0 - left) / advance)
        if column > width:
            out.append(" " * (column - width))
            width = column
        out.append(g.text)
        width += len(g.text)
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


def strip_line_numbers(lines: list[str]) -> list[str]:
    """Remove a listing's line-number gutter: every line numbered, numbers counting up by one."""
    matches = [LINE_NUMBER.match(line) for line in lines if line.strip()]
    if len(matches) < MIN_NUMBERED_LINES or not all(matches):
        return lines
    numbers = [int(m.group(1)) for m in matches]
    if any(b != a + 1 for a, b in zip(numbers, numbers[1:])):
        return lines
    code_column = max(m.end() for m in matches) + 1
    return [line[code_column:] for line in lines]


def strip_repl(lines: list[str]) -> list[str]:
    """A REPL session keeps only what was typed: prompt lines without ``>>> ``/``... ``, no output."""
    first = next((line for line in lines if line.strip()), "")
    if not first.startswith(">>>"):
        return lines
    typed = [line for line in lines if line.startswith(REPL_PROMPTS) or line in (">>>", "...")]
    return [line[4:] for line in typed]


def dedent(lines: list[str]) -> list[str]:
    """Remove the indentation common to all non-blank lines."""
    indents = [len(line) - len(line.lstrip(" ")) for line in lines if line.strip()]
    common = min(indents, default=0)
    return [line[common:] for line in lines]


def code_block_text(lines: list[TextLine], pitch: float) -> str:
    """Final text of a listing: columns rebuilt, gutter and REPL prompts removed, trimmed."""
    text_lines = dedent(strip_repl(dedent(strip_line_numbers(layout_code_lines(lines, pitch)))))
    return "\n".join(line.rstrip() for line in text_lines).strip("\n")
