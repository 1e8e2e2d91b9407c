"""The PDF inbox the code location and `mpyforge run` share: its folder and its partitions.

One partition of `pdf_documents` per PDF; the sensor keeps them in step with the folder, and
`mpyforge run` (and tests) do the same before their in-process runs.
"""

import os
from pathlib import Path

import dagster as dg

from pipeline.pdf.inbox import inbox_paths

pdf_partitions = dg.DynamicPartitionsDefinition(name="pdfs")


def pdf_inbox() -> Path:
    """The PDF inbox: ``$MPYFORGE_PDF_INBOX`` or ``data/pdfs``. The one answer for the asset, the
    sensor and `mpyforge run`; run config cannot move it, or the sensor would see another
    folder's PDFs as deleted and drop their partitions."""
    return Path(os.environ.get("MPYFORGE_PDF_INBOX", "data/pdfs"))


def partition_changes(instance: dg.DagsterInstance, keys: set[str]) -> tuple[list[str], list[str]]:
    """The partition keys to add and to remove for the inbox's current keys."""
    known = set(instance.get_dynamic_partitions(pdf_partitions.name))
    return sorted(keys - known), sorted(known - keys)


def sync_pdf_partitions(instance: dg.DagsterInstance) -> None:
    """What the sensor does to partitions, for in-process runs (`mpyforge run`) and tests."""
    added, removed = partition_changes(instance, set(inbox_paths(pdf_inbox())))
    if added:
        instance.add_dynamic_partitions(pdf_partitions.name, added)
    for key in removed:
        instance.delete_dynamic_partition(pdf_partitions.name, key)
