"""PDF -> blocks (heading / prose / code) with pdfplumber, in-process or in a capped worker.

``extract_blocks`` reads each page's glyphs and closes the page at once, then rebuilds
lines, drops running headers/footers, and classifies blocks (``pipeline.pdf.structure``).
``extract_pdf_isolated`` runs the same in a spawned process with a wall-clock timeout
and an address-space cap, so one hostile file cannot hang or exhaust the run. Every
failure is a ``PdfExtractionError`` whose message names the file and the cause.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import resource
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pdfplumber
from pdfminer.layout import LTChar, LTContainer, LTCurve, LTImage, LTItem
from pdfminer.pdfdocument import PDFEncryptionError, PDFNoOutlines, PDFPasswordIncorrect, PDFTextExtractionNotAllowed
from pdfminer.psexceptions import PSEOF, PSException
from pdfplumber.page import Page, fix_fontname_bytes
from pdfplumber.utils.exceptions import PdfminerException

from pipeline.common.blocks import BLOCK_KINDS
from pipeline.pdf.blocks import Block, blocks_to_markdown, write_blocks_parquet
from pipeline.pdf.layout import Glyph, PageGlyphs, group_lines, monospace_fonts, remove_running_lines
from pipeline.pdf.structure import lines_to_blocks, normalize_title

# pdfminer logs per object at DEBUG; a host app at DEBUG level slows parsing ~100x (pdfplumber #303).
logging.getLogger("pdfminer").setLevel(logging.WARNING)

PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # the header may follow a little junk; readers accept it within 1 KB
# The artifact of one PDF: its block table and the same blocks as Markdown.
BLOCKS_FILE = "blocks.parquet"
DOCUMENT_FILE = "document.md"
MIN_BOX_SIDE = 5.0  # points; a filled shape smaller than this is a rule or a bullet, not a background


class PdfExtractionError(ValueError):
    """A PDF that cannot be extracted; the message names the file and the cause."""


@dataclass(frozen=True)
class ExtractionLimits:
    timeout_s: float = 120.0
    max_memory_mb: int = 2048
    max_pages: int = 2000
    max_bytes: int = 200_000_000

    def __post_init__(self) -> None:
        # A cap of -5 MB used to mean "no cap", 10**13 overflowed setrlimit, timeout -1 failed every PDF.
        for name, low, high in _LIMIT_RANGES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"pdf_documents.{name}: {value!r} is out of range ({low} to {high})")


# Valid ranges: one day, 1 TiB of memory and a million pages are far past any book.
_LIMIT_RANGES = (
    ("timeout_s", 0.001, 86_400),
    ("max_memory_mb", 1, 1 << 20),
    ("max_pages", 1, 1_000_000),
    ("max_bytes", 1, 1 << 40),
)


def _check_file(pdf_path: Path, limits: ExtractionLimits) -> None:
    if not pdf_path.is_file():
        raise PdfExtractionError(f"{pdf_path}: file not found")
    size = pdf_path.stat().st_size
    if size == 0:
        raise PdfExtractionError(f"{pdf_path}: the file is empty (0 bytes)")
    if size > limits.max_bytes:
        raise PdfExtractionError(f"{pdf_path}: {size} bytes is over the size limit of {limits.max_bytes} bytes")
    with open(pdf_path, "rb") as handle:
        head = handle.read(MAGIC_WINDOW)
    if PDF_MAGIC not in head:
        raise PdfExtractionError(f"{pdf_path}: not a PDF file (no '%PDF-' header in the first {MAGIC_WINDOW} bytes)")


def _parse_failure(pdf_path: Path, error: BaseException) -> PdfExtractionError:
    """Translate pdfminer's exceptions into plain words."""
    cause = error.args[0] if isinstance(error, PdfminerException) and error.args else error
    if isinstance(cause, PDFPasswordIncorrect):
        why = "the PDF is encrypted with a user password (password-protected PDFs are not supported)"
    elif isinstance(cause, PDFTextExtractionNotAllowed):  # a subclass of PDFEncryptionError
        why = "the PDF forbids text extraction"
    elif isinstance(cause, PDFEncryptionError):
        why = f"the PDF uses an unsupported encryption ({cause})"
    elif isinstance(cause, PSEOF):
        why = "the file is truncated (it ends in the middle of the PDF data)"
    elif "No /Root" in str(cause):
        why = "the file is damaged or not a real PDF (no document catalog /Root)"
    else:
        why = f"the file is damaged and could not be parsed ({type(cause).__name__}: {cause})"
    return PdfExtractionError(f"{pdf_path}: {why}")


