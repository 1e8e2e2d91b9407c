"""Many PDFs at once: one PDF per worker process, up to ``workers`` processes at a time.

Each PDF is still extracted by ``build_pdf_document`` in its own spawned worker with the
timeout and memory cap of ``ExtractionLimits``, so one hostile file fails alone and a
crash never takes a neighbour with it. A thread per slot only waits on its worker's pipe
(no Python work, so the GIL is not a bottleneck); the parsing runs in the worker
processes, one core each. Workers default to the cores this process may use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pipeline.pdf.extract import ExtractionLimits, PdfExtractionError, build_pdf_document


@dataclass(frozen=True)
class PdfJob:
    pdf_path: Path
    doc_id: str
    out_dir: Path


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def _build(job: PdfJob, limits: ExtractionLimits) -> dict | PdfExtractionError:
    try:
        return build_pdf_document(job.pdf_path, job.doc_id, job.out_dir, limits)
    except PdfExtractionError as error:
        return error


def build_pdf_documents(
    jobs: Sequence[PdfJob], limits: ExtractionLimits | None = None, workers: int | None = None
) -> list[dict | PdfExtractionError]:
    """``build_pdf_document`` for every job, ``workers`` at a time; results in job order.

    A PDF that cannot be extracted gives its ``PdfExtractionError`` in its place, the
    others are unaffected.
    """
    limits = limits or ExtractionLimits()
    with ThreadPoolExecutor(max_workers=max(1, workers or default_workers())) as pool:
        return list(pool.map(lambda job: _build(job, limits), jobs))
