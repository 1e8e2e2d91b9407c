"""Text lines -> heading, prose and code blocks.

* Code: runs of consecutive all-monospace lines (a line with inline code among prose
  glyphs stays prose, and so do an API reference's signature line, ``is_signature``, and
  a lone unboxed row where listings are boxed, ``_lone_rows``),
  split where the filled background or frame around the rows changes (two listings set
  one right after the other, on one page or across a break) or, for listings on no
  background, where a gap is off the rows' baseline grid.
  Runs continue across page breaks, because running headers, footers and continuation
  notes have already been removed, so a listing split by a page is joined again.
* Headings: lines set larger than the body size (or all bold), ranked by size into
  levels; when the PDF has an outline, a line matching an outline title takes the
  outline's level.
* Prose: lines re-flowed into paragraphs, split at vertical gaps wider than the usual
  line pitch.
"""

from __future__ import annotations

import re
from collections import Counter

from pipeline.pdf.blocks import Block, reflow_prose
from pipeline.pdf.code import code_block_text, text_frame
from pipeline.pdf.layout import BLANKS, BOLD_FONT_NAME, TextLine, modal_pitch

HEADING_SIZE_RATIO = 1.15  # a line this much larger than body text is a heading
MAX_HEADING_WORDS = 20
PARAGRAPH_GAP_RATIO = 1.4  # a gap this many prose pitches apart starts a new paragraph
SENTENCE_END = (".", "!", "?", ":")
# Points a listing row may sit off its baseline grid: glyph tops differ by up to ~0.2 pt
# between a listing's regular, bold and italic fonts (measured on the pandoc/listings PDFs).
GRID_TOLERANCE = 0.5
# A signature line as Sphinx prints it: an optional annotation, the dotted prefix, the name,
# and the parameters when all of them are in monospace (no parameter names, which are italic).
SIGNATURE = re.compile(
    r"(?:(?:class|exception|async|classmethod|staticmethod|property) )?"
    r"(?P<prefix>(?:[A-Za-z_]\w*\.)*)(?P<name>[A-Za-z_]\w*)(?P<args>\([^()]*\))?"
)


