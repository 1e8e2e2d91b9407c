"""Render the sample inbox: ``data/pdf_sources/*.md`` -> ``data/pdfs/*.pdf`` with fpdf2.

The Markdown files are the ground truth for the extraction tests, so the PDFs carry
the layout traits real books have and the extractor must undo:

* body text in Helvetica, headings in larger bold Helvetica, inline code in Courier;
* code listings in Courier, indentation drawn as x offsets (no leading space glyphs),
  on a light gray background;
* a running header (document title) and a footer with the page number on every page;
* ``<!-- listing-numbers -->`` at the top: listing line numbers in a gutter, padded
  with non-breaking spaces like Asciidoctor output;
* ``<!-- no-outline -->``: no PDF outline (bookmarks), so headings come from fonts only;
* ``<!-- code-crosses-page -->`` before a listing: the listing starts near the page
  bottom so that it is split by a page break;
* ```` ```pycon ```` blocks: a REPL session with ``>>>`` prompts and printed output.

Usage: ``python scripts/make_sample_pdfs.py [--sources DIR] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = REPO / "data" / "pdf_sources"
DEFAULT_OUT = REPO / "data" / "pdfs"

BODY_SIZE = 10.0
CODE_SIZE = 9.0
CODE_LINE_HEIGHT = 11.0
BODY_LINE_HEIGHT = 13.0
HEADING_SIZES = {1: 18.0, 2: 13.0, 3: 11.0}
CODE_ADVANCE = 0.6 * CODE_SIZE  # Courier glyphs are 600/1000 em wide
LINES_BEFORE_FORCED_BREAK = 4
A5_POINTS = (419.53, 595.28)  # ISO 216 A5, 148 x 210 mm
FIXED_DATE = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class SampleBlock:
    kind: str  # heading | prose | code
    text: str
    level: int = 0
    lang: str = ""  # fence language of code blocks: python | pycon
    crosses_page: bool = False


@dataclass
class SampleDocument:
    title: str
    blocks: list[SampleBlock]
    listing_numbers: bool = False
    outline: bool = True


def parse_sample_markdown(text: str) -> SampleDocument:
    """Parse the small Markdown subset the sample sources use (headings, paragraphs, fences)."""
    blocks: list[SampleBlock] = []
    directives: set[str] = set()
    paragraph: list[str] = []
    pending_break = False
    lines = text.splitlines()
    i = 0

    def flush_paragraph() -> None:
        if paragraph:
            blocks.append(SampleBlock("prose", " ".join(paragraph)))
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        directive = re.fullmatch(r"<!--\s*([a-z-]+)\s*-->", line.strip())
        if directive:
            flush_paragraph()
            if directive.group(1) == "code-crosses-page":
                pending_break = True
            else:
                directives.add(directive.group(1))
        elif line.startswith("```"):
            flush_paragraph()
            lang = line[3:].strip()
            end = lines.index("```", i + 1)
            blocks.append(SampleBlock("code", "\n".join(lines[i + 1 : end]), lang=lang, crosses_page=pending_break))
            pending_break = False
            i = end
        elif heading := re.match(r"(#{1,6}) (.+)", line):
            flush_paragraph()
            blocks.append(SampleBlock("heading", heading.group(2).strip(), level=len(heading.group(1))))
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush_paragraph()
        i += 1
    flush_paragraph()
    title = next(b.text for b in blocks if b.kind == "heading" and b.level == 1)
    return SampleDocument(title, blocks, "listing-numbers" in directives, "no-outline" not in directives)


def listing_ground_truth(block: SampleBlock) -> str:
    """What extraction must return for a listing: a REPL session keeps only the typed lines."""
    if block.lang != "pycon":
        return block.text
    typed = [line[4:] for line in block.text.splitlines() if line.startswith((">>> ", "... "))]
    return "\n".join(typed).strip("\n")


class SamplePdf(FPDF):
    """An A5 page with a running header (title) and footer (page number)."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="pt", format=A5_POINTS)
        self.doc_title = title
        self.set_margins(left=42, top=56, right=42)
        self.c_margin = 0  # no padding inside cells: prose is laid out from word pieces
        self.set_auto_page_break(auto=True, margin=52)
        self.set_title(title)
        self.set_creator("mpyforge scripts/make_sample_pdfs.py")

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_y(22)
        self.cell(0, 10, self.doc_title, align="R")
        self.set_y(self.t_margin)

    def footer(self) -> None:
        self.set_y(-30)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 10, f"Page {self.page_no()}", align="C")


