"""PDF extraction benchmark: our extractor vs plain pdfplumber ``page.extract_text()``.

Both run in this one process (one core), on the same files, in the same run:

* pages/s per core (best of ``--repeats`` runs, so a busy shared machine hurts less);
* code-block exact-match rate on the sample inbox, against the Markdown sources.
  The baseline has no notion of blocks, so it is credited generously: a listing counts
  as found when its exact text occurs anywhere in the page texts joined by newlines.

Real PDFs from ``/work/shared/realpdf`` (no ground truth) are timed when present, and
their code blocks that contain ``import `` are compiled with the real ``mpy-cross``.
Usage: ``python benchmarks/extract.py [--repeats 3]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pdfplumber

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.pairs.mpy_compile import compile_many  # noqa: E402
from pipeline.pdf.extract import ExtractionLimits, extract_blocks  # noqa: E402
from scripts.make_sample_pdfs import listing_ground_truth, parse_sample_markdown  # noqa: E402

REAL_PDFS = REPO.parent / "shared" / "realpdf"


def expected_listings(md_path: Path) -> list[str]:
    document = parse_sample_markdown(md_path.read_text(encoding="utf-8"))
    return [listing_ground_truth(block) for block in document.blocks if block.kind == "code"]


def plain_text(pdf_path: Path) -> tuple[str, int]:
    with pdfplumber.open(pdf_path) as pdf:
        texts = []
        for page in pdf.pages:
            texts.append(page.extract_text())
            page.close()
        return "\n".join(texts), len(texts)


def best_seconds(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def measure(pdf_path: Path, repeats: int, listings: list[str] | None) -> dict:
    limits = ExtractionLimits()
    text, pages = plain_text(pdf_path)
    blocks = extract_blocks(pdf_path, pdf_path.stem, limits)
    row = {
        "file": pdf_path.name,
        "pages": pages,
        "plain_s": best_seconds(lambda: plain_text(pdf_path), repeats),
        "ours_s": best_seconds(lambda: extract_blocks(pdf_path, pdf_path.stem, limits), repeats),
        "listings": len(listings) if listings is not None else None,
    }
    if listings is not None:
        ours = [b.text for b in blocks if b.kind == "code"]
        row["ours_exact"] = sum(listing in ours for listing in listings)
        row["plain_exact"] = sum(listing in text for listing in listings)
    else:
        programs = [b.text for b in blocks if b.kind == "code" and "import " in b.text]
        row["programs"] = len(programs)
        row["compiling"] = sum(result.ok for result in compile_many(programs))
    return row


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| file | pages | plain p/s | ours p/s | ours / plain | listings | exact: plain | exact: ours |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        plain_rate, ours_rate = r["pages"] / r["plain_s"], r["pages"] / r["ours_s"]
        exact = ("–", "–") if r["listings"] is None else (r["plain_exact"], r["ours_exact"])
        lines.append(
            f"| {r['file']} | {r['pages']} | {plain_rate:.1f} | {ours_rate:.1f} | {ours_rate / plain_rate:.2f} "
            f"| {r['listings'] if r['listings'] is not None else '–'} | {exact[0]} | {exact[1]} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for md_path in sorted((REPO / "data" / "pdf_sources").glob("*.md")):
        rows.append(measure(REPO / "data" / "pdfs" / f"{md_path.stem}.pdf", args.repeats, expected_listings(md_path)))
    if REAL_PDFS.is_dir():
        for pdf_path in sorted(REAL_PDFS.glob("*.pdf")):
            rows.append(measure(pdf_path, 1, None))
    print(markdown_table(rows))
    sample = [r for r in rows if r["listings"] is not None]
    total = sum(r["listings"] for r in sample)
    print(
        f"\nsample inbox: {total} listings, exact plain {sum(r['plain_exact'] for r in sample)}, "
        f"exact ours {sum(r['ours_exact'] for r in sample)}"
    )
    pages, plain_s, ours_s = (sum(r[k] for r in rows) for k in ("pages", "plain_s", "ours_s"))
    for r in rows:
        if "programs" in r:
            print(f"{r['file']}: {r['compiling']}/{r['programs']} code blocks with 'import ' compile with mpy-cross")
    print(
        f"all files: {pages} pages, plain {pages / plain_s:.1f} p/s, ours {pages / ours_s:.1f} p/s, "
        f"ratio {plain_s / ours_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