def _outline_levels(pdf: pdfplumber.PDF) -> dict[str, int]:
    """PDF bookmarks as {normalized title: level}; empty when the PDF has no outline."""
    try:
        return {normalize_title(title): min(level, 6) for level, title, *_ in pdf.doc.get_outlines() if title}
    except PDFNoOutlines:
        return {}


def _layout_items(items: list[LTItem]):
    """pdfminer's layout objects depth first, in content-stream order (figures opened)."""
    for item in items:
        yield item
        if isinstance(item, LTContainer):
            yield from _layout_items(item._objs)


def _device_advance(char: LTChar) -> float:
    """The glyph's advance on the page, in points.

    pdfminer's ``adv`` is in text space: font size and ``Tz`` horizontal scaling applied,
    but not the text matrix or CTM. Chromium draws text at ``Tf 1`` scaled up by ``Tm``
    (and WeasyPrint through a scaled CTM), so an unscaled advance puts every column of a
    listing in the wrong place; the matrix's x scale brings it into device space.
    """
    a, b = char.matrix[0], char.matrix[1]
    advance = char.adv * math.hypot(a, b)
    return advance or (char.x1 - char.x0)


def _page_glyphs(page: Page) -> PageGlyphs:
    """A page's upright glyphs, image count and filled shapes, read from pdfminer's layout directly.

    ``page.chars`` turns every glyph into a dict of ~20 resolved attributes, about a third
    of the extraction time on the Pico SDK book; only six are needed here. Coordinates
    follow pdfplumber's own conversion (``Page.process_object``): top-down, shifted by
    the MediaBox origin.
    """
    mediabox_x0, mediabox_top = page.mediabox[:2]
    glyphs: list[Glyph] = []
    boxes: list[tuple[float, float, float, float]] = []
    images = 0
    for item in _layout_items(page.layout._objs):
        if isinstance(item, LTImage):
            images += 1
        elif isinstance(item, LTCurve) and item.fill and item.width > MIN_BOX_SIDE and item.height > MIN_BOX_SIDE:
            boxes.append(
                (
                    item.x0 + mediabox_x0,
                    page.height - item.y1 + mediabox_top,
                    item.x1 + mediabox_x0,
                    page.height - item.y0 + mediabox_top,
                )
            )
        elif isinstance(item, LTChar) and item.upright:
            font = item.fontname if isinstance(item.fontname, str) else fix_fontname_bytes(item.fontname)
            glyphs.append(
                Glyph(
                    item.get_text(),
                    font.split("+")[-1],  # drop the subset prefix ("ABCDEF+")
                    round(item.size, 2),
                    item.x0 + mediabox_x0,
                    item.x1 + mediabox_x0,
                    page.height - item.y1 + mediabox_top,
                    page.height - item.y0 + mediabox_top,
                    _device_advance(item),
                )
            )
    return PageGlyphs(page.page_number, float(page.height), glyphs, images, boxes)


def _read_pages(pdf_path: Path, limits: ExtractionLimits) -> tuple[list[PageGlyphs], dict[str, int]]:
    """Glyphs of every page (each page closed right after) and the outline."""
    try:
        with pdfplumber.open(pdf_path) as pdf:
            if len(pdf.pages) > limits.max_pages:
                raise PdfExtractionError(
                    f"{pdf_path}: {len(pdf.pages)} pages is over the page limit of {limits.max_pages}"
                )
            pages = []
            for page in pdf.pages:
                pages.append(_page_glyphs(page))
                page.close()  # drops the page's object and textmap caches
            return pages, _outline_levels(pdf)
    except (PdfminerException, PSException) as error:
        if _memory_exhausted(error):
            raise  # the memory cap, not a damaged file: the worker says so
        raise _parse_failure(pdf_path, error) from error


def _check_text_layer(pdf_path: Path, pages: list[PageGlyphs]) -> None:
    if any(page.glyphs for page in pages):
        return
    if any(page.image_count for page in pages):
        raise PdfExtractionError(
            f"{pdf_path}: no text layer, the pages are images only (a scan?); OCR is not supported"
        )
    raise PdfExtractionError(f"{pdf_path}: the PDF contains no text")


def extract_blocks(pdf_path: Path, doc_id: str, limits: ExtractionLimits | None = None) -> list[Block]:
    """Blocks of one PDF, in reading order, extracted in this process."""
    return _extract(Path(pdf_path), doc_id, limits or ExtractionLimits())[0]