def _write_prose(pdf: SamplePdf, text: str) -> None:
    """A paragraph in Helvetica; `backticked` spans in Courier inside the line.

    Lines are broken at spaces here (fpdf2's ``write()`` may split a word where the
    font changes, which no real book does).
    """
    words: list[tuple[str, str]] = []  # (font, word); a word may mix fonts: "(`x`)" -> 3 pieces
    for n, part in enumerate(re.split(r"`([^`]+)`", text)):
        font = "Courier" if n % 2 else "Helvetica"
        for i, piece in enumerate(part.split(" ")):
            if i > 0 or not words:
                words.append(("", " "))  # a break opportunity
            if piece:
                words.append((font, piece))

    def width(font: str, piece: str) -> float:
        pdf.set_font(font or "Helvetica", "", BODY_SIZE)
        return pdf.get_string_width(piece)

    lines: list[list[tuple[str, str]]] = [[]]
    used = 0.0
    for index, (font, piece) in enumerate(words):
        if font == "":  # measure the whole word that follows this space
            following = next((i for i in range(index + 1, len(words)) if words[i][0] == ""), len(words))
            word_width = sum(width(f, p) for f, p in words[index + 1 : following])
            if lines[-1] and used + width("", " ") + word_width > pdf.epw:
                lines.append([])
                used = 0.0
                continue
            if not lines[-1]:
                continue
        lines[-1].append((font, piece))
        used += width(font, piece)
    for line in lines:
        pdf.set_x(pdf.l_margin)
        for font, piece in line:
            pdf.set_font(font or "Helvetica", "", BODY_SIZE)
            pdf.cell(text=piece, h=BODY_LINE_HEIGHT)
        pdf.ln(BODY_LINE_HEIGHT)
    pdf.ln(BODY_LINE_HEIGHT * 0.7)


def _write_heading(pdf: SamplePdf, block: SampleBlock, outline: bool) -> None:
    if pdf.get_y() > pdf.page_break_trigger - 80:
        pdf.add_page()  # keep a heading together with the text that follows it
    if outline:
        pdf.start_section(block.text, level=block.level - 1)
    size = HEADING_SIZES.get(block.level, BODY_SIZE)
    pdf.set_font("Helvetica", "B", size)
    pdf.ln(size * 0.4)
    pdf.multi_cell(0, size * 1.3, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(size * 0.5)


def _page_starts(lines: list[str], first_capacity: int, capacity: int) -> set[int]:
    """Indices of the listing lines that begin a new page.

    A break never touches a blank line: a blank line at the bottom or top of a page
    leaves no trace in the PDF, so the ground truth could not be recovered from it.
    """
    starts: set[int] = set()
    start, room = 0, first_capacity
    while start + room < len(lines):
        cut = start + room
        while cut > start + 1 and not (lines[cut].strip() and lines[cut - 1].strip()):
            cut -= 1
        starts.add(cut)
        start, room = cut, capacity
    return starts


def _write_code(pdf: SamplePdf, block: SampleBlock, listing_numbers: bool) -> None:
    if block.crosses_page:
        near_bottom = pdf.page_break_trigger - LINES_BEFORE_FORCED_BREAK * CODE_LINE_HEIGHT - 2
        if pdf.get_y() > near_bottom:
            pdf.add_page()
        pdf.set_y(near_bottom)
    pdf.set_font("Courier", "", CODE_SIZE)
    pdf.set_fill_color(235, 235, 235)
    lines = block.text.split("\n")
    gutter_width = len(str(len(lines))) + 1 if listing_numbers else 0
    page_capacity = int((pdf.page_break_trigger - pdf.t_margin) // CODE_LINE_HEIGHT)
    first_capacity = int((pdf.page_break_trigger - pdf.get_y()) // CODE_LINE_HEIGHT)
    page_starts = _page_starts(lines, first_capacity, page_capacity)
    for index, line in enumerate(lines):
        if index in page_starts:
            pdf.add_page()
        y = pdf.get_y()
        pdf.rect(pdf.l_margin, y, pdf.epw, CODE_LINE_HEIGHT, style="F")
        if listing_numbers:
            pdf.set_xy(pdf.l_margin, y)
            pdf.cell(text=str(index + 1).rjust(gutter_width - 1, "\xa0"))
        stripped = line.lstrip(" ")
        if stripped:
            indent = len(line) - len(stripped)
            pdf.set_xy(pdf.l_margin + (gutter_width + indent) * CODE_ADVANCE, y)
            pdf.cell(text=stripped)
        pdf.set_xy(pdf.l_margin, y + CODE_LINE_HEIGHT)
    pdf.ln(BODY_LINE_HEIGHT)


def render_pdf(document: SampleDocument, out_path: Path) -> None:
    pdf = SamplePdf(document.title)
    pdf.set_creation_date(FIXED_DATE)  # keep the committed files byte-stable across runs
    pdf.add_page()
    for block in document.blocks:
        if block.kind == "heading":
            _write_heading(pdf, block, document.outline)
        elif block.kind == "prose":
            _write_prose(pdf, block.text)
        else:
            _write_code(pdf, block, document.listing_numbers)
    pdf.output(str(out_path))


def make_sample_pdfs(sources: Path = DEFAULT_SOURCES, out_dir: Path = DEFAULT_OUT) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for md_path in sorted(sources.glob("*.md")):
        document = parse_sample_markdown(md_path.read_text(encoding="utf-8"))
        out_path = out_dir / f"{md_path.stem}.pdf"
        render_pdf(document, out_path)
        written.append(out_path)
    if not written:
        raise ValueError(f"{sources}: no .md sample sources found")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for path in make_sample_pdfs(args.sources, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