def normalize_title(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def body_size(lines: list[TextLine]) -> float:
    """Size of most non-monospace glyphs: the body text size."""
    sizes = Counter()
    for line in lines:
        if not line.mono:
            sizes[line.size] += len(line.glyphs)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _is_heading_line(line: TextLine, body: float) -> bool:
    if line.mono or len(line.text.split()) > MAX_HEADING_WORDS:
        return False
    return line.size >= body * HEADING_SIZE_RATIO or (line.bold and line.size >= body)


def _heading_levels(lines: list[TextLine], body: float) -> dict[float, int]:
    """Heading sizes ranked largest first: level 1, 2, ...; bold body-size headings rank last."""
    sizes = sorted({line.size for line in lines if _is_heading_line(line, body)}, reverse=True)
    return {size: min(rank, 6) for rank, size in enumerate(sizes, start=1)}


def is_signature(line: TextLine) -> bool:
    """Whether a monospace line is an API reference's signature ("desc") line, not code.

    Sphinx sets the object's name in bold monospace and the module or class prefix and the
    parentheses in regular monospace (``machine.`` + **reset** + ``()``, ``machine.`` +
    **mem32**); a syntax-highlighted listing bolds keywords, class and module names, and
    (LaTeX ``listings``) builtins such as ``print`` or ``cmp`` before their parentheses,
    but seldom a name right after a regular dot. So: the line is a dotted name with
    optional parameters, the name's glyphs are all bold and the prefix's and parameters'
    glyphs none, and there is a prefix.
    """
    match = SIGNATURE.fullmatch(line.text) if line.mono else None
    if match is None or not match.group("prefix"):
        return False
    inked = [g for g in line.glyphs if g.text not in BLANKS]
    if "".join(g.text for g in inked) != line.text.replace(" ", ""):
        return False  # a glyph of several characters: no character-to-glyph match

    def bold(group: str) -> list[bool]:
        if match.group(group) is None:
            return []
        start = len(line.text[: match.start(group)].replace(" ", ""))
        width = len(match.group(group).replace(" ", ""))
        return [bool(BOLD_FONT_NAME.search(g.font)) for g in inked[start : start + width]]

    return all(bold("name")) and not any(bold("prefix") + bold("args"))


def _listing_ends(previous: TextLine, line: TextLine, boxes_bottom: float, pitch: float) -> bool:
    """Whether two consecutive code rows belong to different listings, by their backgrounds
    or, on none, by their baseline grid.

    On one page: when the filled shape around them differs, or, for rows on no shape,
    when the gap between them is off the listing's baseline grid: the rows of one
    listing, blank rows included, are whole pitches apart (to ``GRID_TOLERANCE``), while
    the space LaTeX puts between two listings (``listings``' above/below skips) is
    stretchable glue that seldom comes out a whole number of rows. Across a page break:
    when the previous row's shape has its own bottom padding and closes more than a row
    above the lowest any shape reaches (the bottom margin): the listing ended on that page
    rather than running off it. Without padding (a background drawn row by row) the
    page's ragged bottom says nothing, so the rows are kept together.
    """
    if previous.page == line.page:
        gap = line.top - previous.top
        off_grid = pitch > 0 and abs(gap - round(gap / pitch) * pitch) > GRID_TOLERANCE
        return previous.box != line.box or (previous.box is None and off_grid)
    if previous.box is None:
        return False
    row = previous.bottom - previous.top
    padded = previous.box[3] - previous.bottom > row / 2  # a box drawn row by row (fpdf2 cells) has none
    return padded and previous.box[3] < boxes_bottom - row


def _runs(lines: list[TextLine], body: float, code_pitch: float) -> list[tuple[str, list[TextLine]]]:
    """Consecutive lines of one kind: ("code" | "heading" | "prose" | "label", lines); a
    label is one monospace line that is text of its own (``is_signature``, ``_lone_rows``)."""
    boxes_bottom = max((line.box[3] for line in lines if line.box), default=0.0)
    runs: list[tuple[str, list[TextLine]]] = []
    for line in lines:
        if is_signature(line):
            runs.append(("label", [line]))  # one paragraph per signature, whatever follows
            continue
        kind = "code" if line.mono else "heading" if _is_heading_line(line, body) else "prose"
        previous = runs[-1][1][-1] if runs else None
        if runs and runs[-1][0] == kind and (kind != "heading" or previous.size == line.size):
            if kind == "code" and _listing_ends(previous, line, boxes_bottom, code_pitch):
                runs.append((kind, [line]))
                continue
            runs[-1][1].append(line)
        else:
            runs.append((kind, [line]))
    return _lone_rows(runs)


def _lone_rows(runs: list[tuple[str, list[TextLine]]]) -> list[tuple[str, list[TextLine]]]:
    """Runs with each lone monospace row outside any box made a label, in a document that
    sets every listing of several rows in a box (Sphinx, browsers, Asciidoctor): such a row
    is no listing but an index entry (Sphinx's index sets ``machine`` alone above its
    ``module, 1``) or a term set in code. Where some listing has no box (LaTeX
    ``listings``), a one-row listing looks the same, so nothing changes."""
    listings = [run for kind, run in runs if kind == "code" and len(run) > 1]
    if not listings or any(line.box is None for run in listings for line in run):
        return runs
    return [("label" if kind == "code" and len(run) == 1 and run[0].box is None else kind, run) for kind, run in runs]


def _paragraphs(lines: list[TextLine], pitch: float) -> list[list[TextLine]]:
    """Split prose lines at gaps wider than the line pitch; a page break splits only after a sentence end."""
    paragraphs: list[list[TextLine]] = [[lines[0]]]
    for previous, line in zip(lines, lines[1:]):
        if previous.page == line.page:
            new = pitch > 0 and line.top - previous.top > pitch * PARAGRAPH_GAP_RATIO
        else:
            new = previous.text.endswith(SENTENCE_END)
        if new:
            paragraphs.append([line])
        else:
            paragraphs[-1].append(line)
    return paragraphs


def lines_to_blocks(lines: list[TextLine], doc_id: str, outline: dict[str, int]) -> list[Block]:
    """Classify the document's lines (in reading order) into blocks."""
    body = body_size(lines)
    levels = _heading_levels(lines, body)
    prose_pitch = modal_pitch([line for line in lines if not line.mono and line.size == body])
    code_pitch = modal_pitch([line for line in lines if line.mono])
    frame = text_frame(lines)
    blocks: list[Block] = []

    def add(kind: str, level: int, text: str, page: int, repl_session: str | None = None) -> None:
        if text:
            blocks.append(Block(doc_id, kind, level, text, page, len(blocks), repl_session))

    for kind, run in _runs(lines, body, code_pitch):
        if kind == "code":
            text, session = code_block_text(run, code_pitch, frame)
            add("code", 0, text, run[0].page, session)
        elif kind == "label":
            add("prose", 0, run[0].text, run[0].page)
        elif kind == "heading":
            title = " ".join(line.text for line in run)
            level = outline.get(normalize_title(title), levels[run[0].size])
            add("heading", level, title, run[0].page)
        else:
            for paragraph in _paragraphs(run, prose_pitch):
                add("prose", 0, reflow_prose([line.text for line in paragraph]), paragraph[0].page)
    return blocks