def _extract(pdf_path: Path, doc_id: str, limits: ExtractionLimits) -> tuple[list[Block], int]:
    """Blocks and page count."""
    _check_file(pdf_path, limits)
    pages, outline = _read_pages(pdf_path, limits)
    _check_text_layer(pdf_path, pages)
    mono_fonts = monospace_fonts(pages)
    lines = [line for page in pages for line in group_lines(page, mono_fonts)]
    lines = remove_running_lines(lines, {page.number: page.height for page in pages})
    return lines_to_blocks(lines, doc_id, outline), len(pages)


def _memory_exhausted(error: BaseException | None) -> bool:
    """Whether an error is, or was raised while handling, a MemoryError.

    Near the cap CPython may surface the shortage as another error (SystemError).
    """
    while error is not None:
        if isinstance(error, MemoryError):
            return True
        wrapped = error.args[0] if isinstance(error, PdfminerException) and error.args else None
        if isinstance(wrapped, BaseException) and _memory_exhausted(wrapped):
            return True  # pdfplumber wraps the parser's errors in PdfminerException(error)
        error = error.__cause__ or error.__context__
    return False


def _cap_worker(limits: ExtractionLimits) -> int:
    """Cap this process's address space and CPU time; returns the address-space hard limit.

    Only the soft memory limit is capped, so the worker can lift it again to send its answer. The
    CPU cap (the wall-clock timeout plus a margin) kills a worker whose parent died and can no
    longer enforce the timeout (SIGXCPU)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limits.max_memory_mb * 1024 * 1024, hard))
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    cpu_s = math.ceil(limits.timeout_s) + 5
    if cpu_hard != resource.RLIM_INFINITY:
        cpu_s = min(cpu_s, cpu_hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_hard))
    return hard


def _worker(pdf_path: str, doc_id: str, limits: ExtractionLimits, conn) -> None:
    """Child process: cap the address space, extract, send back blocks or the error text."""
    hard = _cap_worker(limits)
    try:
        answer = ("ok", _extract(Path(pdf_path), doc_id, limits))
    except PdfExtractionError as error:
        answer = ("error", str(error))
    except Exception as error:  # any parser crash on a hostile file is reported, not raised
        if _memory_exhausted(error):
            answer = ("error", f"{pdf_path}: extraction ran out of memory (cap {limits.max_memory_mb} MB)")
        else:
            answer = ("error", f"{pdf_path}: extraction failed ({type(error).__name__}: {error})")
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    conn.send(answer)
    conn.close()


def extract_pdf_isolated(pdf_path: Path, doc_id: str, limits: ExtractionLimits | None = None) -> list[Block]:
    """``extract_blocks`` in a spawned worker with ``limits.timeout_s`` and ``limits.max_memory_mb``."""
    return _extract_isolated(Path(pdf_path), doc_id, limits or ExtractionLimits())[0]


def _extract_isolated(pdf_path: Path, doc_id: str, limits: ExtractionLimits) -> tuple[list[Block], int]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_worker, args=(str(pdf_path), doc_id, limits, sender), daemon=True)
    worker.start()
    sender.close()  # so a dead worker shows up as EOF here
    try:
        if not receiver.poll(limits.timeout_s):
            raise PdfExtractionError(f"{pdf_path}: extraction took longer than the {limits.timeout_s} s timeout")
        status, payload = receiver.recv()
    except EOFError:
        worker.join()
        raise PdfExtractionError(
            f"{pdf_path}: the extraction worker died (exit code {worker.exitcode}); "
            f"it may have hit the {limits.max_memory_mb} MB memory cap"
        ) from None
    finally:
        receiver.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
    if status == "error":
        raise PdfExtractionError(payload)
    return payload


def build_pdf_document(pdf_path: Path, doc_id: str, out_dir: Path, limits: ExtractionLimits | None = None) -> dict:
    """Extract one PDF (isolated) into ``out_dir/blocks.parquet`` and ``out_dir/document.md``."""
    started = time.perf_counter()
    blocks, page_count = _extract_isolated(Path(pdf_path), doc_id, limits or ExtractionLimits())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_blocks_parquet(blocks, out_dir / BLOCKS_FILE)
    markdown = blocks_to_markdown(blocks)
    (out_dir / DOCUMENT_FILE).write_text(markdown, encoding="utf-8")
    kinds = Counter(block.kind for block in blocks)
    return {
        "doc_id": doc_id,
        "file": Path(pdf_path).name,
        "pages": page_count,
        "blocks": len(blocks),
        "blocks_by_kind": {kind: kinds.get(kind, 0) for kind in BLOCK_KINDS},
        "code_blocks": kinds.get("code", 0),
        "characters": sum(len(block.text) for block in blocks),
        "seconds": round(time.perf_counter() - started, 3),
        "preview": markdown[:1500],
    }
