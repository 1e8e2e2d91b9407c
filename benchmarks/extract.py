"""PDF extraction benchmark: our extractor vs plain pdfplumber ``page.extract_text()``.

Everything runs on the same files in the same run:

* accuracy, per file with ground truth (the sample inbox against its Markdown sources,
  the typeset fixtures in ``data/typeset_fixtures`` against theirs, and the real PDFs in
  ``../shared/realpdf`` with a ``*.truth.md``): blocks exact and line F1
  (``pipeline.pdf.scoring``). Plain text has no blocks, so it is credited generously
  (a block counts when its text occurs anywhere in the page texts);
* speed per core, in this one process: pages/s of ours and of plain text (best of
  ``--repeats``);
* library scale: ``build_pdf_document`` (one spawned worker per PDF, parquet and
  Markdown written) N PDFs at a time, as N partition runs execute side by side, on the
  real PDFs repeated to at least ``--min-pages`` pages, with 1 worker and with N (default:
  the cores), and plain text over the same files with the same pool shape, so the scaling
  and per-core ratio come from one run.

Run it on a quiet machine (``flock /tmp/mpyforge-cpu.lock``): the N-worker number needs the
cores to itself. Usage: ``python -m benchmarks.extract [--repeats 3] [--min-pages 500]`` (from the repository root).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pdfplumber

from pipeline.pdf.extract import ExtractionLimits, build_pdf_document, extract_blocks
from pipeline.pdf.scoring import score_blocks, score_plain_text, truth_blocks
from scripts.make_sample_pdfs import listing_ground_truth, parse_sample_markdown

REPO = Path(__file__).resolve().parents[1]

REAL_PDFS = REPO.parent / "shared" / "realpdf"
FIXTURES = REPO / "data" / "typeset_fixtures"


def sample_truth(md_path: Path) -> list[str]:
    document = parse_sample_markdown(md_path.read_text(encoding="utf-8"))
    return [listing_ground_truth(block) for block in document.blocks if block.kind == "code"]


def truth_sets() -> list[tuple[str, Path, list[str]]]:
    """(label, pdf, truth blocks) for every PDF with ground truth that is present."""
    sets = [
        (f"sample: {md.stem}", REPO / "data" / "pdfs" / f"{md.stem}.pdf", sample_truth(md))
        for md in sorted((REPO / "data" / "pdf_sources").glob("*.md"))
    ]
    for folder, label, suffix in ((FIXTURES, "fixture", ".md"), (REAL_PDFS, "realpdf", ".truth.md")):
        for truth in sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []:
            stem = truth.name.removesuffix(suffix)
            sets.append((f"{label}: {stem}", folder / f"{stem}.pdf", truth_blocks(truth.read_text(encoding="utf-8"))))
    return sets


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


def accuracy_row(label: str, pdf_path: Path, truth: list[str], repeats: int) -> dict:
    text, pages = plain_text(pdf_path)
    code = [b.text for b in extract_blocks(pdf_path, pdf_path.stem) if b.kind == "code"]
    return {
        "label": label,
        "pages": pages,
        "ours": score_blocks(code, truth),
        "plain": score_plain_text(text, truth),
        "plain_s": best_seconds(lambda: plain_text(pdf_path), repeats),
        "ours_s": best_seconds(lambda: extract_blocks(pdf_path, pdf_path.stem), repeats),
    }


def accuracy_table(rows: list[dict]) -> str:
    lines = [
        "| file | pages | truth blocks | exact: plain | exact: ours | line F1: plain | line F1: ours "
        "| plain p/s | ours p/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ours, plain = r["ours"], r["plain"]
        lines.append(
            f"| {r['label']} | {r['pages']} | {ours.truth_blocks} | {plain.blocks_exact:.3f} | "
            f"{ours.blocks_exact:.3f} | {plain.line_f1:.3f} | {ours.line_f1:.3f} | "
            f"{r['pages'] / r['plain_s']:.1f} | {r['pages'] / r['ours_s']:.1f} |"
        )
    return "\n".join(lines)


def library(min_pages: int) -> list[Path]:
    """The real PDFs (or the sample inbox without them) repeated to at least ``min_pages`` pages."""
    pdfs = sorted(REAL_PDFS.glob("*.pdf")) if REAL_PDFS.is_dir() else sorted((REPO / "data" / "pdfs").glob("*.pdf"))
    sizes = {pdf: plain_text(pdf)[1] for pdf in pdfs}
    chosen: list[Path] = []
    while sum(sizes[p] for p in chosen) < min_pages:
        chosen.extend(pdfs)
    return chosen


def plain_pages(pdf_path: Path) -> int:
    return plain_text(pdf_path)[1]


def extract_library(jobs: list[tuple[Path, str, Path]], workers: int) -> None:
    """Every PDF in its own spawned worker, ``workers`` at a time (a thread per slot only waits on its
    worker's pipe), the way ``workers`` pdf_documents partition runs extract side by side."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda job: build_pdf_document(*job, ExtractionLimits()), jobs))


def scaling(files: list[Path], workers: int) -> dict:
    """Seconds for ours (the pool, parquet and Markdown written) and plain text, 1 and N workers."""
    pages = sum(plain_pages(p) for p in files)
    out = {"pages": pages, "pdfs": len(files), "workers": workers}
    with tempfile.TemporaryDirectory(prefix="mpyforge-bench-") as tmp:
        jobs = [(p, f"doc{i}", Path(tmp) / f"doc{i}") for i, p in enumerate(files)]
        for n in (1, workers):
            started = time.perf_counter()
            extract_library(jobs, n)  # a PdfExtractionError ends the benchmark with its cause
            out[f"ours_{n}"] = time.perf_counter() - started
            started = time.perf_counter()
            with ProcessPoolExecutor(max_workers=n) as pool:
                list(pool.map(plain_pages, files))
            out[f"plain_{n}"] = time.perf_counter() - started
    return out


def scaling_table(s: dict) -> str:
    n, pages = s["workers"], s["pages"]
    rate = {k: pages / s[k] for k in ("ours_1", f"ours_{n}", "plain_1", f"plain_{n}")}
    return "\n".join(
        [
            f"{s['pdfs']} PDFs, {pages} pages, N = {n} workers",
            "",
            "| extractor | 1 worker p/s | N workers p/s | scaling | p/s per core (N) |",
            "|---|---:|---:|---:|---:|",
            f"| plain `extract_text()` | {rate['plain_1']:.1f} | {rate[f'plain_{n}']:.1f} | "
            f"{rate[f'plain_{n}'] / rate['plain_1']:.2f} | {rate[f'plain_{n}'] / n:.1f} |",
            f"| ours (`build_pdf_document`, N at a time) | {rate['ours_1']:.1f} | {rate[f'ours_{n}']:.1f} | "
            f"{rate[f'ours_{n}'] / rate['ours_1']:.2f} | {rate[f'ours_{n}'] / n:.1f} |",
            "",
            f"ours / plain per core: 1 worker {rate['ours_1'] / rate['plain_1']:.2f}, "
            f"N workers {rate[f'ours_{n}'] / rate[f'plain_{n}']:.2f}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-pages", type=int, default=500)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args(argv)
    rows = [accuracy_row(label, pdf, truth, args.repeats) for label, pdf, truth in truth_sets()]
    print(accuracy_table(rows))
    pages, plain_s, ours_s = (sum(r[k] for r in rows) for k in ("pages", "plain_s", "ours_s"))
    print(
        f"\nin-process, all {pages} pages: plain {pages / plain_s:.1f} p/s, ours {pages / ours_s:.1f} p/s, "
        f"ours / plain {plain_s / ours_s:.2f}\n"
    )
    print(scaling_table(scaling(library(args.min_pages), args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
